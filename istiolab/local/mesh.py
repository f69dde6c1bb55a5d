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

The parts live in their own modules: what runs for a pod (:mod:`istiolab.local.pods`),
waiting for readiness (:mod:`istiolab.local.readiness`), the control API's routes
(:mod:`istiolab.local.api`), the samples (:mod:`istiolab.local.samples`); this module
orchestrates them and re-exports the names other code imports from here.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from istiolab.errors import MeshError, NotFoundError
from istiolab.local import envoy
from istiolab.local.api import control_routes, get_objects
from istiolab.local.control import ControlServer
from istiolab.local.model import (
    ADMIN_PORT,
    XDS_PORT,
    MeshSettings,
    Pod,
    Proxy,
    ProxyResources,
    Registry,
)
from istiolab.local.pki import MeshCA
from istiolab.local.pods import (
    GATEWAY_NAME,
    PROXY_SUFFIX,
    PodState,
    check_images,
    gateway_spec,
    hosts_map,
    pod_notes,
    pod_rows,
    pod_specs,
)
from istiolab.local.ports import can_bind_privileged_ports, check_port_free
from istiolab.local.readiness import ready_message, wait_http, wait_processes, wait_synced
from istiolab.local.registry import gateway_pod
from istiolab.local.samples import default_samples
from istiolab.local.state import StateDir, write_json
from istiolab.local.supervisor import Managed, Supervisor, kill_recorded

__all__ = [
    "GATEWAY_NAME",
    "PROXY_SUFFIX",
    "Mesh",
    "PodState",
    "Reporter",
    "check_images",
    "default_samples",
    "get_objects",
    "hosts_map",
    "pod_notes",
    "run_foreground",
    "wait_http",
]

