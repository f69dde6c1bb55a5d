"""Clusters: ``outbound|<port>|<subset>|<host>`` for every visible service and ServiceEntry
port (one more per DestinationRule subset), ``inbound|<port>||`` for a sidecar's own
ports, and Istio's PassthroughCluster and BlackHoleCluster.

PassthroughCluster is a dynamic forward proxy cluster: apps talk to their sidecar as an
HTTP proxy (absolute-form requests), so an unknown host is resolved from the request's
Host, which is what ALLOW_ANY means in that mode.
"""

from __future__ import annotations

from istiolab.local.translate import names
from istiolab.local.translate.common import meta, socket_address
from istiolab.local.translate.context import Context, ServiceHost
from istiolab.local.translate.endpoints import addresses, load_assignment
from istiolab.local.translate.policy import apply_policy, effective_policy, upstream_tls

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
DFP_CLUSTER = "type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig"
DNS_CACHE = {"name": "dynamic_forward_proxy_cache_config", "dns_lookup_family": "V4_ONLY"}
EDS = {"eds_config": {"ads": {}, "resource_api_version": "V3"}}


def _base(name: str) -> dict:
    return {"@type": CLUSTER_TYPE, "name": name, "connect_timeout": "10s"}


def passthrough() -> dict:
    c = _base(names.PASSTHROUGH)
    c["lb_policy"] = "CLUSTER_PROVIDED"
    c["cluster_type"] = {
        "name": "envoy.clusters.dynamic_forward_proxy",
        "typed_config": {"@type": DFP_CLUSTER, "dns_cache_config": DNS_CACHE},
    }
    return c


def blackhole() -> dict:
    c = _base(names.BLACKHOLE)
    c["type"] = "STATIC"
    return c


def _http2(protocol: str) -> bool:
    return protocol in ("HTTP2", "GRPC")


def outbound_cluster(
    ctx: Context, host: ServiceHost, port: tuple[int, str, int], subset: str, labels
) -> tuple[dict, dict | None]:
    """One outbound cluster and, when it is EDS, its ClusterLoadAssignment."""
    name = names.outbound(port[0], host.host, subset)
    cluster = _base(name)
    assignment = None
    resolution = str(((host.entry or {}).get("spec") or {}).get("resolution", "STATIC"))
    if host.entry is not None and resolution in ("DNS", "DNS_ROUND_ROBIN"):
        cluster["type"] = "STRICT_DNS" if resolution == "DNS" else "LOGICAL_DNS"
        cluster["dns_lookup_family"] = "V4_ONLY"
        found = addresses(ctx, host, port, labels) or [(host.host, port[2])]
        cluster["load_assignment"] = load_assignment(name, found)
    elif host.entry is not None and resolution == "NONE":
        cluster["lb_policy"] = "CLUSTER_PROVIDED"
        cluster["cluster_type"] = passthrough()["cluster_type"]
    else:
        cluster["type"] = "EDS"
        cluster["eds_cluster_config"] = dict(EDS, service_name=name)
        assignment = load_assignment(name, addresses(ctx, host, port, labels))
    dr = ctx.destination_rule(host.host)
    cluster["metadata"] = istio_metadata(host, dr)
    policy = effective_policy(dr, port[0], subset)
    tls = policy.get("tls") or {}
    secret = _secret(ctx, tls.get("credentialName"), dr) if tls.get("credentialName") else None
    socket = upstream_tls(tls, host.host, secret)
    if socket is not None:
        cluster["transport_socket"] = socket
    if "cluster_type" in cluster:
        apply_policy(cluster, {k: v for k, v in policy.items() if k != "loadBalancer"})
        cluster["lb_policy"] = "CLUSTER_PROVIDED"
    else:
        apply_policy(cluster, policy, http2=_http2(port[1]))
        if cluster.get("type") == "ORIGINAL_DST":
            assignment = None
    return cluster, assignment


def istio_metadata(host: ServiceHost, dr: dict | None) -> dict:
    """Istio's cluster metadata: the service(s) behind the cluster and, when one shapes it,
    the DestinationRule's config path (what `istioctl proxy-config clusters` shows)."""
    if host.service is not None:
        service = {"host": host.host, "name": host.service.name, "namespace": host.namespace}
    else:
        service = {"host": host.host, "name": host.host, "namespace": host.namespace}
    istio: dict = {"services": [service]}
    if dr is not None:
        name, ns = meta(dr)
        istio["config"] = f"/apis/networking.istio.io/v1/namespaces/{ns}/destination-rule/{name}"
    return {"filter_metadata": {"istio": istio}}


def _secret(ctx: Context, name: str, dr: dict | None) -> dict | None:
    """A Secret named by ``credentialName``, in the DestinationRule's or proxy's namespace."""
    return ctx.index.secret(name, (ctx.namespace, meta(dr)[1] if dr else ctx.namespace))


def outbound_clusters(ctx: Context) -> tuple[dict[str, dict], dict[str, dict]]:
    clusters: dict[str, dict] = {}
    endpoints: dict[str, dict] = {}
    for host in ctx.hosts.values():
        dr = ctx.destination_rule(host.host)
        subsets = [
            (s["name"], dict(s.get("labels") or {}))
            for s in ((dr or {}).get("spec") or {}).get("subsets") or []
            if s.get("name")
        ]
        for port in host.ports:
            for subset, labels in [("", None), *subsets]:
                cluster, assignment = outbound_cluster(ctx, host, port, subset, labels)
                clusters[cluster["name"]] = cluster
                if assignment is not None:
                    endpoints[cluster["name"]] = {"@type": ENDPOINT_TYPE, **assignment}
    return clusters, endpoints


def inbound_cluster(port: int, app_ip: str, app_socket: str | None = None) -> dict:
    """``inbound|<port>||``: the app on its pod-local address, or on its Unix socket
    (``MeshSettings.app_socket``: only the mesh's owner can reach the app around the
    sidecar)."""
    name = names.inbound(port)
    c = _base(name)
    c["type"] = "STATIC"
    c["lb_policy"] = "ROUND_ROBIN"
    address = {"pipe": {"path": app_socket}} if app_socket else socket_address(app_ip, port)
    c["load_assignment"] = {
        "cluster_name": name,
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
    }
    return c
