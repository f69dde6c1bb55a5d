"""``LocalBackend``: the local mesh of one state directory, through its control API.

Objects go to the running supervisor (``/apply``, ``/delete``, ``/get``); with no mesh running
they are read and written in the state directory's store, as ``kubectl`` would against a
stopped cluster's etcd. Pods, proxies and logs need the running mesh (NotRunning otherwise).

A request "from inside a pod" is sent by this process exactly as the pod's app sends it: from
the pod's app address, through the pod's sidecar (``http://<pod ip>:15001``), or, for a pod
without a sidecar, resolving Services through the mesh's hosts map (kube DNS + kube-proxy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from istiolab.backends.base import Backend, ChangeResult, HttpResult, Pod, ProxySync
from istiolab.errors import MeshError, NotFoundError
from istiolab.local.control import ControlClient, NotRunning
from istiolab.local.model import OUTBOUND_PORT
from istiolab.local.state import StateDir, resolve_state_dir
from istiolab.workloads.client import HostsMap, Response
from istiolab.workloads.loadgen import FORTIO_TIMEOUT, LoadResult

PROXY_CONTAINER = "istio-proxy"


def _http_result(resp: Response) -> HttpResult:
    return HttpResult(
        status=resp.status,
        headers=dict(resp.headers),
        body=resp.body,
        elapsed=resp.elapsed,
        error=resp.error,
        detail=resp.detail,
    )


def pod_from_row(row: Mapping[str, Any]) -> Pod:
    """A control API pod row (``/pods``, ``/status``) as a typed :class:`Pod`."""
    app = row["labels"].get("app") or row["deployment"]
    if row.get("gateway"):
        containers: tuple[str, ...] = (PROXY_CONTAINER,)
    else:
        containers = (app, PROXY_CONTAINER) if row["sidecar"] else (app,)
    return Pod(
        name=row["name"],
        namespace=row["namespace"],
        labels=dict(row["labels"]),
        ip=row["ip"],
        containers=containers,
        ready=bool(row["ready"]),
        workload=row["deployment"],
        service_account=row.get("service_account") or "default",
        restarts=int(row.get("restarts") or 0),
        created=row.get("created"),
        ready_containers=int(row.get("ready_containers", len(containers) if row["ready"] else 0)),
    )


class LocalBackend(Backend):
    """The local mesh of `state_dir` (``--state-dir``, ``$ISTIOLAB_STATE_DIR``, ``./.istiolab``)."""

    name = "local"

    def __init__(self, state_dir: str | Path | None = None, timeout: float = 120.0) -> None:
        self.state = StateDir(resolve_state_dir(str(state_dir) if state_dir else None))
        self.timeout = timeout

    # ---------------------------------------------------------------- plumbing
    def client(self) -> ControlClient | None:
        """The running supervisor's control API client, or None when no mesh runs."""
        if self.state.running_pid() is None:
            return None
        return ControlClient(self.state.socket, timeout=self.timeout)

    def running(self) -> ControlClient:
        client = self.client()
        if client is None:
            raise NotRunning(
                f"the local mesh is not running (state directory {self.state.root}); "
                "start it with `istiolab up`"
            )
        return client

    def _store(self) -> Any:
        from istiolab.local.store import ConfigStore

        return ConfigStore(self.state.root)

    def status(self) -> dict:
        """The supervisor's full status (settings, pods with PIDs and notes, findings)."""
        return self.running().get("/status")

    def hosts(self) -> dict[str, list[str]]:
        """``fqdn:port`` -> endpoints: what kube DNS + kube-proxy give a pod without sidecar."""
        return self.running().get("/hosts")

    # ---------------------------------------------------------------- objects
    def apply(self, objects: Sequence[Mapping[str, Any]], source: str = "<apply>") -> ChangeResult:
        from istiolab.local.pods import check_images

        objects = [dict(o) for o in objects]
        check_images(objects)
        client = self.client()
        if client is None:
            return _change(objects, self._store().apply(objects, source))
        result = client.post("/apply", {"objects": objects, "source": source})
        return _change(objects, result["lines"], result)

    def delete(self, refs: Sequence[tuple[str, str, str]]) -> ChangeResult:
        client = self.client()
        if client is None:
            store = self._store()
            lines, missing = [], []
            for kind, name, ns in refs:
                try:
                    lines.append(store.delete(kind, name, ns))
                except NotFoundError as exc:
                    missing.append(str(exc))
            if not lines and missing:
                raise NotFoundError("; ".join(missing))
            result: dict = {"lines": lines, "errors": missing}
        else:
            body = [{"kind": k, "name": n, "namespace": ns} for k, n, ns in refs]
            result = client.post("/delete", {"refs": body})
        deleted = {line.rpartition(" ")[0] for line in result["lines"]}
        changes = [
            (kind, ns, name, "deleted")
            for kind, name, ns in refs
            if any(d.endswith("/" + name) for d in deleted)
        ]
        warnings = tuple(result.get("errors") or ())
        return ChangeResult(changes, warnings, lines=tuple(result["lines"]), **_details(result))

    def get(
        self, kind: str, name: str | None = None, namespace: str | None = "default"
    ) -> list[dict]:
        ns = "*" if namespace is None else namespace
        client = self.client()
        if client is None:
            from istiolab.local.api import get_objects

            return get_objects(self._store(), {"kind": kind, "name": name, "namespace": ns})
        return client.get("/get", kind=kind, name=name, namespace=ns)

    # ---------------------------------------------------------------- pods
    def pod_rows(self) -> list[dict]:
        """The control API's pod rows (gateway first), with PIDs and notes."""
        return self.running().get("/pods")

    def pods(self, namespace: str | None = None) -> list[Pod]:
        pods = [pod_from_row(r) for r in self.pod_rows()]
        return [p for p in pods if namespace is None or p.namespace == namespace]

    # ---------------------------------------------------------------- traffic
    def egress(self, source: str) -> tuple[str, str | None, HostsMap | None]:
        """How pod `source` sends: (its app's source address, its sidecar's outbound
        listener URL or None, the hosts map or None); what :mod:`istiolab.workloads.client`
        and the load generators need to send as that pod."""
        wanted = self.pod(source)
        row = next(
            r
            for r in self.pod_rows()
            if (r["namespace"], r["name"]) == (wanted.namespace, wanted.name)
        )
        if row["sidecar"]:
            return row["app_ip"], f"http://{row['ip']}:{OUTBOUND_PORT}", None
        return row["app_ip"], None, self.hosts()

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
        from istiolab.workloads import client as http

        source_ip, proxy, hosts = self.egress(source)
        ns = source.partition(".")[2] or "default"
        resp = http.send(
            url,
            source_ip=source_ip,
            proxy=proxy,
            hosts=hosts,
            namespace=ns,
            method=method,
            headers=headers,
            data=data,
            timeout=timeout,
        )
        return _http_result(resp)

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
        from istiolab.workloads.loadgen import load

        source_ip, proxy, hosts = self.egress(source)
        return load(
            url,
            count=count,
            concurrency=concurrency,
            qps=qps,
            source_ip=source_ip,
            proxy=proxy,
            hosts=hosts,
            namespace=source.partition(".")[2] or "default",
            method=method,
            headers=headers,
            data=data,
            timeout=timeout,
        )

    def gateway_url(self) -> str:
        return self.running().get("/info")["gateway_url"]

    def gateway_request(
        self,
        path: str,
        *,
        host: str | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        timeout: float = 30.0,
    ) -> HttpResult:
        from istiolab.workloads import client as http

        all_headers = {**({"Host": host} if host else {}), **(headers or {})}
        url = self.gateway_url() + "/" + path.lstrip("/")
        resp = http.send(url, method=method, headers=all_headers, data=data, timeout=timeout)
        return _http_result(resp)

    # ---------------------------------------------------------------- proxies
    def proxy_admin(self, workload: str, path: str, method: str = "GET") -> str:
        pod = self.pod(workload)
        answer = self.running().post(
            "/proxy-admin",
            {"namespace": pod.namespace, "pod": pod.name, "path": path, "method": method},
        )
        if answer["status"] != 200:
            raise MeshError(
                f"Envoy admin of {pod.name}.{pod.namespace} answered {answer['status']} to "
                f"{method} /{path.lstrip('/')}: {answer['body'].strip()[:200]}"
            )
        return answer["body"]

    def proxy_status(self) -> list[ProxySync]:
        return [_proxy_sync(row) for row in self.proxy_status_rows()]

    def proxy_status_rows(self) -> list[dict]:
        """The supervisor's raw per-proxy xDS state (node id, per-type versions)."""
        return self.running().get("/proxy-status")["proxies"]

    def logs(self, workload: str, container: str | None = None, tail: int | None = None) -> str:
        pod = self.pod(workload)
        query = {"namespace": pod.namespace, "pod": pod.name, "container": container}
        return self.running().get("/logs", **query, tail=tail)["log"]

    # ---------------------------------------------------------------- waiting
    def wait_converged(self, timeout: float = 30.0) -> None:
        from istiolab.local.supervisor import wait_until

        lagging: list[str] = []

        def converged() -> bool:
            lagging[:] = sorted(p.name for p in self.proxy_status() if not p.synced)
            return not lagging

        try:
            wait_until(converged, timeout, "proxies in sync")
        except MeshError:
            raise MeshError(
                f"proxies not synced after {timeout:g}s: {', '.join(lagging)}"
            ) from None

    def wait_ready(self, timeout: float = 60.0) -> None:
        from istiolab.local.supervisor import wait_until

        waiting: list[str] = []

        def ready() -> bool:
            waiting[:] = sorted(f"{p.name}.{p.namespace}" for p in self.pods() if not p.ready)
            return not waiting

        try:
            wait_until(ready, timeout, "pods ready")
        except MeshError:
            raise MeshError(f"pods not ready after {timeout:g}s: {', '.join(waiting)}") from None

    # ---------------------------------------------------------------- telemetry
    def telemetry_window(self, seconds: float = 60.0) -> dict[str, Any]:
        data = self.running().get("/telemetry/window", seconds=seconds)
        return {
            "now": [tuple(x) for x in data["now"]],
            "then": [tuple(x) for x in data["then"]],
            "seconds": data["seconds"],
        }

    def spans(self) -> list[dict]:
        from istiolab.local.telemetry.spans import read_spans, spans_path

        return read_spans(spans_path(self.state.root))


