"""The ingress gateway (a ``router`` proxy): listeners from Gateway servers, routes from
the VirtualServices bound to them.

- A Gateway applies when its ``selector`` matches the gateway pod's labels
  (``istio: ingressgateway``).
- Server port 80 or 8080 -> listener ``0.0.0.0_8080`` on
  ``settings.gateway_host:settings.gateway_http_port``, route config ``http.8080``; 443 or
  8443 -> ``gateway_https_port`` (TLS SIMPLE/MUTUAL with ``credentialName`` naming a
  ``kubernetes.io/tls`` Secret in the store); any other port binds its own number.
- A VirtualService binds with ``gateways: [name]`` (its own namespace) or ``ns/name``; its
  hosts are intersected with the server's ``hosts`` (``ns/host`` restricts the namespace),
  one virtual host per resulting host (``bookinfo.app:80``, domains ``bookinfo.app`` and
  ``bookinfo.app:*``). A Host no virtual host covers gets 404 (flag NR).
"""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.local.translate import names
from istiolab.local.translate.common import labels_match, meta, socket_address
from istiolab.local.translate.context import Context
from istiolab.local.translate.listeners import LISTENER_TYPE, hcm
from istiolab.local.translate.routes import (
    ROUTE_TYPE,
    http_routes,
    qualify_match_gateways,
)
from istiolab.local.translate.tcproutes import gateway_l4_chains

TLS_CONTEXT = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
HTTP_LIKE = ("HTTP", "HTTP2", "GRPC")
TLS_INSPECTOR = {
    "name": "envoy.filters.listener.tls_inspector",
    "typed_config": {
        "@type": "type.googleapis.com/"
        "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
    },
}


def is_default_ingress(ctx: Context) -> bool:
    """The mesh's ``istio-ingressgateway`` (its listeners bind ``settings.gateway_host``);
    any other gateway proxy (a Gateway API Gateway's, the egress gateway) binds its pod IP."""
    return ctx.proxy.pod.labels.get("istio") == "ingressgateway"


def bind_port(ctx: Context, number: int) -> int:
    s = ctx.settings
    if not is_default_ingress(ctx):  # the Service's targetPort, as Istio's gateway charts
        return {80: 8080, 443: 8443}.get(number, number)
    return {80: s.gateway_http_port, 8080: s.gateway_http_port}.get(
        number, {443: s.gateway_https_port, 8443: s.gateway_https_port}.get(number, number)
    )


def gateways(ctx: Context) -> list[dict]:
    return [
        gw
        for gw in ctx.index.of_kind("Gateway")
        if labels_match((gw.get("spec") or {}).get("selector"), ctx.proxy.pod.labels)
    ]


def _server_hosts(server: Mapping) -> list[tuple[str, str]]:
    """(namespace restriction, host) pairs; ``*`` means any namespace."""
    out = []
    for h in server.get("hosts") or ["*"]:
        ns, _, host = h.rpartition("/")
        out.append((ns if ns not in ("", "*") else "*", host.lower()))
    return out


def virtual_hosts(ctx: Context, gw: Mapping, server: Mapping) -> dict[str, list[dict]]:
    """Host -> routes for one Gateway server."""
    gw_name, gw_ns = meta(gw)
    key = f"{gw_ns}/{gw_name}"
    port = int((server.get("port") or {}).get("number", 80))
    out: dict[str, list[dict]] = {}
    for vs in ctx.index.of_kind("VirtualService"):
        if key not in names.gateway_names(vs):
            continue
        _, vs_ns = meta(vs)
        for restrict, server_host in _server_hosts(server):
            if restrict not in ("*", vs_ns) and not (restrict == "." and vs_ns == gw_ns):
                continue
            for h in (vs.get("spec") or {}).get("hosts") or []:
                vs_host = h.lower() if ("." in h or h == "*") else ctx.fqdn(h, vs_ns)
                if not names.host_matches(server_host, vs_host):
                    continue
                host = names.more_specific(server_host, vs_host)
                routes = http_routes(ctx, qualify_match_gateways(vs), port=port, gateway=key)
                out.setdefault(host, []).extend(routes)
    return out


def _vhost(host: str, port: int, routes: list[dict], https_redirect: bool) -> dict:
    vh: dict = {
        "name": f"{host}:{port}",
        "domains": ["*"] if host == "*" else [host, f"{host}:*"],
        "routes": routes,
        "include_request_attempt_count": True,  # x-envoy-attempt-count, as Istio
    }
    if https_redirect:
        vh["require_tls"] = "ALL"
    return vh


def _secret_source(secret: Mapping, key: str) -> dict:
    """An Envoy DataSource for a Secret key: ``stringData`` (plain text, as a learner may
    write it; the API server would fold it into data) before ``data`` (base64)."""
    plain = (secret.get("stringData") or {}).get(key)
    if plain:
        return {"inline_string": str(plain)}
    return {"inline_bytes": (secret.get("data") or {}).get(key, "")}


