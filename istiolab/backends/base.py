"""The one interface to drive a mesh: what a command, a lab check, a load run, a benchmark or
a test does to a mesh, whichever mesh it is.

Two implementations: ``LocalBackend`` (the running local mesh, through its control API) and
``KubeBackend`` (any kubeconfig context, through the official ``kubernetes`` client: a cluster
from ``pulumi up``, or the local mesh's own Kubernetes API). Callers get one from
:func:`istiolab.backends.open_backend` and never look behind it.

Everything here is plain data; the implementations are adapters.
"""

from __future__ import annotations

import abc
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from istiolab.workloads.client import EXIT_CODES as CURL_EXIT_CODES  # curl(1) EXIT CODES
from istiolab.workloads.client import Response, describe_error
from istiolab.workloads.loadgen import LoadResult


@dataclass(frozen=True)
class Pod:
    """One pod as either backend sees it."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ip: str  # the pod IP (on the local mesh: the sidecar's / pod's loopback address)
    containers: tuple[str, ...]  # e.g. ("sleep", "istio-proxy")
    ready: bool
    workload: str = ""  # the owning Deployment's name
    service_account: str = "default"
    restarts: int = 0
    created: float | None = None  # epoch seconds (kubectl's AGE)
    ready_containers: int = 0
    images: tuple[str, ...] = ()  # per container

    @property
    def sidecar(self) -> bool:
        return "istio-proxy" in self.containers

    @property
    def app(self) -> str:
        return self.labels.get("app", self.workload)

    @property
    def version(self) -> str:
        return self.labels.get("version", "")


@dataclass(frozen=True)
class HttpResult:
    """One exchange, curl's view. ``status`` is 0 when no HTTP response arrived."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    elapsed: float = 0.0  # seconds
    error: str | None = None  # a key of CURL_EXIT_CODES, or None
    detail: str = ""  # the underlying message, e.g. "Connection reset by peer"

    @property
    def exit_code(self) -> int:
        """What ``curl -s`` exits with (HTTP errors are 0, as without ``--fail``)."""
        return 0 if self.error is None else CURL_EXIT_CODES.get(self.error, 1)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        """curl's message for the failure, e.g. ``Recv failure: Connection reset by peer``."""
        return describe_error(self.error, self.detail)


@dataclass(frozen=True)
class ProxySync:
    """One proxy's xDS sync state, as ``istioctl proxy-status`` shows it."""

    name: str  # <pod>.<namespace>
    kind: str  # "sidecar" | "gateway"
    synced: bool  # every resource type ACKed at the current version
    detail: Mapping[str, str] = field(default_factory=dict)  # type -> SYNCED|STALE|NACK ...
    version: str = "-"  # the config version the proxy was last sent
    node: str = ""  # its xDS node id: ``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``
    raw: Mapping[str, Any] = field(default_factory=dict)  # the control plane's own record


@dataclass(frozen=True)
class ChangeResult:
    """What an apply or delete did: ``kind/name`` -> created|configured|unchanged|deleted."""

    changes: Sequence[tuple[str, str, str, str]]  # (kind, namespace, name, verb)
    warnings: Sequence[str] = ()
    lines: Sequence[str] = ()  # kubectl's words: ``deployment.apps/details-v1 created``
    pods_started: Sequence[str] = ()  # ``ns/pod`` the change (re)started
    pods_stopped: Sequence[str] = ()
    proxies: int = 0  # proxies that got the new config
    seconds: float = 0.0  # until they ACKed it
    sync_error: str | None = None  # why they did not, if they did not


