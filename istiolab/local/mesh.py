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

from istiolab.errors import ConfigError, NotFoundError
from istiolab.local import envoy
from istiolab.local.api import control_routes, get_objects
from istiolab.local.control import ControlServer
from istiolab.local.jwksfetch import JwksResolver
from istiolab.local.kubeapi.credentials import API_PORT
from istiolab.local.logrotate import max_bytes, start_rotation
from istiolab.local.model import (
    XDS_PORT,
    MeshSettings,
    Pod,
    Proxy,
    ProxyResources,
    Registry,
)
from istiolab.local.pki import MeshCA, with_secrets
from istiolab.local.pods import (
    GATEWAY_NAME,
    PROXY_SUFFIX,
    PodState,
    check_images,
    gateway_spec,
    hosts_map,
    pod_addresses,
    pod_notes,
    pod_rows,
    pod_specs,
)
from istiolab.local.ports import can_bind_privileged_ports, check_port_free
from istiolab.local.readiness import ready_message, wait_http, wait_processes, wait_synced
from istiolab.local.registry import gateway_pod, is_gateway_proxy
from istiolab.local.samples import default_samples
from istiolab.local.state import ENV_MESH, StateDir, write_json
from istiolab.local.supervisor import Managed, Supervisor, kill_leftovers

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

