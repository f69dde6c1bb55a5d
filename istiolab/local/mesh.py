"""The running local mesh: config store + xDS server + pods, owned by one supervisor.

`Mesh.start()` checks that its addresses are free, starts the xDS server on
``<istiod ip>:15010``, the control API on the state directory's socket, the ingress gateway
Envoy, then every pod of the stored Deployments (the app process, plus a real Envoy sidecar
when the namespace is labelled ``istio-injection=enabled``) and waits until all are ready.
`Mesh.apply()` validates, commits, reconciles pods (start/stop what changed), pushes xDS and
waits until the proxies ACK. `Mesh.stop()` stops every process by PID.

Host facts are read here, once, never by translation: `start()` records in
``settings.privileged_ports`` whether processes may bind ports below 1024 (root, or
``net.ipv4.ip_unprivileged_port_start=0``; ``ISTIOLAB_PRIVILEGED_PORTS`` forces it). When they
may not, a sidecar pod's port below 1024 (sleep's 80) gets no inbound listener and its app
serves it on the pod IP itself: callers reach the app directly, without its sidecar, and
`status` says so per pod (``notes``). Names: pods without a sidecar resolve Services through
``hosts.json`` in the state directory (``ISTIOLAB_HOSTS_FILE``), rewritten atomically on
every change and re-read by the app when it changed, so Services created later resolve.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from istiolab.errors import NotFoundError
from istiolab.local import envoy
from istiolab.local.control import ControlServer
from istiolab.local.model import (
    ADMIN_PORT,
    OUTBOUND_PORT,
    XDS_PORT,
    MeshSettings,
    Pod,
    Proxy,
    ProxyResources,
    Registry,
)
from istiolab.local.registry import gateway_pod
from istiolab.local.state import StateDir, write_json
from istiolab.local.supervisor import (
    Managed,
    ProcessSpec,
    Supervisor,
    can_bind_privileged_ports,
    check_port_free,
    kill_recorded,
)

Reporter = Callable[[str, str], None]  # (event kind, message)

GATEWAY_NAME = "istio-ingressgateway"
PROXY_SUFFIX = "/istio-proxy"


def check_images(objects: Iterable[Mapping[str, Any]]) -> None:
    """Refuse (before anything is applied) a Deployment whose image has no implementation."""
    from istiolab.workloads import images

    for o in objects:
        if o.get("kind") != "Deployment":
            continue
        meta = o.get("metadata") or {}
        where = f"{meta.get('namespace') or 'default'}/{meta.get('name', '?')}"
        containers = ((((o.get("spec") or {}).get("template") or {}).get("spec")) or {}).get(
            "containers"
        ) or []
        for c in containers:
            if isinstance(c, Mapping):
                images.resolve(str(c.get("image") or ""), deployment=where)


def hosts_map(registry: Registry) -> dict[str, list[str]]:
    """What kube DNS + kube-proxy give a pod without a sidecar: ``fqdn:port`` -> pod ip:port."""
    out: dict[str, list[str]] = {}
    for svc in registry.services:
        pods = registry.endpoints(svc)
        for port in svc.ports:
            out[f"{svc.fqdn}:{port.port}"] = [f"{p.ip}:{port.target_port}" for p in pods]
    return out


def pod_notes(pod: Pod, registry: Registry, settings: MeshSettings) -> list[str]:
    """What `status` says about a pod that does not run as on a cluster: its ports below
    1024 when this machine cannot bind them (``settings.privileged_ports is False``)."""
    from istiolab.local.translate.listeners import pod_ports, uncaptured

    if not pod.sidecar:
        return []
    return [
        f"port {port}: not captured by the sidecar (binding ports below 1024 needs root or "
        "net.ipv4.ip_unprivileged_port_start=0); the app listens on the pod IP itself, so "
        "callers reach it directly, without its sidecar"
        for port in sorted(pod_ports(pod, registry.services))
        if uncaptured(port, settings)
    ]


def listen_ip(pod: Pod, port: int, settings: MeshSettings) -> str:
    """Where the app serves a port: the pod-local address behind the sidecar, or the pod IP
    (no sidecar, or a port the sidecar cannot capture, see :func:`pod_notes`)."""
    from istiolab.local.translate.listeners import uncaptured

    return pod.ip if uncaptured(port, settings) else pod.app_ip


@dataclass
class PodState:
    pod: Pod
    processes: list[str] = field(default_factory=list)  # supervisor names
    notes: list[str] = field(default_factory=list)  # see pod_notes


class Mesh:
    """One running local mesh instance. Thread-safe; used by the control API and `up`."""

    def __init__(
        self,
        state: StateDir,
        settings: MeshSettings,
        reporter: Reporter | None = None,
        envoy_binary: str | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.state = state
        self.settings = settings
        self.report: Reporter = reporter or (lambda kind, msg: None)
        self.envoy_binary = envoy_binary
        self.ready_timeout = ready_timeout
        self.phase = "stopped"
        self.started_at = 0.0
        self.shutdown_requested = threading.Event()
        self._lock = threading.RLock()  # guards the snapshot below; held briefly
        self._apply_lock = threading.RLock()  # serialises apply/delete/reconcile
        self._pods: dict[str, PodState] = {}  # "<ns>/<pod name>" -> state
        self._proxies: dict[str, Proxy] = {}  # node id -> proxy
        self._objects: list[dict] = []
        self._registry = Registry()
        self._generation = 0
        self._gateway = gateway_pod(settings)
        self._cache: dict[str, tuple[int, ProxyResources]] = {}
        self._index: tuple[int, Any] | None = None  # (generation, MeshIndex) of the push
        self.store: Any = None
        self.xds: Any = None
        self.supervisor: Supervisor | None = None
        self.control: ControlServer | None = None

    # lifecycle
    def start(self) -> None:
        from istiolab.local.store import ConfigStore
        from istiolab.local.xds import XdsServer

        self.phase = "starting"
        self.started_at = time.time()
        self.state.create()
        self.state.save_settings(self.settings)
        if self.settings.privileged_ports is None:  # decided once, here; translation reads it
            self.settings = replace(self.settings, privileged_ports=can_bind_privileged_ports())
        self.envoy_binary = self.envoy_binary or envoy.find_envoy()
        # processes left by a supervisor that was killed (they hold our addresses)
        leftovers = kill_recorded(self.state.read_processes())
        if leftovers:
            self.report(
                "process", f"stopped {len(leftovers)} processes left by a killed supervisor"
            )
        s = self.settings
        for host, port, what in (
            (s.gateway_host, s.gateway_http_port, "the ingress gateway (HTTP)"),
            (s.gateway_host, s.gateway_https_port, "the ingress gateway (HTTPS)"),
            (s.istiod_ip, XDS_PORT, "the xDS server"),
            (s.gateway_pod_ip, ADMIN_PORT, "the ingress gateway's admin API"),
        ):
            check_port_free(host, port, what)
        self.store = ConfigStore(self.state.root)
        self.supervisor = Supervisor(self.state.processes_file, on_event=self._on_process_event)
        try:
            self.xds = XdsServer(s.istiod_ip, XDS_PORT, self._resources_for)
            self.xds.start()
            self.report("control", f"xDS server on {s.istiod_ip}:{XDS_PORT}")
            self.control = ControlServer(self.state.socket, self.routes())
            self.control.start()
            self.state.write_pid()
            self._reconcile(initial=True)
            self.phase = "running"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (SIGTERM, grace, SIGKILL), the xDS server and the control API."""
        self.phase = "stopping"
        if self.control is not None:
            self.control.stop()
        if self.supervisor is not None:
            self.supervisor.close(grace=5)
        if self.xds is not None:
            with contextlib.suppress(Exception):
                self.xds.stop()
        with contextlib.suppress(OSError):
            write_json(self.state.processes_file, [])
        self.state.clear_runtime()
        self.phase = "stopped"

    # config changes
    def apply(self, objects: list[dict], source: str = "<apply>") -> dict:
        check_images(objects)
        with self._apply_lock:
            lines = self.store.apply(objects, source)
            return {"lines": lines, **self._reconcile()}

    def delete(self, refs: list[tuple[str, str, str]]) -> dict:
        with self._apply_lock:
            lines: list[str] = []
            missing: list[str] = []  # like kubectl: delete what exists, report the rest
            for kind, name, namespace in refs:
                try:
                    lines.append(self.store.delete(kind, name, namespace))
                except NotFoundError as exc:
                    missing.append(str(exc))
            if not lines and missing:
                raise NotFoundError("; ".join(missing))
            return {"lines": lines, "errors": missing, **self._reconcile()}

    # xDS callback
    def _resources_for(self, node_id: str) -> ProxyResources | None:
        """One proxy's resources for the current generation. Every proxy of a push shares
        one MeshIndex (lookups, and the outbound clusters and routes of proxies that see the
        same hosts), so a push costs one translation per namespace, not per proxy."""
        from istiolab.local.translate import MeshIndex, build_resources

        with self._lock:
            proxy = self._proxies.get(node_id)
            if proxy is None:
                return None
            generation = self._generation
            cached = self._cache.get(node_id)
            if cached is not None and cached[0] == generation:
                return cached[1]
            objects, registry = self._objects, self._registry
            if self._index is None or self._index[0] != generation:
                self._index = (generation, MeshIndex(objects, registry, self.settings))
            index = self._index[1]
        resources = build_resources(objects, registry, proxy, self.settings, index=index)
        with self._lock:
            if self._generation == generation:
                self._cache[node_id] = (generation, resources)
        return resources

    # reconciliation
    def _reconcile(self, initial: bool = False) -> dict:
        with self._apply_lock:
            return self._reconcile_locked(initial)

    def _reconcile_locked(self, initial: bool) -> dict:
        from istiolab.local.registry import build_registry

        t0 = time.perf_counter()
        objects = [dict(o) for o in self.store.objects()]
        allocations = self.state.read_allocations()
        registry, allocations = build_registry(objects, self.settings, allocations)
        write_json(self.state.allocations_file, dict(allocations))
        # pods without a sidecar resolve names from this file and re-read it when it changes
        write_json(self.state.hosts_file, hosts_map(registry))
        gw = next((p for p in registry.pods if p.labels.get("istio") == "ingressgateway"), None)
        gateway = gw or gateway_pod(self.settings)
        self._gateway = gateway
        workload_pods = [p for p in registry.pods if p is not gw]
        desired = {f"{p.namespace}/{p.name}": p for p in workload_pods}
        with self._lock:
            self._objects = objects
            self._registry = registry
            self._generation += 1
            proxies = {Proxy("router", gateway).node_id: Proxy("router", gateway)}
            for p in workload_pods:
                if p.sidecar:
                    proxies[Proxy("sidecar", p).node_id] = Proxy("sidecar", p)
            self._proxies = proxies
            stop = [k for k, st in self._pods.items() if desired.get(k) != st.pod]
            start = [p for k, p in desired.items() if k not in self._pods or k in stop]
        # removed/changed pods leave the endpoints first, then stop
        self.xds.push()
        for key in stop:
            st = self._pods.pop(key)
            assert self.supervisor is not None
            self.supervisor.stop(st.processes)
            self.report("pod", f"{key} stopped")
        names: list[str] = []
        if initial or self.supervisor.get(GATEWAY_NAME) is None:  # type: ignore[union-attr]
            names.append(self._start_gateway(gateway))
        for pod in start:
            st = PodState(pod, self._start_pod(pod))
            st.notes = pod_notes(pod, registry, self.settings)
            self._pods[f"{pod.namespace}/{pod.name}"] = st
            names += st.processes
        self._wait(names)
        # every proxy has the newest config: ACKed (or NACKed) by all of them
        synced = self._wait_synced(list(proxies))
        elapsed = time.perf_counter() - t0
        return {
            "started": [f"{p.namespace}/{p.name}" for p in start],
            "stopped": stop,
            "proxies": len(proxies),
            "synced": synced,
            "seconds": round(elapsed, 4),
        }

    def _wait(self, names: list[str]) -> None:
        assert self.supervisor is not None
        pending = list(names)
        deadline = time.monotonic() + self.ready_timeout
        delay = 0.005
        while pending:
            if self.shutdown_requested.is_set() and self.phase == "starting":
                raise KeyboardInterrupt  # Ctrl-C / SIGTERM / `down` while starting
            done = [n for n in pending if self.supervisor.is_ready(n)]
            for n in done:
                pending.remove(n)
                self._report_ready(n)
            if not pending:
                break
            if time.monotonic() > deadline:
                # let the supervisor explain (exit code, log tail)
                self.supervisor.wait_ready(pending, timeout=0.01)
            for n in pending:
                m = self.supervisor.get(n)
                if m is not None and m.popen.poll() is not None and m.restarts >= 2:
                    self.supervisor.wait_ready([n], timeout=0.01)  # raises with the log tail
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def _report_ready(self, name: str) -> None:
        m = self.supervisor.get(name) if self.supervisor else None
        if m is None:
            return
        labels = dict(m.spec.labels)
        if labels.get("role") == "sidecar":
            self.report("proxy", f"{labels['pod']} sidecar ready (admin {labels['ip']}:15000)")
        elif labels.get("role") == "gateway":
            s = self.settings
            self.report(
                "proxy",
                f"istio-system/{GATEWAY_NAME} ready "
                f"(http://{s.gateway_host}:{s.gateway_http_port})",
            )
        else:
            self.report("pod", f"{labels.get('pod')} ready ({labels.get('listen') or 'client'})")

    def _wait_synced(self, node_ids: list[str]) -> dict:
        t0 = time.perf_counter()
        ok = self.xds.wait_synced(node_ids, timeout=10.0)
        out: dict[str, Any] = {"ok": ok, "seconds": round(time.perf_counter() - t0, 4)}
        if not ok:
            states = {p.node_id: p for p in self.xds.status()}
            bad = []
            for n in node_ids:
                st = states.get(n)
                if st is None:
                    bad.append(f"{n}: not connected")
                elif not st.synced:
                    nacks = [f"{k} NACK: {t.nack}" for k, t in st.types.items() if t.nack]
                    bad.append(f"{n}: " + ("; ".join(nacks) or "not ACKed yet"))
            out["error"] = " | ".join(bad)
        return out

    def _start_gateway(self, pod: Pod) -> str:
        proxy = Proxy("router", pod)
        self._start_envoy(proxy, GATEWAY_NAME, {"role": "gateway", "pod": GATEWAY_NAME})
        return GATEWAY_NAME

    def _start_envoy(self, proxy: Proxy, name: str, labels: dict[str, str]) -> None:
        from istiolab.local.bootstrap import bootstrap

        assert self.supervisor is not None and self.envoy_binary is not None
        pod = proxy.pod
        base = f"{pod.namespace}.{pod.name}"
        path = envoy.write_bootstrap(
            self.state.proxies / f"{base}.json", bootstrap(proxy, self.settings)
        )
        log = self.state.logs / f"{base}.envoy.log"
        argv = envoy.envoy_argv(self.envoy_binary, path, log, proxy.node_id, proxy.cluster_name)
        ip = pod.ip
        self.supervisor.start(
            ProcessSpec(
                name=name,
                argv=argv,
                log=self.state.logs / f"{base}.envoy.out",
                probe=lambda: envoy.is_ready(ip),
                labels={**labels, "ip": ip, "node": proxy.node_id},
            )
        )

    def _start_pod(self, pod: Pod) -> list[str]:
        from istiolab.workloads import images

        assert self.supervisor is not None
        key = f"{pod.namespace}/{pod.name}"
        names: list[str] = []
        if pod.sidecar:
            names.append(key + PROXY_SUFFIX)
            self._start_envoy(
                Proxy("sidecar", pod), key + PROXY_SUFFIX, {"role": "sidecar", "pod": key}
            )
        impl = images.resolve(pod.image, deployment=f"{pod.namespace}/{pod.deployment}")
        ports = impl.listen_ports(pod.container_ports)
        argv = [sys.executable, "-m", "istiolab.workloads", "serve", "--image", pod.image]
        addresses = [f"{listen_ip(pod, p, self.settings)}:{p}" for p in ports]
        for address in addresses:
            argv += ["--listen", address]
        argv += ["--pod-name", pod.name, "--namespace", pod.namespace]
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in pod.env.items()})
        env.update({"POD_NAME": pod.name, "POD_NAMESPACE": pod.namespace, "POD_IP": pod.ip})
        env.update({"INSTANCE_IP": pod.ip, "SERVICE_ACCOUNT": pod.service_account})
        for var in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
            env.pop(var, None)
        for var in ("ISTIOLAB_HOSTS", "ISTIOLAB_HOSTS_FILE"):
            env.pop(var, None)
        if pod.sidecar:
            env["HTTP_PROXY"] = f"http://{pod.ip}:{OUTBOUND_PORT}"
        else:  # kube DNS: the hosts file the supervisor keeps current (see state.py)
            env["ISTIOLAB_HOSTS_FILE"] = str(self.state.hosts_file)
        self.supervisor.start(
            ProcessSpec(
                name=key,
                argv=argv,
                log=self.state.logs / f"{pod.namespace}.{pod.name}.log",
                env=env,
                ready_line="ready",
                labels={"role": "app", "pod": key, "listen": ",".join(addresses), "ip": pod.ip},
            )
        )
        names.append(key)
        return names

    def _on_process_event(self, event: str, m: Managed) -> None:
        code = m.last_exit
        self.report("process", f"{m.spec.name} {event} (exit code {code}, restarts {m.restarts})")

    # views for the control API and the CLI
    def pods(self) -> list[dict]:
        assert self.supervisor is not None
        out = []
        gw = self._gateway
        rows: list[tuple[Pod, list[str], list[str]]] = [(gw, [GATEWAY_NAME], [])]
        rows += [(st.pod, st.processes, st.notes) for st in list(self._pods.values())]
        for pod, names, notes in rows:
            procs = [self.supervisor.get(n) for n in names]
            out.append(
                {
                    **_pod_dict(pod),
                    "gateway": pod is gw,
                    "ready": all(
                        m is not None and self.supervisor.is_ready(n)
                        for n, m in zip(names, procs, strict=True)
                    ),
                    "restarts": sum(m.restarts for m in procs if m is not None),
                    "pids": {n: m.pid for n, m in zip(names, procs, strict=True) if m},
                    "notes": list(notes),
                }
            )
        return out

    def findings(self) -> list[str]:
        from istiolab.local.translate.analysis import findings

        with self._lock:
            objects, registry = self._objects, self._registry
        return [str(f) for f in findings(objects, registry)]

    def status(self) -> dict:
        s = self.settings
        return {
            "running": True,
            "phase": self.phase,
            "pid": os.getpid(),
            "state_dir": str(self.state.root),
            "settings": asdict(s),
            "gateway_url": f"http://{s.gateway_host}:{s.gateway_http_port}",
            "xds": f"{s.istiod_ip}:{XDS_PORT}",
            "uptime": round(time.time() - self.started_at, 1),
            "pods": self.pods() if self.supervisor else [],
            "findings": self.findings() if self.phase == "running" else [],
        }

    def proxy_status(self) -> dict:
        with self._lock:
            proxies = dict(self._proxies)
        raw = {p.node_id: p.to_dict() for p in (self.xds.status() if self.xds else [])}
        rows = []
        for node_id, proxy in proxies.items():
            rows.append(
                {
                    "name": f"{proxy.pod.name}.{proxy.pod.namespace}",
                    "node": node_id,
                    "type": proxy.type,
                    "status": raw.get(node_id),
                }
            )
        return {"proxies": rows}

    def resources(self, node_id: str) -> dict:
        res = self._resources_for(node_id)
        if res is None:
            raise NotFoundError(f"no proxy with node id {node_id}")
        return {k: dict(v) for k, v in asdict(res).items()}

    def hosts(self) -> dict:
        with self._lock:
            return hosts_map(self._registry)

    def routes(self) -> dict:
        def apply(body: dict) -> Any:
            return self.apply(list(body.get("objects") or []), str(body.get("source", "<apply>")))

        def delete(body: dict) -> Any:
            refs = [(r["kind"], r["name"], r.get("namespace") or "default") for r in body["refs"]]
            return self.delete(refs)

        def get(body: dict) -> Any:
            return _get(self.store, body)

        def shutdown(body: dict) -> Any:
            self.shutdown_requested.set()
            return {"pid": os.getpid()}

        return {
            ("POST", "/apply"): apply,
            ("POST", "/delete"): delete,
            ("GET", "/get"): get,
            ("GET", "/status"): lambda body: self.status(),
            ("GET", "/proxy-status"): lambda body: self.proxy_status(),
            ("GET", "/hosts"): lambda body: self.hosts(),
            ("GET", "/resources"): lambda body: self.resources(str(body.get("node", ""))),
            ("POST", "/shutdown"): shutdown,
        }


