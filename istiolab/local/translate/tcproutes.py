"""TCP and TLS routing: VirtualService ``tcp`` and ``tls`` routes, for sidecars and gateways.

- Sidecars: apps reach services through their sidecar as a proxy, so a TCP connection is
  an HTTP ``CONNECT host:port`` to the outbound listener (as ``HTTPS_PROXY`` does); every
  non-HTTP service port gets a virtual host whose CONNECT route tunnels the bytes to the
  cluster(s) the ``mesh`` VirtualService's ``tcp`` route picks (weights, subsets, ``port``
  and ``sourceLabels`` matches), else to the service. TLS/HTTPS ports are tunnelled the same
  way (TLS is end to end, the client originates it); ``tls`` routes match on the port.
  Unknown hosts tunnel through PassthroughCluster under ALLOW_ANY; under REGISTRY_ONLY the
  CONNECT finds no route (the client sees its TLS handshake fail, as curl's exit 35).
- Gateways: a ``TCP`` server (or ``TLS`` with ``SIMPLE``/``MUTUAL`` termination) becomes a
  listener whose tcp_proxy follows the bound VirtualServices' ``tcp`` routes; a ``TLS``
  (or ``HTTPS``) server in ``PASSTHROUGH`` mode a listener with the TLS inspector and one
  filter chain per ``tls`` route's ``sniHosts``. ``AUTO_PASSTHROUGH`` routes on SNI of the
  form ``outbound_.<port>_.<subset>_.<host>`` (Istio's multi-network gateways) directly to
  that cluster.
"""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.local.translate import names
from istiolab.local.translate.common import meta
from istiolab.local.translate.context import Context, ServiceHost
from istiolab.local.translate.routes import HTTP_PROTOCOLS, destination_cluster, match_applies

TCP_PROXY = "envoy.filters.network.tcp_proxy"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
CONNECT = [{"upgrade_type": "CONNECT", "connect_config": {}}]

Weighted = list[tuple[str, int]]  # (cluster, weight)


def _applies(ctx: Context, match: Mapping, port: int | None, gateway: str, ns: str) -> bool:
    gws = [g if g == "mesh" or "/" in g else f"{ns}/{g}" for g in match.get("gateways") or []]
    return match_applies(ctx, {**match, "gateways": gws}, port, gateway)


def _weighted(ctx: Context, route: list[Mapping], ns: str, port: int | None) -> Weighted:
    dests = [d for d in route if d.get("weight", 1) != 0] or list(route)
    return [
        (destination_cluster(ctx, d.get("destination") or {}, ns, port), int(d.get("weight", 100)))
        for d in dests
    ]


def tcp_destinations(ctx: Context, vs: Mapping | None, port: int, gateway: str) -> Weighted | None:
    """The clusters of the first ``tcp`` route of ``vs`` that applies on ``port``."""
    if vs is None:
        return None
    _, ns = meta(vs)
    for entry in (vs.get("spec") or {}).get("tcp") or []:
        matches = entry.get("match") or [{}]
        if any(_applies(ctx, m or {}, port, gateway, ns) for m in matches):
            return _weighted(ctx, entry.get("route") or [], ns, port)
    return None


def tls_destinations(
    ctx: Context, vs: Mapping, port: int, gateway: str
) -> list[tuple[list[str], Weighted]]:
    """(SNI hosts, clusters) of every ``tls`` route of ``vs`` that applies on ``port``."""
    _, ns = meta(vs)
    out = []
    for entry in (vs.get("spec") or {}).get("tls") or []:
        for m in entry.get("match") or []:
            if _applies(ctx, m or {}, port, gateway, ns):
                sni = [str(h).lower() for h in m.get("sniHosts") or []]
                out.append((sni, _weighted(ctx, entry.get("route") or [], ns, port)))
    return out


def tcp_proxy(stat_prefix: str, clusters: Weighted) -> dict:
    config: dict = {"@type": TCP_PROXY_TYPE, "stat_prefix": stat_prefix}
    if len(clusters) == 1:
        config["cluster"] = clusters[0][0]
    else:
        config["weighted_clusters"] = {"clusters": [{"name": c, "weight": w} for c, w in clusters]}
    return {"name": TCP_PROXY, "typed_config": config}