# What a local mesh on one host's loopback cannot keep from other local users (`status`
# prints them; the README says the same).
SECURITY_NOTES = [
    "xDS, Envoy admin and the apps behind sidecars listen on owner-only Unix sockets; the "
    "state directory is 0700 and its files 0600",
    "residual: the sidecars' own listeners (inbound ports, 15001 outbound, 15090, 15021) and "
    "pods without a sidecar are on 127.0.0.0/8, which every local user can connect to: "
    "inbound ports enforce mTLS and policies, but the outbound listener 15001 sends "
    "requests with that pod's identity for whoever connects",
    "residual: the telemetry endpoints are loopback TCP too (Prometheus scrapes and Envoy's "
    "tracer posts over TCP): every local user can read the istio_* metrics on 15020, post "
    "spans to 9411 and query the Prometheus addon on 9090",
]


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
        self._jwks = JwksResolver(state.root)  # jwksUri fetched and inlined, as istiod
        self.store: Any = None
        self.xds: Any = None
        self.supervisor: Supervisor | None = None
        self.control: ControlServer | None = None
        self.kubeapi: Any = None  # istiolab.local.kubeapi.server.KubeApiServer
        self._lock_fd: int | None = None
        self.telemetry: Any = None  # istiolab.local.telemetry.collector.Telemetry
        self.prometheus: Any = None  # istiolab.local.telemetry.prometheus.PrometheusAddon

    @property
    def ca(self) -> MeshCA:
        """The mesh CA (workload certificates; the Kubernetes API's serving certificate)."""
        return self._ca

    # lifecycle
    def start(self) -> None:
        from istiolab.local.store import ConfigStore
        from istiolab.local.telemetry.collector import Telemetry
        from istiolab.local.xds import XdsServer
        from istiolab.local.xds.protos import SHARED_ENCODER

        self.envoy_binary = self.envoy_binary or envoy.find_envoy()  # before anything starts
        self.phase = "starting"
        self.started_at = time.time()
        os.umask(0o077)  # this process and its children create owner-only files and sockets
        self.state.create()
        # the one supervisor of this directory, for this process's life (MeshError if not)
        self._lock_fd = self.state.acquire_lock()
        max_bytes()  # a bad ISTIOLAB_LOG_MAX_BYTES fails the start, not the rotation
        requested = self.settings  # saved once the mesh runs (a failed start keeps the old)
        if self.settings.privileged_ports is None:  # decided once, here; translation reads it
            self.settings = replace(self.settings, privileged_ports=can_bind_privileged_ports())
        # xDS, Envoy admin and the apps behind sidecars: owner-only Unix sockets
        self.settings = replace(self.settings, socket_dir=str(self.state.socket_dir))
        # processes left by a supervisor that was killed (they hold our addresses)
        leftovers, note = kill_leftovers(self.state)
        if note:
            self.report("process", note)
        if leftovers:
            self.report(
                "process", f"stopped {len(leftovers)} processes left by a killed supervisor"
            )
        s = self.settings
        prometheus_binary = self._addon_binary()
        for host, port, what in (
            (s.gateway_host, s.gateway_http_port, "the ingress gateway (HTTP)"),
            (s.gateway_host, s.gateway_https_port, "the ingress gateway (HTTPS)"),
            (s.istiod_ip, API_PORT, "the Kubernetes API"),
            (s.istiod_ip, 15020, "the mesh-wide metrics endpoint"),
            (s.istiod_ip, 9411, "the Zipkin span collector"),
        ):
            check_port_free(host, port, what)
        self.store = ConfigStore(self.state.root, settings=self.settings)
        self._install_mesh_config()
        self.supervisor = Supervisor(
            self.state.processes_file,
            on_event=self._on_process_event,
            mark={ENV_MESH: str(self.state.root)},  # how `down` finds them without the file
        )
        try:
            # the proxies' access logs arrive over their ADS connection (the same server)
            self.telemetry = Telemetry(self.state.root, s)
            self.xds = XdsServer(
                s.istiod_ip,
                XDS_PORT,
                self._resources_for,
                socket_path=s.xds_socket,
                encoder=SHARED_ENCODER,  # shared with the store's dry run
                services=[self.telemetry.register],
            )
            self.xds.start()
            self.report("control", f"xDS server on {self.xds.address} (owner only)")
            self.telemetry.start()
            self.control = ControlServer(self.state.socket, self.routes())
            self.control.start()
            from istiolab.local import kubeapi

            self.kubeapi = kubeapi.start(self)
            self.report("control", f"Kubernetes API on {self.kubeapi.url}")
            self.state.write_pid()
            self._reconcile(initial=True)
            if prometheus_binary:
                self._start_prometheus(prometheus_binary)
            self.state.save_settings(requested)
            self.phase = "running"
            threading.Thread(target=self._rotate_certificates, name="certs", daemon=True).start()
            start_rotation(self.state.logs, self.shutdown_requested)  # bounded disk
        except BaseException:
            self.stop()
            raise

    def _install_mesh_config(self) -> None:
        """istiod's ``istio`` ConfigMap when the store has none (as an install leaves it):
        `kubectl -n istio-system get cm istio` shows the mesh config as on a cluster."""
        from istiolab.local.samples import istiod_config

        found = self.store.get("ConfigMap", None, "istio-system")
        if not any(o["metadata"]["name"] == "istio" for o in found):
            self.store.apply([istiod_config()], "<istiod>")

    def stop(self) -> None:
        """Stop every process (SIGTERM, grace, SIGKILL), the xDS server and the control API.
        Nothing when this process is not the directory's supervisor (a second `up`)."""
        if self._lock_fd is None:
            return
        self.phase = "stopping"
        if self.kubeapi is not None:
            self.kubeapi.stop()
            self.kubeapi = None
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
        self.state.release_lock(self._lock_fd)
        self._lock_fd = None
        self.phase = "stopped"

    # config changes
    def apply(self, objects: list[dict], source: str = "<apply>") -> dict:
        check_images(objects)
        with self._apply_lock:
            previous = self.store.snapshot()
            lines = self.store.apply(objects, source)
            return self._converge(previous, {"lines": lines})

    def _converge(self, previous: list[dict], out: dict) -> dict:
        """Reconcile and push; when a proxy NACKs the new config, put the previous (ACKed)
        configuration back in the store, push it, and refuse the change naming the proxy
        and Envoy's reason."""
        result = self._reconcile()
        nacks = self._nacks()
        if not nacks:
            return {**out, **result}
        self.store.restore(previous)
        self._reconcile()
        raise ConfigError(
            "Envoy rejected the configuration, so it was rolled back to the previous one: "
            + " | ".join(nacks)
        )

    def _nacks(self) -> list[str]:
        """``<proxy>: <type> NACK: <Envoy's reason>`` for every proxy that NACKed the
        newest push."""
        with self._lock:
            names = {n: f"{p.pod.name}.{p.pod.namespace}" for n, p in self._proxies.items()}
        out = []
        for st in self.xds.status():
            if st.node_id in names and st.push_version >= self.xds.version:
                out += [
                    f"{names[st.node_id]}: {k} NACK: {t.nack}"
                    for k, t in st.types.items()
                    if t.nack
                ]
        return out

    def delete(self, refs: list[tuple[str, str, str]]) -> dict:
        with self._apply_lock:
            previous = self.store.snapshot()
            # like kubectl: delete what exists (one commit), report the rest
            lines, missing = self.store.delete_many(refs)
            if not lines and missing:
                raise NotFoundError("; ".join(missing))
            return self._converge(previous, {"lines": lines, "errors": missing})

    def _rotate_certificates(self) -> None:
        """Push again whenever a workload certificate reaches half its life, so proxies of
        an idle mesh get fresh ones before theirs expire (istio-agent's rotation)."""
        while True:
            wait = min(max(self._ca.next_renewal(), 0.5), 60.0)
            if self.shutdown_requested.wait(wait) or self.phase != "running":
                return
            if self._ca.next_renewal() > 0:
                continue
            with self._apply_lock, self._lock:
                self._cache.clear()  # resources are recomputed with fresh secrets
            self.xds.push()
            self.report("control", "workload certificates rotated")

    def delete_pods(self, pods: list[tuple[str, str]]) -> dict:
        """Delete running pods by (namespace, name): each Deployment replaces its pod under a
        new name, deciding sidecar injection again (``kubectl delete pod``)."""
        from istiolab.local.registry import pod_names, replica_key

        with self._apply_lock:
            replaced = self.state.read_replacements()
            deployments = {
                (o["metadata"].get("namespace") or "default", o["metadata"]["name"]): o
                for o in self.store.objects()
                if o.get("kind") == "Deployment"
            }
            for namespace, name in pods:
                state = self._pods.get(f"{namespace}/{name}")
                deployment = deployments.get((namespace, state.pod.deployment)) if state else None
                names = pod_names(deployment, replaced) if deployment else []
                if name not in names:
                    raise NotFoundError(f'pod "{name}" not found in namespace {namespace}')
                key = replica_key(deployment, names.index(name))  # type: ignore[arg-type]
                replaced[key] = replaced.get(key, 0) + 1
            write_json(self.state.replacements_file, replaced)
            return self._reconcile()

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
        resources = with_secrets(
            build_resources(objects, registry, proxy, self.settings, index=index),
            proxy,
            objects,
            self._ca,
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
        objects = self._jwks.inline([dict(o) for o in self.store.objects()])
        allocations = self.state.read_allocations()
        injected = self.state.read_injections()
        replaced = self.state.read_replacements()
        registry, allocations = build_registry(
            objects, self.settings, allocations, injected, replaced
        )
        write_json(self.state.allocations_file, dict(allocations))
        write_json(
            self.state.injections_file,
            {f"{p.namespace}/{p.name}": p.sidecar for p in registry.pods},
        )
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
                if is_gateway_proxy(p):  # a Gateway API Gateway's proxy, the egress gateway
                    proxies[Proxy("router", p).node_id] = Proxy("router", p)
                elif p.sidecar:
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
        # a port another process holds: fail naming it, not with a proxy that never binds
        for host, port, what in pod_addresses(pod, self._registry, self.settings):
            check_port_free(host, port, what)
        specs = pod_specs(pod, self.state, self.settings, self.envoy_binary)
        return [self.supervisor.start(spec).spec.name for spec in specs]

    def _on_process_event(self, event: str, m: Managed) -> None:
        code = m.last_exit
        self.report("process", f"{m.spec.name} {event} (exit code {code}, restarts {m.restarts})")

    # views for the control API and the CLI
    @property
    def registry(self) -> Registry:
        """The services and pods of the current generation."""
        with self._lock:
            return self._registry

    def pods(self) -> list[dict]:
        assert self.supervisor is not None
        return pod_rows(self._gateway, list(self._pods.values()), self.supervisor, self.started_at)

    def findings(self) -> list[str]:
        from istiolab.local.translate.analysis import findings

        with self._lock:
            objects, registry = self._objects, self._registry
        return [str(f) for f in findings(objects, registry)] + [
            f.finding() for f in self._jwks.failures
        ]

    def status(self) -> dict:
        s = self.settings
        return {
            "running": True,
            "phase": self.phase,
            "pid": os.getpid(),
            "state_dir": str(self.state.root),
            "settings": asdict(s),
            "gateway_url": f"http://{s.gateway_host}:{s.gateway_http_port}",
            "xds": self.xds.address if self.xds else None,
            "kubernetes_api": self.kubeapi.url if self.kubeapi is not None else None,
            "kubeconfig": str(self.state.kubeconfig),
            "security": SECURITY_NOTES,
            "telemetry": {
                "metrics": f"http://{s.istiod_ip}:15020/stats/prometheus",
                "zipkin": f"http://{s.istiod_ip}:9411/api/v2/spans",
                "prometheus": self.prometheus.url if self.prometheus else None,
                "access_log_streams": self.telemetry.als.streams if self.telemetry else 0,
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

    def proxy_admin(self, pod: str, namespace: str, path: str, method: str = "GET") -> str:
        """One request to the admin API of a pod's sidecar or the gateway (``pod`` is the
        pod's name, its Deployment or app label, or ``istio-ingressgateway``)."""
        from istiolab.local.admin import admin_call

        with self._lock:
            proxies = list(self._proxies.values())
        ns = namespace or "default"
        for proxy in proxies:
            p = proxy.pod
            names = {p.name, p.deployment, p.labels.get("app", "")}
            if proxy.type == "router":
                names.add(GATEWAY_NAME)
            if pod in names and (p.namespace == ns or proxy.type == "router"):
                return admin_call(self.state, proxy, path, method)
        raise NotFoundError(f"no proxy for pod {pod!r} in namespace {ns}")

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

    def logs(self, namespace: str, name: str, container: str | None, tail: int | None) -> dict:
        """A container's log: the app's output, or ``istio-proxy`` (Envoy's output: its
        access log, which goes to /dev/stdout as on a cluster, and its own messages)."""
        pod, processes = self._find_pod(namespace, name)
        app = pod.labels.get("app") or pod.deployment
        gateway = pod is self._gateway or is_gateway_proxy(pod)  # one container: Envoy
        if gateway:
            by_container = {"istio-proxy": processes[0]}
        else:
            by_container = {
                ("istio-proxy" if n.endswith(PROXY_SUFFIX) else app): n for n in processes
            }
        chosen = container or ("istio-proxy" if gateway else app)
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
