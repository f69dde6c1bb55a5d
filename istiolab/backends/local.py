"""``LocalBackend``: the local mesh of one state directory, through its control API.

Objects go to the running supervisor (``/apply``, ``/delete``, ``/get``); with no mesh running
they are read and written in the state directory's store, as ``kubectl`` would against a
stopped cluster's etcd. Pods, proxies and logs need the running mesh (NotRunning otherwise).

A request "from inside a pod" is sent by this process exactly as the pod's app sends it: from
the pod's app address, through the pod's sidecar (``http://<pod ip>:15001``), or, for a pod
without a sidecar, resolving Services through the mesh's hosts map (kube DNS + kube-proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from istiolab.backends.base import (
    Backend,
    ChangeResult,
    HttpResult,
    Pod,
    ProxySync,
    find_pod,
    http_result,
    wait_all,
)
from istiolab.errors import MeshError, NotFoundError
from istiolab.local.control import ControlClient, NotRunning
from istiolab.local.kubeapi.workloads import PROXY_CONTAINER, PROXY_IMAGE, container_names
from istiolab.local.model import OUTBOUND_PORT
from istiolab.local.state import StateDir, resolve_state_dir
from istiolab.manifests.kinds import lookup
from istiolab.workloads.client import HostsMap
from istiolab.workloads.loadgen import FORTIO_TIMEOUT, LoadResult


def pod_from_row(row: Mapping[str, Any]) -> Pod:
    """A control API pod row (``/pods``, ``/status``) as a typed :class:`Pod`."""
    containers = tuple(container_names(row))
    images = tuple(PROXY_IMAGE if c == PROXY_CONTAINER else row["image"] for c in containers)
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
        images=images,
    )


class LocalBackend(Backend):
    """The local mesh of `state_dir` (``--state-dir``, ``$ISTIOLAB_STATE_DIR``, ``./.istiolab``)."""

    name = "local"
    pods_are_local = True

    def __init__(self, state_dir: str | Path | None = None, timeout: float = 120.0) -> None:
        self.state = StateDir(resolve_state_dir(str(state_dir) if state_dir else None))
        self.timeout = timeout

    # ---------------------------------------------------------------- plumbing
    def client(self) -> ControlClient | None:
        """The running supervisor's control API client, or None when no mesh runs; MeshError
        when it is half broken (supervisor gone with its proxies running, stopped, or without
        its socket), so nothing is written behind running proxies' back."""
        from istiolab.local.health import supervisor_problem

        problem = supervisor_problem(self.state)
        if problem:
            raise MeshError(problem)
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

        return ConfigStore(self.state.root, settings=self.state.load_settings())

    def status(self) -> dict:
        """The supervisor's full status (settings, pods with PIDs and notes, findings)."""
        return self.running().get("/status")

    def hosts(self) -> dict[str, list[str]]:
        """``fqdn:port`` -> endpoints: what kube DNS + kube-proxy give a pod without sidecar."""
        return self.running().get("/hosts")

    # ---------------------------------------------------------------- objects
    def check_supported(
        self,
        objects: Sequence[Mapping[str, Any]],
        positions: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        from istiolab.local.pods import check_images

        check_images(objects, positions)

    def apply(self, objects: Sequence[Mapping[str, Any]], source: str = "<apply>") -> ChangeResult:
        objects = [dict(o) for o in objects]
        self.check_supported(objects)
        client = self.client()
        if client is None:
            return _change(objects, self._store().apply(objects, source))
        result = client.post("/apply", {"objects": objects, "source": source})
        return _change(objects, result["lines"], result)

    def delete(self, refs: Sequence[tuple[str, str, str]]) -> ChangeResult:
        client = self.client()
        if client is None:
            lines, missing = self._store().delete_many(refs)
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
        info = lookup(kind)  # None: a kind only the store names (the Gateway API's Gateway)
        if info is not None and info.kind == "Pod":  # derived from the running pods
            return self._pod_objects(name, namespace)
        ns = "*" if namespace is None else namespace
        client = self.client()
        if client is None:
            from istiolab.local.api import get_objects

            return get_objects(self._store(), {"kind": kind, "name": name, "namespace": ns})
        return client.get("/get", kind=kind, name=name, namespace=ns)

    def stored(self) -> list[dict]:
        """The state directory's stored config, read directly (what `up` will deploy)."""
        return self._store().objects() if self.state.root.exists() else []

    def seed(self, objects: Sequence[Mapping[str, Any]], source: str) -> ChangeResult:
        """Write `objects` to the stored config directly, for `up` before its mesh runs
        (validated and dry-run like any apply; no running mesh is asked)."""
        objects = [dict(o) for o in objects]
        self.check_supported(objects)
        return _change(objects, self._store().apply(objects, source))

    def objects(self) -> list[dict]:
        client = self.client()
        if client is not None:
            return client.get("/objects")
        return self.stored()

    def _pod_objects(self, name: str | None, namespace: str | None) -> list[dict]:
        from istiolab.local.kubeapi.view import snapshot

        rows = self.pod_rows()
        found = [
            obj
            for (kind, ns, pod), obj in snapshot(self.objects(), rows, "").items()
            if kind == "Pod" and namespace in (None, ns) and name in (None, pod)
        ]
        if name is not None and not found:
            raise NotFoundError(f'pods "{name}" not found in namespace {namespace}')
        return found

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
        rows = self.pod_rows()
        pod = find_pod([pod_from_row(r) for r in rows], source)
        row = next(r for r in rows if (r["namespace"], r["name"]) == (pod.namespace, pod.name))
        if row["sidecar"]:
            return row["app_ip"], f"http://{row['ip']}:{OUTBOUND_PORT}", None
        return row["app_ip"], None, self.hosts()

    def sender(self, source: str) -> Callable[..., HttpResult]:
        from istiolab.workloads import client as http

        source_ip, proxy, hosts = self.egress(source)
        namespace = source.partition(".")[2] or "default"

        def send(
            url: str,
            *,
            method: str = "GET",
            headers: Mapping[str, str] | None = None,
            data: str | bytes | None = None,
            timeout: float = 30.0,
        ) -> HttpResult:
            resp = http.send(
                url,
                source_ip=source_ip,
                proxy=proxy,
                hosts=hosts,
                namespace=namespace,
                method=method,
                headers=headers,
                data=data,
                timeout=timeout,
            )
            return http_result(resp)

        return send

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
        return self.sender(source)(url, method=method, headers=headers, data=data, timeout=timeout)

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

    def cli_options(self) -> list[str]:
        return ["--state-dir", str(self.state.root)]

    def gateway_url(self) -> str:
        return self.running().get("/info")["gateway_url"]

    def gateway_https_url(self) -> str:
        settings = self.running().get("/info")["settings"]
        return f"https://{settings['gateway_host']}:{settings['gateway_https_port']}"

    # ---------------------------------------------------------------- proxies
    def proxy_admin(self, workload: str, path: str, method: str = "GET") -> str:
        pod = self.pod(workload)
        if not pod.sidecar:
            raise MeshError(
                f"{pod.workload or pod.name}.{pod.namespace} has no sidecar (namespace not "
                "labelled istio-injection=enabled)"
            )
        body = {"pod": pod.name, "namespace": pod.namespace, "method": method.upper()}
        return self.running().post("/proxy-admin", {**body, "path": "/" + path.lstrip("/")})["body"]

    def proxy_status(self) -> list[ProxySync]:
        return [proxy_sync(row) for row in self.proxy_status_rows()]

    def proxy_status_rows(self) -> list[dict]:
        """The supervisor's raw per-proxy xDS state (node id, per-type versions)."""
        return self.running().get("/proxy-status")["proxies"]

    def logs(self, workload: str, container: str | None = None, tail: int | None = None) -> str:
        pod = self.pod(workload)
        query = {"namespace": pod.namespace, "pod": pod.name, "container": container}
        return self.running().get("/logs", **query, tail=tail)["log"]

    # ---------------------------------------------------------------- waiting
    def wait_converged(self, timeout: float = 30.0) -> None:
        wait_all(
            lambda: sorted(p.name for p in self.proxy_status() if not p.synced),
            timeout,
            "proxies not synced",
        )

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
    """The store's lines (warnings, then one per object: ``kind.group/name verb``) as a
    ChangeResult."""
    warnings, lines = list(lines[: len(lines) - len(objects)]), list(lines[-len(objects) :])
    changes = []
    for obj, line in zip(objects, lines, strict=True):
        md = obj.get("metadata") or {}
        verb = line.rpartition(" ")[2]
        changes.append((str(obj.get("kind")), md.get("namespace") or "default", md["name"], verb))
    return ChangeResult(changes, tuple(warnings), lines=tuple(lines), **_details(result or {}))


def proxy_sync(row: Mapping[str, Any]) -> ProxySync:
    """A control API ``/proxy-status`` row (raw per-type xDS state) as a ProxySync."""
    from istiolab.local.proxyview import sync_states

    states, version = sync_states(row.get("status"))
    synced = bool(states) and all(v in ("SYNCED", "NOT SENT") for v in states.values())
    kind = "gateway" if row.get("type") == "router" else "sidecar"
    return ProxySync(
        row["name"],
        kind,
        synced,
        detail=states,
        version=version,
        node=str(row.get("node") or ""),
        raw=dict(row.get("status") or {}),
    )