Reporter = Callable[[str, str], None]  # (event kind, message)


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
        self._ca = MeshCA(state.root)  # workload certificates (istiolab.local.pki)
        self.store: Any = None
        self.xds: Any = None
        self.supervisor: Supervisor | None = None
        self.control: ControlServer | None = None
        self.telemetry: Any = None  # istiolab.local.telemetry.collector.Telemetry
        self.prometheus: Any = None  # istiolab.local.telemetry.prometheus.PrometheusAddon

    # lifecycle
    def start(self) -> None:
        from istiolab.local.store import ConfigStore
        from istiolab.local.telemetry.collector import Telemetry
        from istiolab.local.xds import XdsServer

        self.phase = "starting"
        self.started_at = time.time()
        self.state.create()
        requested = self.settings  # saved once the mesh runs (a failed start keeps the old)
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
        prometheus_binary = self._addon_binary()
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
            self.telemetry = Telemetry(self.state.root, s)
            self.xds = XdsServer(
                s.istiod_ip, XDS_PORT, self._resources_for, services=[self.telemetry.register]
            )
            self.xds.start()
            self.report("control", f"xDS server on {s.istiod_ip}:{XDS_PORT}")
            self.telemetry.start()
            self.control = ControlServer(self.state.socket, self.routes())
            self.control.start()
            self.state.write_pid()
            self._reconcile(initial=True)
            if prometheus_binary:
                self._start_prometheus(prometheus_binary)
            self.state.save_settings(requested)
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
        if self.telemetry is not None:
            self.telemetry.stop()
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
        # SDS secrets: the proxy's workload certificate and the mesh root (istiod's CA role)
        resources = build_resources(
            objects, registry, proxy, self.settings, index=index, ca=self._ca
        )
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
        self._update_telemetry(objects, registry, proxies)
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
        synced = wait_synced(self.xds, list(proxies))
        elapsed = time.perf_counter() - t0
        return {
            "started": [f"{p.namespace}/{p.name}" for p in start],
            "stopped": stop,
            "proxies": len(proxies),
            "synced": synced,
            "seconds": round(elapsed, 4),
        }

    def _addon_binary(self) -> str | None:
        from istiolab.local.telemetry import prometheus

        if prometheus.NAME not in prometheus.parse_addons(self.settings.addons).split(","):
            return None
        binary = prometheus.find_prometheus()
        check_port_free(self.settings.istiod_ip, prometheus.PORT, "the prometheus addon")
        return binary

    def _start_prometheus(self, binary: str) -> None:
        from istiolab.local.telemetry.prometheus import PrometheusAddon

        assert self.supervisor is not None
        with self._lock:
            proxies = list(self._proxies.values())
        addon = PrometheusAddon(self.state.root, self.settings.istiod_ip, self.state.logs)
        self.prometheus = addon
        name = self.supervisor.start(addon.spec(binary, proxies)).spec.name
        self._wait([name])
        self.report("addon", f"prometheus on {addon.url}")

    def _update_telemetry(self, objects: list[dict], registry: Registry, proxies: dict) -> None:
        """The telemetry's view of the mesh: who is who, Telemetry API metric overrides per
        proxy, and which upstream clusters are Istio mTLS (the source reporter's principals)."""
        from istiolab.local.translate import MeshIndex
        from istiolab.local.translate.context import Context
        from istiolab.local.translate.telemetry import metric_overrides

        overrides: dict[str, list[dict]] = {}
        if any(o.get("kind") == "Telemetry" for o in objects):
            index = MeshIndex(objects, registry, self.settings)
            for node, proxy in proxies.items():
                ctx = Context(index.objects, registry, proxy, self.settings, index=index)
                overrides[node] = metric_overrides(ctx)

        def mtls(node_id: str, cluster: str) -> bool:
            res = self._resources_for(node_id)
            socket = ((res.clusters.get(cluster) if res else None) or {}).get("transport_socket")
            context = ((socket or {}).get("typed_config") or {}).get("common_tls_context") or {}
            return "istio" in (context.get("alpn_protocols") or [])

        self.telemetry.update(registry, proxies, overrides, mtls)
        if self.prometheus is not None:
            self.prometheus.write_targets(proxies.values())

    def _wait(self, names: list[str]) -> None:
        assert self.supervisor is not None
        wait_processes(
            self.supervisor,
            names,
            self.ready_timeout,
            on_ready=self._report_ready,
            cancelled=lambda: self.shutdown_requested.is_set() and self.phase == "starting",
        )

    def _report_ready(self, name: str) -> None:
        m = self.supervisor.get(name) if self.supervisor else None
        if m is not None:
            self.report(*ready_message(m, self.settings))

    def _start_gateway(self, pod: Pod) -> str:
        assert self.supervisor is not None and self.envoy_binary is not None
        return self.supervisor.start(
            gateway_spec(pod, self.state, self.settings, self.envoy_binary)
        ).spec.name

    def _start_pod(self, pod: Pod) -> list[str]:
        assert self.supervisor is not None and self.envoy_binary is not None
        specs = pod_specs(pod, self.state, self.settings, self.envoy_binary)
        return [self.supervisor.start(spec).spec.name for spec in specs]

    def _on_process_event(self, event: str, m: Managed) -> None:
        code = m.last_exit
        self.report("process", f"{m.spec.name} {event} (exit code {code}, restarts {m.restarts})")

    # views for the control API and the CLI
    def pods(self) -> list[dict]:
        assert self.supervisor is not None
        return pod_rows(self._gateway, list(self._pods.values()), self.supervisor, self.started_at)

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
            "telemetry": {
                "metrics": f"http://{s.istiod_ip}:15020/stats/prometheus",
                "zipkin": f"http://{s.istiod_ip}:9411/api/v2/spans",
                "prometheus": self.prometheus.url if self.prometheus else None,
            },
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

    def info(self) -> dict:
        """What a client needs to reach this mesh from the host (cheaper than `status`)."""
        s = self.settings
        return {
            "phase": self.phase,
            "state_dir": str(self.state.root),
            "settings": asdict(s),
            "gateway_url": f"http://{s.gateway_host}:{s.gateway_http_port}",
        }

    def _find_pod(self, namespace: str, name: str) -> tuple[Pod, list[str]]:
        """A running pod by namespace and name, with its supervisor process names."""
        gw = self._gateway
        if (gw.namespace, gw.name) == (namespace, name):
            return gw, [GATEWAY_NAME]
        with self._lock:
            st = self._pods.get(f"{namespace}/{name}")
        if st is None:
            raise NotFoundError(f'pod "{name}" not found in namespace {namespace}')
        return st.pod, list(st.processes)

    def proxy_admin(self, namespace: str, name: str, path: str, method: str = "GET") -> dict:
        """One request to a pod's Envoy admin API (sidecar or gateway), on the host side."""
        pod, processes = self._find_pod(namespace, name)
        if not (pod is self._gateway or any(n.endswith(PROXY_SUFFIX) for n in processes)):
            raise MeshError(
                f"pod {name}.{namespace} has no sidecar (namespace not labelled "
                "istio-injection=enabled)"
            )
        target = "/" + path.lstrip("/")
        status, body = envoy.admin_request(pod.ip, target, method=method.upper())
        return {"status": status, "body": body}

    def logs(self, namespace: str, name: str, container: str | None, tail: int | None) -> dict:
        """A container's log: the app's output, or ``istio-proxy`` (Envoy's output: its
        access log, which goes to /dev/stdout as on a cluster, and its own messages)."""
        pod, processes = self._find_pod(namespace, name)
        app = pod.labels.get("app") or pod.deployment
        if pod is self._gateway:
            by_container = {"istio-proxy": GATEWAY_NAME}
        else:
            by_container = {
                ("istio-proxy" if n.endswith(PROXY_SUFFIX) else app): n for n in processes
            }
        chosen = container or ("istio-proxy" if pod is self._gateway else app)
        process = by_container.get(chosen)
        m = self.supervisor.get(process) if (self.supervisor and process) else None
        if m is None:
            raise NotFoundError(
                f'container "{chosen}" is not valid for pod {name}.{namespace}; '
                f"choose one of: {', '.join(sorted(by_container))}"
            )
        try:
            text = m.spec.log.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return {"log": text}

    def hosts(self) -> dict:
        with self._lock:
            return hosts_map(self._registry)

    def routes(self) -> dict:
        """The control API's routes over this mesh (see :mod:`istiolab.local.api`)."""
        return control_routes(self)


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