class Backend(abc.ABC):
    """A mesh you can drive. Workload arguments are ``WORKLOAD[.NS]``: a Deployment name or
    the ``app`` label of its pods (``fortio``, ``fortio-deploy``, ``productpage``); NS
    defaults to ``default``."""

    #: "local" for the embedded mesh, else the kubeconfig context's name
    name: str

    # ---------------------------------------------------------------- objects
    @abc.abstractmethod
    def apply(self, objects: Sequence[Mapping[str, Any]], source: str = "<apply>") -> ChangeResult:
        """Create or update `objects` all or nothing (validated first; nothing half-applied)."""

    def check_supported(  # noqa: B027 - optional hook
        self,
        objects: Sequence[Mapping[str, Any]],
        positions: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        """Refuse, before anything is applied, what this mesh cannot run (the local mesh: a
        Deployment image it has no implementation of). `positions` are each object's (file,
        document index), so the error names them. Default: everything is supported."""

    @abc.abstractmethod
    def delete(self, refs: Sequence[tuple[str, str, str]]) -> ChangeResult:
        """Delete ``(kind, name, namespace)`` refs; a missing object is an error."""

    @abc.abstractmethod
    def get(
        self, kind: str, name: str | None = None, namespace: str | None = "default"
    ) -> list[dict]:
        """Objects of `kind` (any alias: ``vs``, ``virtualservices``); namespace None: all."""

    def objects(self) -> list[dict]:
        """Every config object of the kinds the mesh reads (all namespaces): what
        ``istioctl analyze`` analyses."""
        raise NotImplementedError

    # ---------------------------------------------------------------- pods
    @abc.abstractmethod
    def pods(self, namespace: str | None = None) -> list[Pod]:
        """Every pod (namespace None: all namespaces)."""

    def pod(self, workload: str) -> Pod:
        """The pod of ``WORKLOAD[.NS]`` (ready ones first, then by name); NotFoundError
        naming what runs."""
        return find_pod(self.pods(), workload)

    # ---------------------------------------------------------------- traffic
    @abc.abstractmethod
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
        """One request from inside pod `source` (``WORKLOAD[.NS]``), through its sidecar."""

    def sender(self, source: str) -> Callable[..., HttpResult]:
        """``send(url, **request_options)``: :meth:`request` from pod `source`, with the
        pod looked up once (for many requests, also from several threads)."""
        return functools.partial(self.request, source)

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
        timeout: float = 3.0,
    ) -> LoadResult:
        """A fortio load from inside pod `source`: `count` requests over `concurrency`
        connections at `qps` (None: as fast as possible); never raises for HTTP failures."""
        raise NotImplementedError(f"load generation is not available on the {self.name} backend")

    #: whether the mesh's pods are processes on this machine (so :meth:`egress` works and a
    #: load generator here can send as a pod); elsewhere load runs from inside the pod
    pods_are_local: bool = False

    def egress(self, source: str) -> tuple[str, str | None, Mapping[str, Any] | None]:
        """How pod `source` sends from this machine: (source address, its sidecar's
        outbound URL or None, the hosts map or None). Only where pods are processes on this
        machine (the local mesh); elsewhere a MeshError says to use :meth:`load`."""
        from istiolab.errors import MeshError

        raise MeshError(
            f"the {self.name} backend cannot send as pod {source} from this machine "
            "(its pods are not local processes); use request() or load(), which run inside "
            "the pod"
        )

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
        """One request from outside the mesh (this machine) to the ingress gateway's
        :meth:`gateway_url` (``path`` like ``/x``), with ``Host: host``."""
        from istiolab.workloads import client as http

        all_headers = {**({"Host": host} if host else {}), **(headers or {})}
        url = self.gateway_url() + "/" + path.lstrip("/")
        return http_result(
            http.send(url, method=method, headers=all_headers, data=data, timeout=timeout)
        )

    @abc.abstractmethod
    def gateway_url(self) -> str:
        """``http://HOST:PORT`` of the ingress gateway's port 80 as seen from this machine."""

    def cli_options(self) -> list[str]:
        """The ``istiolab`` options that reach this mesh from a child process (a lab's
        ``loadrun`` check runs ``istiolab load`` that way)."""
        raise NotImplementedError(f"the {self.name} backend cannot be named to a child process")

    def cli_env(self) -> dict[str, str]:
        """Environment variables a child process needs besides :meth:`cli_options`."""
        return {}

    def gateway_https_url(self) -> str:
        """``https://HOST:PORT`` of the ingress gateway's port 443 as seen from this machine
        (a TLS client connects there with the SNI of the host it wants)."""
        raise NotImplementedError(f"the {self.name} backend has no HTTPS gateway address")

    # ---------------------------------------------------------------- proxies
    @abc.abstractmethod
    def proxy_admin(self, workload: str, path: str, method: str = "GET") -> str:
        """A proxy's Envoy admin answer (``stats``, ``clusters``, ``config_dump``, ``certs``,
        ``stats?filter=...``); for the gateway use ``istio-ingressgateway.istio-system``."""

    def proxy_stats(self, workload: str, regex: str | None = None) -> dict[str, int]:
        """Envoy's counters and gauges of a proxy (``name: value`` lines), optionally filtered."""
        import re

        pattern = re.compile(regex) if regex else None
        stats: dict[str, int] = {}
        for line in self.proxy_admin(workload, "stats").splitlines():
            key, sep, value = line.rpartition(": ")
            if not sep or (pattern and not pattern.search(key)):
                continue
            try:
                stats[key] = int(value)
            except ValueError:
                continue  # histograms
        return stats

    @abc.abstractmethod
    def proxy_status(self) -> list[ProxySync]:
        """Every proxy's sync state."""

    @abc.abstractmethod
    def logs(self, workload: str, container: str | None = None, tail: int | None = None) -> str:
        """A pod's log: the app's, or ``istio-proxy`` (the Envoy access log)."""

    # ---------------------------------------------------------------- analysis
    ANALYZED_KINDS = (
        "Namespace", "Service", "Deployment", "Gateway", "VirtualService", "DestinationRule",
        "ServiceEntry", "Sidecar", "PeerAuthentication", "AuthorizationPolicy",
        "RequestAuthentication",
    )  # fmt: skip

    def analyze(self, namespace: str | None = None) -> list[dict]:
        """What ``istiolab analyze`` reports on the mesh's stored config, as dicts (level,
        code, kind, name, namespace, message, resource); `namespace` None: every namespace.
        Default: the local mesh's analyzers over the objects :meth:`get` returns."""
        from istiolab.local.model import MeshSettings
        from istiolab.local.registry import build_registry
        from istiolab.local.translate.analysis import analyze

        objects = [o for kind in self.ANALYZED_KINDS for o in self.get(kind, None, None)]
        settings = MeshSettings()
        registry, _ = build_registry(objects, settings, {})
        found = analyze(objects, registry, settings)
        return [
            {**a.__dict__, "resource": f"{a.kind} {a.namespace}/{a.name}"}
            for a in found
            if namespace is None or a.namespace in ("", namespace)
        ]

    # ---------------------------------------------------------------- telemetry
    def telemetry_window(self, seconds: float = 60.0) -> dict[str, Any]:
        """Istio's standard metric samples now and `seconds` ago, as
        ``{"now": [(metric, labels, value)...], "then": [...], "seconds": s}``: what the
        service graph is built from (``istiolab graph``, the console)."""
        from istiolab.errors import MeshError

        raise MeshError(f"{self.name}: this backend reads no service graph")

    def spans(self) -> list[dict]:
        """The Zipkin spans the mesh collected (``istiolab traces``, the console)."""
        from istiolab.errors import MeshError

        raise MeshError(f"{self.name}: this backend reads no traces")

    # ---------------------------------------------------------------- waiting
    @abc.abstractmethod
    def wait_converged(self, timeout: float = 30.0) -> None:
        """Return once every proxy ACKed the current config; MeshError naming the laggards."""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once every pod is ready; MeshError naming the ones that are not."""
        wait_all(
            lambda: sorted(f"{p.name}.{p.namespace}" for p in self.pods() if not p.ready),
            timeout,
            "pods not ready",
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (a no-op where there are none)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_pod(pods: Sequence[Pod], workload: str) -> Pod:
    """``WORKLOAD[.NS]`` among `pods`: a Deployment name, the pods' ``app`` label or a pod
    name, in NS (default ``default``); ready pods first, then the first by name."""
    from istiolab.errors import NotFoundError

    name, _, ns = workload.partition(".")
    ns = ns or "default"
    matches = [p for p in pods if p.namespace == ns and name in (p.workload, p.app, p.name)]
    if not matches:
        known = sorted({f"{p.workload or p.app}.{p.namespace}" for p in pods})
        raise NotFoundError(
            f"no workload {name!r} in namespace {ns} (running: {', '.join(known) or 'none'})"
        )
    return min(matches, key=lambda p: (not p.ready, p.name))


def http_result(resp: Response) -> HttpResult:
    """The in-pod client's Response (:mod:`istiolab.workloads.client`) as an HttpResult."""
    return HttpResult(
        resp.status, dict(resp.headers), resp.body, resp.elapsed, resp.error, resp.detail
    )


def wait_all(pending: Callable[[], list[str]], timeout: float, what: str) -> None:
    """Poll `pending` (what is not there yet) with backoff until it is empty; MeshError
    ``<what> after <timeout>s: <the last ones pending>`` at the timeout."""
    from istiolab.errors import MeshError
    from istiolab.local.supervisor import wait_until

    left: list[str] = []

    def done() -> bool:
        left[:] = pending()
        return not left

    try:
        wait_until(done, timeout, what)
    except MeshError:
        raise MeshError(f"{what} after {timeout:g}s: {', '.join(left)}") from None