def _details(result: Mapping[str, Any]) -> dict:
    """The running mesh's side of a change: pods restarted, proxies synced, how fast."""
    synced = result.get("synced") or {}
    return {
        "pods_started": tuple(result.get("started") or ()),
        "pods_stopped": tuple(result.get("stopped") or ()),
        "proxies": int(result.get("proxies") or 0),
        "seconds": float(result.get("seconds") or 0.0),
        "sync_error": None if synced.get("ok", True) else str(synced.get("error")),
    }


def _change(
    objects: Sequence[Mapping[str, Any]], lines: Sequence[str], result: Mapping | None = None
) -> ChangeResult:
    """The store's lines (one per object, ``kind.group/name verb``) as a ChangeResult."""
    changes = []
    for obj, line in zip(objects, lines, strict=True):
        md = obj.get("metadata") or {}
        verb = line.rpartition(" ")[2]
        changes.append((str(obj.get("kind")), md.get("namespace") or "default", md["name"], verb))
    return ChangeResult(changes, lines=tuple(lines), **_details(result or {}))


def _proxy_sync(row: Mapping[str, Any]) -> ProxySync:
    from istiolab.local.proxyview import sync_states

    states, version = sync_states(row.get("status"))
    synced = bool(states) and all(v in ("SYNCED", "NOT SENT") for v in states.values())
    kind = "gateway" if row.get("type") == "router" else "sidecar"
    return ProxySync(row["name"], kind, synced, detail=states, version=version)