def _get(store: Any, body: Mapping[str, Any]) -> list[dict]:
    """Objects of `kind` (optionally `name`) in `namespace` ("*": all namespaces)."""
    ns = body.get("namespace") or "default"
    return store.get(str(body.get("kind")), body.get("name") or None, None if ns == "*" else ns)


def _pod_dict(pod: Pod) -> dict:
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "ip": pod.ip,
        "app_ip": pod.app_ip,
        "labels": dict(pod.labels),
        "deployment": pod.deployment,
        "image": pod.image,
        "sidecar": pod.sidecar,
        "service_account": pod.service_account,
    }


def run_foreground(mesh: Mesh, on_ready: Callable[[], None] | None = None) -> None:
    """Start `mesh`, serve until SIGINT/SIGTERM or a `down`, then tear everything down."""
    import signal

    stop = mesh.shutdown_requested
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        mesh.start()
        if on_ready is not None:
            on_ready()
        while not stop.wait(0.5):
            pass
    finally:
        mesh.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def default_samples(samples: Iterable[str], namespace: str = "default") -> list[dict]:
    """The objects `up` deploys: the namespace (labelled for injection) and the samples."""
    from istiolab import manifests as m

    allowed = ("bookinfo", "httpbin", "sleep", "fortio")
    chosen = [s.strip() for s in samples if s.strip() and s.strip() != "none"]
    bad = [s for s in chosen if s not in allowed]
    if bad:
        from istiolab.errors import ParameterError

        raise ParameterError("--samples", ",".join(bad), "any of " + ", ".join(allowed))
    out: list[dict] = [m.namespace(namespace, injection=True)]
    for s in chosen:
        out += getattr(m, s)(namespace)
        if s == "bookinfo":
            out += m.bookinfo_gateway(namespace)
    return out


def wait_http(url: str, timeout: float, host_header: str | None = None) -> int:
    """Poll `url` until it answers 200 (backoff); returns the last status (0 = no answer)."""
    import http.client
    from urllib.parse import urlsplit

    split = urlsplit(url)
    deadline = time.monotonic() + timeout
    delay, status = 0.01, 0
    while True:
        conn = http.client.HTTPConnection(split.hostname, split.port or 80, timeout=5)
        try:
            conn.request("GET", split.path or "/", headers={"Host": host_header or split.netloc})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError:
            status = 0
        finally:
            conn.close()
        if status == 200 or time.monotonic() > deadline:
            return status
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def state_file_paths(state: StateDir) -> list[Path]:
    return [state.pid_file, state.socket, state.processes_file]
