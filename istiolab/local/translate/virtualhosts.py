"""The sidecar's HTTP-proxy route config: one virtual host per service port a client may
name (``details.default.svc.cluster.local:9080``, with every short form as a domain), the
VirtualService bound to ``mesh`` that owns each host, and the catch-all for unknown hosts
(``allow_any`` -> PassthroughCluster, or ``block_all`` -> 502 under REGISTRY_ONLY)."""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.local.translate import names
from istiolab.local.translate.context import Context
from istiolab.local.translate.routes import (
    HTTP_PROTOCOLS,
    ROUTE_TYPE,
    default_route,
    http_routes,
    qualify_match_gateways,
)
from istiolab.local.translate.tcproutes import passthrough_connect, sidecar_tcp_vhosts


def mesh_virtual_service(ctx: Context, host: str) -> Mapping | None:
    """The VirtualService bound to ``mesh`` that owns a host: an exact host over a
    wildcard (``*.default.svc.cluster.local``), the proxy's namespace first, then the oldest."""
    best = None
    for exact, rule in ctx.index.mesh_virtual_services(host):
        if not names.exported_to(rule.obj, ctx.namespace):
            continue
        key = (0 if exact else 1, 0 if rule.namespace == ctx.namespace else 1, rule.order)
        if best is None or key < best[0]:
            best = (key, rule.obj)
    if best is None:
        return None
    memo = ctx.index.memo
    qualified = ("qualified", id(best[1]))
    if qualified not in memo:
        memo[qualified] = qualify_match_gateways(best[1])
    return memo[qualified]


def sidecar_route_config(ctx: Context) -> dict:
    """The route config of the outbound HTTP-proxy listener: one virtual host per HTTP
    service port (``details.default.svc.cluster.local:9080``) plus the catch-all
    (``allow_any`` -> PassthroughCluster, or ``block_all`` -> 502 for REGISTRY_ONLY)."""
    vhosts = []
    used: set[str] = set()
    for host in sorted(ctx.hosts.values(), key=lambda h: h.host):
        http_ports = [p for p in host.ports if p[1] in HTTP_PROTOCOLS]
        if not http_ports:
            continue
        portless_port = 80 if host.port(80) else http_ports[0][0]
        vs = mesh_virtual_service(ctx, host.host)
        for port in http_ports:
            if host.service is not None:
                svc = host.service
                domains = names.service_domains(
                    svc.name,
                    svc.namespace,
                    port[0],
                    local=svc.namespace == ctx.namespace,
                    portless=port[0] == portless_port,
                )
            else:
                domains = [f"{host.host}:{port[0]}"]
                if port[0] == portless_port:
                    domains.insert(0, host.host)
            domains = [d for d in domains if d not in used]
            if not domains:
                continue
            used.update(domains)
            routes = http_routes(ctx, vs, port=port[0], gateway="mesh") if vs else []
            if not routes:
                routes = [default_route(host, port[0], ctx)]
            vhosts.append(
                {
                    "name": f"{host.host}:{port[0]}",
                    "domains": domains,
                    "routes": routes,
                    "include_request_attempt_count": True,  # x-envoy-attempt-count, as Istio
                }
            )
    vhosts += sidecar_tcp_vhosts(ctx, used, mesh_virtual_service)  # CONNECT (tcproutes.py)
    vhosts.append(catch_all(ctx))
    return {
        "@type": ROUTE_TYPE,
        "name": names.HTTP_PROXY_ROUTE,
        "virtual_hosts": vhosts,
        "validate_clusters": False,
    }


def catch_all(ctx: Context) -> dict:
    if ctx.mesh.outbound_mode == "REGISTRY_ONLY":
        return {
            "name": "block_all",
            "domains": ["*"],
            "routes": [
                {"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}
            ],
            "include_request_attempt_count": True,
        }
    return {
        "name": "allow_any",
        "domains": ["*"],
        "routes": [
            {
                "name": "allow_any",
                "match": {"prefix": "/"},
                "route": {"cluster": names.PASSTHROUGH, "timeout": "0s"},
            },
            passthrough_connect(),  # TCP/TLS to unknown hosts (tcproutes.py)
        ],
        "include_request_attempt_count": True,
    }
