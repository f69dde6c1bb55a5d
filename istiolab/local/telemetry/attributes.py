"""Istio's standard metric labels for one access-log entry (pure).

Istio's stats filter labels every request twice: the client's proxy reports it
(``reporter="source"``) and the server's proxy reports it (``reporter="destination"``).
Values, as Istio gives them:

- a workload: its Deployment name and namespace, ``app`` / ``version`` labels, canonical
  service (``service.istio.io/canonical-name`` > ``app.kubernetes.io/name`` > ``app`` >
  workload) and revision (``service.istio.io/canonical-revision`` >
  ``app.kubernetes.io/version`` > ``version`` > ``latest``); ``unknown`` for a peer that
  has no proxy (Istio learns the peer from the proxies' metadata exchange: traffic from
  outside the mesh or from a pod without a sidecar has an ``unknown`` source);
- principals: SPIFFE ids when the hop is Istio mTLS, else ``unknown``;
- ``connection_security_policy``: ``mutual_tls`` / ``none`` as the destination sees the
  connection, ``unknown`` from the source;
- ``destination_service``: the upstream cluster's host (source), the request's authority
  resolved to a Service selecting the pod (destination);
- ``response_flags``: Envoy's short flags (``UO``, ``UH``, ``UF``...) or ``-``;
- ``request_protocol``: ``http`` / ``grpc`` / ``tcp``; ``source_cluster`` and
  ``destination_cluster``: ``Kubernetes`` (Istio's default cluster id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from istiolab.local.model import CLUSTER_DOMAIN, Pod, Proxy, Registry, Service

UNKNOWN = "unknown"
MEMO_LIMIT = 100_000  # distinct (proxy, peer, code, flags...) combinations remembered
CLUSTER_ID = "Kubernetes"

LABELS = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_canonical_service",
    "source_canonical_revision",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
)
TCP_LABELS = tuple(n for n in LABELS if n not in ("response_code", "grpc_response_status"))


@dataclass(frozen=True)
class Entry:
    """What one access-log entry tells (from Envoy's ALS, see :mod:`.als`)."""

    node_id: str
    direction: str  # inbound (reporter destination) | outbound (reporter source)
    tcp: bool = False
    connected: bool = False  # a TCP connection opened (no bytes yet)
    downstream_ip: str = ""
    downstream_port: int = 0  # the local port the connection arrived on
    upstream_ip: str = ""
    upstream_cluster: str = ""
    authority: str = ""
    method: str = ""
    path: str = ""
    response_code: int = 0
    flags: tuple[str, ...] = ()
    duration_ms: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    peer_uri: str = ""  # downstream client certificate's URI SAN (mTLS)
    grpc_status: str = ""
    protocol: str = "http"


@dataclass
class Peers:
    """What the control plane knows about the mesh's pods and proxies."""

    registry: Registry
    proxies: Mapping[str, Proxy]  # node id -> proxy
    mtls: Callable[[str, str], bool] = lambda node_id, cluster: False
    _by_ip: dict[str, tuple[Pod, bool]] = field(default_factory=dict, init=False)
    _memo: dict[tuple, tuple[dict[str, str], tuple] | None] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        for pod in self.registry.pods:
            self._by_ip[pod.ip] = (pod, pod.sidecar)
        for proxy in self.proxies.values():
            self._by_ip[proxy.pod.ip] = (proxy.pod, True)

    def pod(self, ip: str) -> tuple[Pod | None, bool]:
        """The pod with this IP and whether it has a proxy."""
        return self._by_ip.get(ip, (None, False))

    def labels(self, entry: Entry) -> tuple[dict[str, str], tuple] | None:
        """:func:`labels_for` and its sorted items (the series key), memoised by what
        decides them (a mesh has few distinct label sets; entries are many). The memo
        lives as long as this view of the mesh (one per reconcile)."""
        key = (
            entry.node_id, entry.direction, entry.tcp, entry.downstream_ip,
            entry.downstream_port, entry.upstream_ip, entry.upstream_cluster, entry.authority,
            entry.response_code, entry.flags, entry.peer_uri, entry.grpc_status, entry.protocol,
        )  # fmt: skip
        if key not in self._memo:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            labels = labels_for(entry, self)
            self._memo[key] = None if labels is None else (labels, tuple(sorted(labels.items())))
        return self._memo[key]


def workload_labels(prefix: str, pod: Pod | None) -> dict[str, str]:
    if pod is None:
        keys = ("workload", "workload_namespace", "app", "version")
        out = {f"{prefix}_{k}": UNKNOWN for k in keys}
        out[f"{prefix}_canonical_service"] = UNKNOWN
        out[f"{prefix}_canonical_revision"] = UNKNOWN
        return out
    labels = pod.labels
    canonical = (
        labels.get("service.istio.io/canonical-name")
        or labels.get("app.kubernetes.io/name")
        or labels.get("app")
        or pod.deployment
    )
    revision = (
        labels.get("service.istio.io/canonical-revision")
        or labels.get("app.kubernetes.io/version")
        or labels.get("version")
        or "latest"
    )
    return {
        f"{prefix}_workload": pod.deployment,
        f"{prefix}_workload_namespace": pod.namespace,
        f"{prefix}_app": labels.get("app", UNKNOWN),
        f"{prefix}_version": labels.get("version", UNKNOWN),
        f"{prefix}_canonical_service": canonical,
        f"{prefix}_canonical_revision": revision,
    }


def cluster_host(cluster: str) -> str:
    """``outbound|9080|v1|reviews.default.svc.cluster.local`` -> the host."""
    parts = cluster.split("|")
    return parts[3] if len(parts) == 4 and parts[0] == "outbound" else ""


def service_of(host: str, registry: Registry, namespace: str) -> Service | None:
    """The Service a host names (``reviews``, ``reviews:9080``, ``reviews.default``, FQDN)."""
    name = host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()
    parts = name.split(".")
    if len(parts) == 1:
        return registry.service(parts[0], namespace)
    if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
        return registry.service(parts[0], parts[1])
    return None


def _service_labels(host: str, service: Service | None) -> dict[str, str]:
    if service is not None:
        return {
            "destination_service": service.fqdn,
            "destination_service_name": service.name,
            "destination_service_namespace": service.namespace,
        }
    if not host:
        return {
            "destination_service": UNKNOWN,
            "destination_service_name": UNKNOWN,
            "destination_service_namespace": UNKNOWN,
        }
    suffix = f".svc.{CLUSTER_DOMAIN}"
    name, ns = host, UNKNOWN
    if host.endswith(suffix):
        name, _, ns = host[: -len(suffix)].partition(".")
    return {
        "destination_service": host,
        "destination_service_name": name,
        "destination_service_namespace": ns,
    }


def _inbound_service(entry: Entry, pod: Pod, registry: Registry) -> tuple[str, Service | None]:
    service = service_of(entry.authority, registry, pod.namespace) if entry.authority else None
    if service is not None and pod.matches(service.selector):
        return service.fqdn, service
    for svc in registry.services:  # the Service that selects this pod on this port
        same_port = not entry.downstream_port or any(
            p.target_port == entry.downstream_port for p in svc.ports
        )
        if svc.namespace == pod.namespace and pod.matches(svc.selector) and same_port:
            return svc.fqdn, svc
    return entry.authority.rsplit(":", 1)[0] if entry.authority else "", None


def labels_for(entry: Entry, peers: Peers) -> dict[str, str] | None:
    """Istio's labels for one entry, or None when the reporting proxy is not (any more)
    part of the mesh."""
    proxy = peers.proxies.get(entry.node_id)
    if proxy is None:
        return None
    me = proxy.pod
    flags = ",".join(entry.flags) or "-"
    if entry.direction == "inbound":
        peer, has_proxy = peers.pod(entry.downstream_ip)
        source = peer if has_proxy else None
        host, service = _inbound_service(entry, me, peers.registry)
        mtls = bool(entry.peer_uri)
        out = {
            "reporter": "destination",
            **workload_labels("source", source),
            "source_principal": entry.peer_uri or UNKNOWN,
            **workload_labels("destination", me),
            "destination_principal": me.spiffe_id if mtls else UNKNOWN,
            **_service_labels(host, service),
            "connection_security_policy": "mutual_tls" if mtls else "none",
        }
    else:
        peer, has_proxy = peers.pod(entry.upstream_ip)
        # no upstream cluster in the entry (a local reply such as an overflow): the authority
        host = cluster_host(entry.upstream_cluster) or entry.authority
        service = service_of(host, peers.registry, me.namespace) if host else None
        if service is None and ":" in host:
            host = host.rsplit(":", 1)[0]
        mtls = peer is not None and peers.mtls(entry.node_id, entry.upstream_cluster)
        dest = peer if (peer is not None and (has_proxy or service is not None)) else None
        out = {
            "reporter": "source",
            **workload_labels("source", me),
            "source_principal": me.spiffe_id if mtls else UNKNOWN,
            **workload_labels("destination", dest),
            "destination_principal": peer.spiffe_id if (mtls and peer) else UNKNOWN,
            **_service_labels(host, service),
            "connection_security_policy": UNKNOWN,
        }
    out["source_cluster"] = CLUSTER_ID
    out["destination_cluster"] = CLUSTER_ID if out["destination_workload"] != UNKNOWN else UNKNOWN
    out["response_flags"] = flags
    out["request_protocol"] = "tcp" if entry.tcp else entry.protocol
    if not entry.tcp:
        out["response_code"] = str(entry.response_code)
        out["grpc_response_status"] = entry.grpc_status
    return out