def _tls_socket(ctx: Context, gw: Mapping, tls: Mapping) -> dict | None:
    credential = str(tls.get("credentialName"))
    _, gw_ns = meta(gw)
    namespaces: tuple[str, ...] = (gw_ns, ctx.namespace)
    if "/" in credential:  # ns/name: a Gateway API certificateRef (ReferenceGrant checked)
        ns, _, credential = credential.partition("/")
        namespaces = (ns,)
    secret = ctx.index.secret(credential, namespaces)
    if secret is None:
        return None
    cert: dict = {
        "certificate_chain": _secret_source(secret, "tls.crt"),
        "private_key": _secret_source(secret, "tls.key"),
    }
    common: dict = {"tls_certificates": [cert]}
    ca = _secret_source(secret, "ca.crt")
    if tls.get("mode") == "MUTUAL" and any(ca.values()):
        common["validation_context"] = {"trusted_ca": ca}
    body = {"@type": TLS_CONTEXT, "common_tls_context": common}
    if tls.get("mode") == "MUTUAL":
        body["require_client_certificate"] = True
    return {"name": "envoy.transport_sockets.tls", "typed_config": body}


def _gateway_hcm(ctx: Context, stat_prefix: str, route_name: str) -> dict:
    """The gateway's HCM: the edge of the mesh, so it uses the client's address
    (``use_remote_address``, x-forwarded-for appended) as Istio's gateways do."""
    filt = hcm(stat_prefix, ctx.mesh, rds=route_name)
    filt["typed_config"]["use_remote_address"] = True
    return filt


def gateway_resources(ctx: Context) -> tuple[dict[str, dict], dict[str, dict]]:
    """(listeners, route configs) of the ingress gateway."""
    http: dict[int, dict[str, dict]] = {}  # bind port -> host -> vhost
    https: dict[int, list[tuple[dict, dict, str]]] = {}  # bind port -> (chain, routes)
    tcp: dict[int, list[dict]] = {}  # bind port -> filter chains
    for gw in gateways(ctx):
        gw_name, gw_ns = meta(gw)
        for i, server in enumerate((gw.get("spec") or {}).get("servers") or []):
            port = server.get("port") or {}
            number, protocol = int(port.get("number", 80)), str(port.get("protocol", "HTTP"))
            bound = bind_port(ctx, number)
            tls = server.get("tls") or {}
            l4 = gateway_l4_chains(ctx, gw, server, bound, _tls_socket)
            if l4 is not None:  # TCP, TLS, HTTPS PASSTHROUGH (tcproutes.py)
                tcp.setdefault(bound, []).extend(l4)
                continue
            hosts = virtual_hosts(ctx, gw, server)
            if protocol.upper() in HTTP_LIKE:
                table = http.setdefault(bound, {})
                for host, routes in hosts.items():
                    if host in table:
                        table[host]["routes"].extend(routes)
                    else:
                        table[host] = _vhost(host, number, routes, bool(tls.get("httpsRedirect")))
            elif protocol.upper() == "HTTPS" and tls.get("mode", "SIMPLE") in ("SIMPLE", "MUTUAL"):
                socket = _tls_socket(ctx, gw, tls)
                if socket is None:
                    continue
                route_name = f"https.{number}.{port.get('name', i)}.{gw_name}.{gw_ns}"
                route = {
                    "@type": ROUTE_TYPE,
                    "name": route_name,
                    "virtual_hosts": [_vhost(h, number, r, False) for h, r in hosts.items()],
                    "validate_clusters": False,
                }
                sni = [h for _, h in _server_hosts(server) if h != "*"]
                chain: dict = {"transport_socket": socket}
                if sni:
                    chain["filter_chain_match"] = {"server_names": sni}
                https.setdefault(bound, []).append((chain, route, route_name))
    listeners: dict[str, dict] = {}
    routes: dict[str, dict] = {}
    for bound, table in sorted(http.items()):
        route_name = f"http.{bound}"
        routes[route_name] = {
            "@type": ROUTE_TYPE,
            "name": route_name,
            "virtual_hosts": [table[h] for h in sorted(table, key=lambda h: (h == "*", h))],
            "validate_clusters": False,
        }
        chain = {"filters": [_gateway_hcm(ctx, f"outbound_0.0.0.0_{bound}", route_name)]}
        listener = _listener(ctx, bound, [chain])
        listeners[listener["name"]] = listener
    for bound, chains in sorted(https.items()):
        filter_chains = []
        for chain, route, route_name in chains:
            routes[route_name] = route
            chain["filters"] = [_gateway_hcm(ctx, f"outbound_0.0.0.0_{bound}", route_name)]
            filter_chains.append(chain)
        listener = _listener(ctx, bound, filter_chains)
        listener["listener_filters"] = [TLS_INSPECTOR]
        listeners[listener["name"]] = listener
    for bound, chains in sorted(tcp.items()):
        if not chains or f"0.0.0.0_{bound}" in listeners:
            continue
        listener = _listener(ctx, bound, chains)
        if any("filter_chain_match" in c or "transport_socket" in c for c in chains):
            listener["listener_filters"] = [TLS_INSPECTOR]
        listeners[listener["name"]] = listener
    return listeners, routes


def _listener(ctx: Context, bound: int, filter_chains: list[dict]) -> dict:
    """The gateway listener ``0.0.0.0_<port>`` on ``settings.gateway_host:<port>`` (the
    default ingress) or on the gateway pod's IP."""
    host = ctx.settings.gateway_host if is_default_ingress(ctx) else ctx.proxy.pod.ip
    return {
        "@type": LISTENER_TYPE,
        "name": f"0.0.0.0_{bound}",
        "address": socket_address(host, bound),
        "traffic_direction": "OUTBOUND",
        "filter_chains": filter_chains,
    }
