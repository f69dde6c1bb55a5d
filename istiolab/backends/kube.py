"""``KubeBackend``: any kubeconfig context, through the official ``kubernetes`` client.

The same operations as on the local mesh, the way ``kubectl`` and ``istioctl`` do them:

- objects: the dynamic client (discovery, then create/replace/delete); an apply is first
  sent with ``dryRun=All`` for every object, so an invalid one refuses the whole batch;
- requests: ``curl`` exec'd in the source pod's app container (its traffic leaves through
  the pod's sidecar, as any app's does); loads: ``fortio load -json -`` in that container;
- proxy admin: ``pilot-agent request GET <path>`` in the ``istio-proxy`` container (what
  ``istioctl proxy-config`` does); logs: the pod log API;
- sync state: istiod's ``/debug/syncz`` (``pilot-discovery request GET``), as
  ``istioctl proxy-status`` reads it.

Served by a cluster made by ``pulumi up`` and by the local mesh's own Kubernetes API
(context ``istiolab``, ``istiolab kubeconfig``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from istiolab.backends.base import (
    CURL_EXIT_CODES,
    Backend,
    ChangeResult,
    HttpResult,
    Pod,
    ProxySync,
    wait_all,
)
from istiolab.errors import ConfigError, MeshError, NotFoundError, ParameterError
from istiolab.manifests.kinds import KINDS, KindInfo, kind_info, store_kind
from istiolab.names import (
    INGRESS_GATEWAY,
    ISTIO_SYSTEM,
    PROXY_CONTAINER,
)
from istiolab.workloads.fortiojson import from_json
from istiolab.workloads.loadgen import FORTIO_TIMEOUT, LoadResult

ISTIOD_LABEL = "app=istiod"
# exit code of curl -> the error key HttpResult uses (7 is curl's "Failed to connect")
CURL_ERRORS = {code: key for key, code in reversed(CURL_EXIT_CODES.items()) if key}
WRITE_OUT = "\n%{http_code} %{time_total}"
MANAGED = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
T = TypeVar("T")


class KubeBackend(Backend):
    """The cluster of kubeconfig context `context` (``kubeconfig``: a file, else the
    client's default: ``$KUBECONFIG`` or ``~/.kube/config``)."""

    def __init__(self, context: str, kubeconfig: str | None = None, timeout: float = 30.0) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        # the client reads $KUBECONFIG once, when it is first imported: read it now
        kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
        try:
            contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as exc:
            raise MeshError(
                f"--context {context}: no usable kubeconfig ({exc}); set KUBECONFIG (for the "
                "local mesh: export KUBECONFIG=$(istiolab kubeconfig))"
            ) from None
        names = [c["name"] for c in contexts]
        if context not in names:
            raise ParameterError(
                "--context", context, "a context of the kubeconfig: " + ", ".join(names)
            )
        self.name = context
        self.kubeconfig = kubeconfig  # the file read (None: the client's default)
        self.timeout = timeout
        self.api = config.new_client_from_config(config_file=kubeconfig, context=context)
        self.core = client.CoreV1Api(self.api)
        self._dynamic: Any = None

    def close(self) -> None:
        self.api.close()

    # ---------------------------------------------------------------- plumbing
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()`, with the client's failures as project errors naming the context."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            raise _api_error(exc, what) from None
        except (HTTPError, OSError) as exc:
            server = self.api.configuration.host
            raise MeshError(
                f"context {self.name}: the Kubernetes API at {server} is not reachable ({what}): "
                f"{exc}"
            ) from None

    def _resource(self, info: KindInfo, api_version: str | None = None) -> Any:
        from kubernetes import dynamic

        if self._dynamic is None:
            self._dynamic = self._call("discovery", lambda: dynamic.DynamicClient(self.api))
        return self._call(
            f"discovery of {info.kind}",
            lambda: self._dynamic.resources.get(
                api_version=api_version or info.api_version, kind=info.kind
            ),
        )

    # ---------------------------------------------------------------- objects
    def get(
        self, kind: str, name: str | None = None, namespace: str | None = "default"
    ) -> list[dict]:
        info = kind_info(kind)
        resource = self._resource(info)
        ns = namespace if info.namespaced else None
        if name is not None:
            try:
                found = self._call(
                    f"get {info.kind}", lambda: resource.get(name=name, namespace=ns)
                )
            except NotFoundError:
                where = f" in namespace {namespace}" if namespace and info.namespaced else ""
                raise NotFoundError(f'{info.kind} "{name}" not found{where}') from None
            return [_plain(found)]
        listed = self._call(f"list {info.plural}", lambda: resource.get(namespace=ns))
        items = [_plain(item) for item in listed.items]
        for item in items:  # list items carry no kind, as on every API server
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        return sorted(
            items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def objects(self) -> list[dict]:
        return [
            o
            for info in KINDS
            if not info.read_only
            for o in self.get(info.qualified, namespace=None)
        ]

    def apply(self, objects: Sequence[Mapping[str, Any]], source: str = "<apply>") -> ChangeResult:
        plan = []
        for obj in objects:
            info = kind_info(store_kind(obj))
            md = obj.get("metadata") or {}
            ns = (md.get("namespace") or "default") if info.namespaced else None
            body = {**obj, "metadata": {**md, **({"namespace": ns} if ns else {})}}
            resource = self._resource(info, str(obj.get("apiVersion") or "") or None)
            live = self._live(resource, info, md.get("name"), ns)
            plan.append((info, resource, body, ns, live))
        created_ns = {b["metadata"]["name"] for i, _, b, _, live in plan if i.kind == "Namespace"}
        for info, resource, body, ns, live in plan:  # validate all first: all or nothing
            if ns not in created_ns or live is not None:
                self._write(info, resource, body, ns, live, source, dry_run=True)
        changes, lines = [], []
        for info, resource, body, ns, live in plan:
            written = self._write(info, resource, body, ns, live, source, dry_run=False)
            if live is None:
                verb = "created"
            elif written["metadata"].get("resourceVersion") == live["metadata"].get(
                "resourceVersion"
            ):
                verb = "unchanged"
            else:
                verb = "configured"
            name = body["metadata"]["name"]
            changes.append((info.kind, ns or "", name, verb))
            lines.append(f"{info.qualified}/{name} {verb}")
        return ChangeResult(changes, lines=lines)

    def _live(self, resource: Any, info: KindInfo, name: str, ns: str | None) -> dict | None:
        try:
            return _plain(
                self._call(f"get {info.kind}", lambda: resource.get(name=name, namespace=ns))
            )
        except NotFoundError:
            return None

    def _write(
        self,
        info: KindInfo,
        resource: Any,
        body: dict,
        ns: str | None,
        live: dict | None,
        source: str,
        dry_run: bool,
    ) -> dict:
        name = body["metadata"]["name"]
        query = {"dry_run": "All"} if dry_run else {}
        what = f"{source}: {info.kind}/{name}" + (f" (namespace {ns})" if ns else "")
        try:
            if live is None:
                result = self._call(what, lambda: resource.create(body=body, namespace=ns, **query))
            else:
                rv = live["metadata"].get("resourceVersion")
                new = {**body, "metadata": {**body["metadata"], "resourceVersion": rv}}
                result = self._call(
                    what, lambda: resource.replace(body=new, name=name, namespace=ns, **query)
                )
        except ConfigError as exc:
            raise ConfigError(f"{exc}; nothing was applied" if dry_run else str(exc)) from None
        return _plain(result)

    def delete(self, refs: Sequence[tuple[str, str, str]]) -> ChangeResult:
        changes, lines, missing = [], [], []
        for kind, name, namespace in refs:
            info = kind_info(kind)
            ns = namespace if info.namespaced else None
            resource = self._resource(info)
            try:
                self._call(f"delete {info.kind}", partial(resource.delete, name=name, namespace=ns))
            except NotFoundError:
                where = f" in namespace {namespace}" if info.namespaced else ""
                missing.append(f'{info.kind} "{name}" not found{where}: nothing deleted')
                continue
            changes.append((kind, namespace, name, "deleted"))
            lines.append(f"{info.qualified}/{name} deleted")
        if missing and not changes:
            raise NotFoundError("; ".join(missing))
        return ChangeResult(changes, tuple(missing), lines=lines)

    # ---------------------------------------------------------------- pods
    def pods(self, namespace: str | None = None) -> list[Pod]:
        if namespace is None:
            found = self._call("list pods", self.core.list_pod_for_all_namespaces)
        else:
            found = self._call("list pods", lambda: self.core.list_namespaced_pod(namespace))
        return [pod_from_object(self.api.sanitize_for_serialization(p)) for p in found.items]

    def _exec(
        self, pod: Pod, container: str, argv: list[str], timeout: float
    ) -> tuple[int, bytes, bytes]:
        """Run `argv` in `container` of `pod`: (exit code, stdout, stderr)."""
        from kubernetes import client
        from kubernetes.stream import stream

        def run() -> tuple[int, bytes, bytes]:
            # stream() swaps the ApiClient's request method while it runs: a client of its
            # own keeps concurrent calls (a lab's parallel requests, a get) off the websocket
            api = client.ApiClient(self.api.configuration)
            try:
                return exec_on(client.CoreV1Api(api))
            finally:
                api.close()

        def exec_on(core: Any) -> tuple[int, bytes, bytes]:
            ws = stream(
                core.connect_get_namespaced_pod_exec,
                pod.name,
                pod.namespace,
                command=argv,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                binary=True,
                _preload_content=False,
            )
            try:
                ws.run_forever(timeout=timeout)
                out, err = ws.read_channel(1), ws.read_channel(2)
                code = ws.returncode
            finally:
                ws.close()
            return (code if code is not None else 28), out, err

        return self._call(f"exec {argv[0]} in {pod.name}.{pod.namespace}/{container}", run)

    @staticmethod
    def _app_container(pod: Pod) -> str:
        app = [c for c in pod.containers if c != PROXY_CONTAINER]
        if not app:
            raise MeshError(f"pod {pod.name}.{pod.namespace} has no app container to send from")
        return app[0]

    # ---------------------------------------------------------------- traffic
    def request(
        self,
        source: str,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        timeout: float = 30.0,
    ) -> HttpResult:
        pod = self.pod(source)
        argv = ["curl", "-s", "-S", "-i", "-X", method.upper(), "-m", f"{timeout:g}"]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        if data is not None:
            argv += ["-d", data.decode() if isinstance(data, bytes) else data]
        argv += ["-w", WRITE_OUT, url]
        began = time.monotonic()
        code, out, err = self._exec(pod, self._app_container(pod), argv, timeout + 10)
        return parse_curl(code, out, err, time.monotonic() - began)

    def load(
        self,
        source: str,
        url: str,
        *,
        count: int,
        concurrency: int = 1,
        qps: float | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        timeout: float = FORTIO_TIMEOUT,
    ) -> LoadResult:
        if method.upper() != "GET" or data is not None:
            raise ParameterError("method", method, "GET without a body (fortio load)")
        pod = self.pod(source)
        argv = ["fortio", "load", "-json", "-", "-quiet", "-c", str(concurrency)]
        argv += ["-n", str(count), "-qps", f"{qps:g}" if qps else "0", "-timeout", f"{timeout:g}s"]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        code, out, err = self._exec(pod, self._app_container(pod), [*argv, url], 600)
        if code != 0:
            raise MeshError(
                f"fortio load in {pod.name}.{pod.namespace} exited {code}: "
                f"{err.decode(errors='replace').strip()[-300:]}"
            )
        return from_json(json.loads(out))

    def cli_options(self) -> list[str]:
        return ["--context", self.name]

    def cli_env(self) -> dict[str, str]:
        return {"KUBECONFIG": self.kubeconfig} if self.kubeconfig else {}

    def gateway_url(self) -> str:
        return self._gateway("http", ("http2", "http"))

    def gateway_https_url(self) -> str:
        return self._gateway("https", ("https",))

    def _gateway(self, scheme: str, port_names: tuple[str, ...]) -> str:
        """``SCHEME://HOST:PORT`` of the ingress gateway Service's load balancer address and
        its port named one of `port_names` (the docs' INGRESS_HOST and INGRESS_PORT)."""
        svc = self._call(
            "get the ingress gateway Service",
            lambda: self.core.read_namespaced_service(INGRESS_GATEWAY, ISTIO_SYSTEM),
        )
        ingress = (svc.status.load_balancer.ingress or []) if svc.status.load_balancer else []
        port = next((p for p in svc.spec.ports if p.name in port_names), None)
        if ingress and port is not None:
            host = ingress[0].ip or ingress[0].hostname
            return f"{scheme}://{host}:{port.port}"
        if port is not None and port.node_port:
            raise MeshError(
                f"context {self.name}: the ingress gateway has no load balancer address; use a "
                f"node address with node port {port.node_port}"
            )
        raise MeshError(f"context {self.name}: the ingress gateway has no reachable address")

    # ---------------------------------------------------------------- proxies
    def proxy_admin(self, workload: str, path: str, method: str = "GET") -> str:
        pod = self.pod(workload)
        if PROXY_CONTAINER not in pod.containers:
            raise MeshError(
                f"{pod.name}.{pod.namespace} has no sidecar (namespace not labelled "
                "istio-injection=enabled)"
            )
        argv = ["pilot-agent", "request", method.upper(), path.lstrip("/")]
        code, out, err = self._exec(pod, PROXY_CONTAINER, argv, self.timeout)
        if code != 0:
            raise MeshError(
                f"Envoy admin of {pod.name}.{pod.namespace} refused {method} /{path.lstrip('/')}: "
                f"{(err or out).decode(errors='replace').strip()[:200]}"
            )
        return out.decode(errors="replace")

    def proxy_status(self) -> list[ProxySync]:
        istiod = self._istiod()
        argv = ["pilot-discovery", "request", "GET", "/debug/syncz"]
        code, out, err = self._exec(istiod, "discovery", argv, self.timeout)
        if code != 0:
            raise MeshError(f"istiod /debug/syncz: {err.decode(errors='replace').strip()[:200]}")
        return parse_syncz(json.loads(out))

    def _istiod(self) -> Pod:
        found = self._call(
            "find istiod",
            lambda: self.core.list_namespaced_pod(ISTIO_SYSTEM, label_selector=ISTIOD_LABEL),
        )
        pods = [pod_from_object(self.api.sanitize_for_serialization(p)) for p in found.items]
        ready = [p for p in pods if p.ready]
        if not ready:
            raise MeshError(
                f"context {self.name}: no ready istiod pod ({ISTIOD_LABEL} in {ISTIO_SYSTEM}); "
                "proxy sync state comes from istiod's /debug/syncz"
            )
        return ready[0]

    # ---------------------------------------------------------------- telemetry
    def telemetry_window(self, seconds: float = 60.0) -> dict[str, Any]:
        """Istio's metrics from the cluster's Prometheus addon (see :mod:`.kubeaddons`)."""
        from istiolab.backends.kubeaddons import ClusterAddons

        return ClusterAddons(self.name, self.api, self._call, self.timeout).window(seconds)

    def spans(self) -> list[dict]:
        """Spans from the cluster's Zipkin or Jaeger addon (see :mod:`.kubeaddons`)."""
        from istiolab.backends.kubeaddons import ClusterAddons

        return ClusterAddons(self.name, self.api, self._call, self.timeout).spans()

    def logs(self, workload: str, container: str | None = None, tail: int | None = None) -> str:
        pod = self.pod(workload)
        chosen = container or (
            PROXY_CONTAINER if pod.containers == (PROXY_CONTAINER,) else self._app_container(pod)
        )
        query: dict[str, Any] = {"container": chosen}
        if tail is not None:
            query["tail_lines"] = tail
        return self._call(
            f"logs of {pod.name}.{pod.namespace}/{chosen}",
            lambda: self.core.read_namespaced_pod_log(pod.name, pod.namespace, **query),
        )

    # ---------------------------------------------------------------- waiting
    def wait_converged(self, timeout: float = 30.0) -> None:
        """Every proxy ACKed istiod's current config (its /debug/syncz; the local mesh's API
        serves it from its own ACK table). Where no istiod pod is visible, every proxy must
        be connected to its control plane with no rejected update."""

        def lagging() -> list[str]:
            try:
                states = {p.name: p.synced for p in self.proxy_status()}
            except MeshError:
                states = {
                    f"{p.name}.{p.namespace}": self._proxy_healthy(p) for p in self._proxies()
                }
            return sorted(name for name, ok in states.items() if not ok)

        wait_all(lagging, timeout, "proxies not synced")

    def _proxies(self) -> list[Pod]:
        return [p for p in self.pods() if PROXY_CONTAINER in p.containers]

    def _proxy_healthy(self, pod: Pod) -> bool:
        stats = self.proxy_stats(
            f"{pod.name}.{pod.namespace}",
            r"^(control_plane\.connected_state"
            r"|(cluster_manager\.cds|listener_manager\.lds)\.update_rejected)$",
        )
        rejected = sum(v for k, v in stats.items() if k.endswith("update_rejected"))
        return stats.get("control_plane.connected_state") == 1 and rejected == 0


# -------------------------------------------------------------------- pure parts


def _plain(obj: Any) -> dict:
    """A dynamic client ResourceInstance (or a dict) as a plain dict without server-managed
    noise (managedFields)."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    data.get("metadata", {}).pop("managedFields", None)
    return data


def _api_error(exc: Any, what: str) -> Exception:
    """An ApiException as the project error kubectl's message would be."""
    try:
        status = json.loads(exc.body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") or exc.reason or str(exc)
    if exc.status == 404:
        return NotFoundError(f"{what}: {message}")
    if exc.status in (400, 409, 422):
        return ConfigError(f"{what}: {message}")
    if exc.status in (401, 403):
        return MeshError(f"{what}: not allowed ({exc.status}): {message}")
    return MeshError(f"{what}: the Kubernetes API answered {exc.status}: {message}")


def pod_from_object(obj: Mapping[str, Any]) -> Pod:
    """A Kubernetes Pod object (API JSON) as a typed :class:`Pod`."""
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    containers = tuple(c["name"] for c in spec.get("containers") or [])
    statuses = {s["name"]: s for s in status.get("containerStatuses") or []}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    labels = dict(md.get("labels") or {})
    return Pod(
        name=md["name"],
        namespace=md.get("namespace") or "default",
        labels=labels,
        ip=status.get("podIP") or "",
        containers=containers,
        ready=conditions.get("Ready") == "True",
        workload=_workload(md),
        service_account=spec.get("serviceAccountName") or "default",
        restarts=sum(int(s.get("restartCount") or 0) for s in statuses.values()),
        created=_epoch(md.get("creationTimestamp")),
        ready_containers=sum(1 for s in statuses.values() if s.get("ready")),
        images=tuple(c.get("image", "") for c in spec.get("containers") or []),
    )


def _workload(md: Mapping[str, Any]) -> str:
    """The owning Deployment: a ReplicaSet owner's name without its pod-template hash."""
    labels = md.get("labels") or {}
    for owner in md.get("ownerReferences") or []:
        if owner.get("kind") == "Deployment":
            return owner["name"]
        if owner.get("kind") == "ReplicaSet":
            suffix = labels.get("pod-template-hash")
            name = owner["name"]
            if suffix and name.endswith("-" + suffix):
                return name[: -len(suffix) - 1]
            return name.rsplit("-", 1)[0]
    return labels.get("app", "")


def _epoch(stamp: Any) -> float | None:
    from datetime import datetime

    if not stamp:
        return None
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def parse_curl(code: int, out: bytes, err: bytes, elapsed: float) -> HttpResult:
    """``curl -s -S -i -w '\\n%{http_code} %{time_total}'`` output as an HttpResult."""
    text, sep, trailer = out.rpartition(b"\n")
    words = trailer.split()
    if not sep or len(words) != 2:
        text, words = out, []
    seconds = float(words[1]) if words else elapsed
    error = CURL_ERRORS.get(code, "protocol") if code else None
    detail = err.decode(errors="replace").strip()
    if error or not words or words[0] == b"000":
        return HttpResult(0, elapsed=seconds, error=error or "empty", detail=detail)
    head, _, body = text.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # 100 Continue, then the real answer
        head, _, body = body.partition(b"\r\n\r\n")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon:
            key = name.strip().lower()
            headers[key] = f"{headers[key]},{value.strip()}" if key in headers else value.strip()
    return HttpResult(int(words[0]), headers, body, seconds, None, detail)


def parse_syncz(data: Any) -> list[ProxySync]:
    """istiod's ``/debug/syncz``: CSDS ClientConfigs (``node.id``, ``genericXdsConfigs`` with
    ``typeUrl`` and ``configStatus``), as ``istioctl proxy-status`` reads them."""
    short = {"Cluster": "CDS", "Listener": "LDS", "ClusterLoadAssignment": "EDS",
             "RouteConfiguration": "RDS", "Secret": "SDS"}  # fmt: skip
    words = {"SYNCED": "SYNCED", "NOT_SENT": "NOT SENT", "STALE": "STALE", "ERROR": "NACK"}
    configs = data.get("resources", data) if isinstance(data, dict) else data
    out = []
    for cfg in configs or []:
        node = (cfg.get("node") or {}).get("id", "")
        # node id: <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local
        parts = node.split("~")
        name = parts[2] if len(parts) > 2 else node
        detail, version = {}, "-"
        for x in cfg.get("genericXdsConfigs") or cfg.get("generic_xds_configs") or []:
            kind = short.get(str(x.get("typeUrl") or x.get("type_url")).rsplit(".", 1)[-1])
            if kind:
                status = x.get("configStatus") or x.get("config_status") or "SYNCED"
                detail[kind] = words.get(status, status)
                version = str(x.get("versionInfo") or x.get("version_info") or version)
        synced = all(v in ("SYNCED", "NOT SENT") for v in detail.values())
        kind = "gateway" if parts[0] == "router" else "sidecar"
        raw = {"synced": synced, "types": {k: {"state": v} for k, v in detail.items()}}
        out.append(ProxySync(name, kind, synced, detail, version=version, node=node, raw=raw))
    return out