def connect_route(name: str, clusters: Weighted) -> dict:
    """A CONNECT route tunnelling to ``clusters`` (weighted when several)."""
    action: dict = {"timeout": "0s", "upgrade_configs": CONNECT}
    if len(clusters) == 1:
        action["cluster"] = clusters[0][0]
    else:
        action["weighted_clusters"] = {"clusters": [{"name": c, "weight": w} for c, w in clusters]}
    return {"name": name, "match": {"connect_matcher": {}}, "route": action}


# -- sidecars -----------------------------------------------------------------------------
def sidecar_tcp_vhosts(ctx: Context, used: set[str], virtual_service) -> list[dict]:
    """One CONNECT virtual host per non-HTTP service port (``tcp-echo:9000``)."""
    out = []
    for host in sorted(ctx.hosts.values(), key=lambda h: h.host):
        tcp_ports = [p for p in host.ports if p[1] not in HTTP_PROTOCOLS]
        if not tcp_ports:
            continue
        vs = virtual_service(ctx, host.host)
        for port in tcp_ports:
            domains = [d for d in _domains(ctx, host, port[0]) if d not in used]
            if not domains:
                continue
            used.update(domains)
            clusters = tcp_destinations(ctx, vs, port[0], "mesh")
            if clusters is None and vs is not None:
                tls = tls_destinations(ctx, vs, port[0], "mesh")
                clusters = tls[0][1] if tls else None
            clusters = clusters or [(names.outbound(port[0], host.host), 100)]
            out.append(
                {
                    "name": f"{host.host}:{port[0]}",
                    "domains": domains,
                    "routes": [connect_route("tcp", clusters)],
                }
            )
    return out


def _domains(ctx: Context, host: ServiceHost, port: int) -> list[str]:
    if host.service is not None:
        svc = host.service
        return names.service_domains(
            svc.name, svc.namespace, port, local=svc.namespace == ctx.namespace, portless=False
        )
    return [f"{host.host}:{port}"]


def passthrough_connect() -> dict:
    """ALLOW_ANY: CONNECT to a host the mesh does not know tunnels through
    PassthroughCluster (the dynamic forward proxy resolves the authority)."""
    return connect_route("allow_any_connect", [(names.PASSTHROUGH, 100)])


# -- gateways -----------------------------------------------------------------------------
def _bound(ctx: Context, gw_key: str) -> list[Mapping]:
    return [vs for vs in ctx.index.of_kind("VirtualService") if gw_key in names.gateway_names(vs)]


def gateway_l4_chains(
    ctx: Context, gw: Mapping, server: Mapping, bound: int, tls_socket
) -> list[dict] | None:
    """The filter chains of a TCP/TLS gateway server, or None when it is not one."""
    port = server.get("port") or {}
    number, protocol = int(port.get("number", 0)), str(port.get("protocol", "")).upper()
    tls = server.get("tls") or {}
    mode = str(tls.get("mode", "SIMPLE" if protocol == "TLS" else ""))
    gw_name, gw_ns = meta(gw)
    key = f"{gw_ns}/{gw_name}"
    prefix = f"outbound_0.0.0.0_{bound}"
    if protocol == "TCP" or (protocol == "TLS" and mode in ("SIMPLE", "MUTUAL")):
        for vs in _bound(ctx, key):
            clusters = tcp_destinations(ctx, vs, number, key)
            if clusters:
                chain: dict = {"filters": [tcp_proxy(prefix, clusters)]}
                if protocol == "TLS":
                    socket = tls_socket(ctx, gw, tls)
                    if socket is None:
                        return []
                    chain["transport_socket"] = socket
                return [chain]
        return []
    if protocol in ("TLS", "HTTPS") and mode == "PASSTHROUGH":
        chains = []
        for vs in _bound(ctx, key):
            for sni, clusters in tls_destinations(ctx, vs, number, key):
                chain = {"filters": [tcp_proxy(prefix, clusters)]}
                if sni and "*" not in sni:
                    chain["filter_chain_match"] = {"server_names": sni}
                chains.append(chain)
        return chains
    if protocol == "TLS" and mode == "AUTO_PASSTHROUGH":
        chains = []
        for host in ctx.hosts.values():
            for p in host.ports:
                sni = f"outbound_.{p[0]}_._.{host.host}"
                chains.append(
                    {
                        "filter_chain_match": {"server_names": [sni]},
                        "filters": [tcp_proxy(prefix, [(names.outbound(p[0], host.host), 100)])],
                    }
                )
        return chains
    return None
