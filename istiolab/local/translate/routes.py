"""VirtualService http routes -> Envoy routes, and the sidecar's HTTP-proxy route config.

One Envoy route per ``match`` entry (a route with no match becomes a catch-all ``/``),
all sharing the route's action, as Istio does. Matches: uri exact/prefix/regex (and
``ignoreUriCase``), headers and ``withoutHeaders`` exact/prefix/regex, method, authority,
scheme, queryParams; ``port``, ``sourceLabels``, ``sourceNamespace`` and ``gateways`` are
decided here, per proxy. Actions: weighted destinations (subset, port), redirect,
directResponse, rewrite (uri, uriRegexRewrite, authority), header operations, fault,
timeout, retries, mirror; a consistentHash DestinationRule adds the route hash_policy.

The sidecar's virtual hosts are built in virtualhosts.py.

A destination subset that no DestinationRule defines is accepted (as Istio does): the
route points at a cluster that does not exist and Envoy answers 503 with flag NC.
"""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.local.translate import names, resilience
from istiolab.local.translate.common import duration, labels_match, meta, string_match
from istiolab.local.translate.context import Context, ServiceHost
from istiolab.local.translate.cors import CORS_FILTER, cors_policy
from istiolab.local.translate.policy import effective_policy, hash_policy

ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
HTTP_PROTOCOLS = ("HTTP", "HTTP2", "GRPC", "GRPC-WEB")
REDIRECT_CODES = {
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}


def destination_port(ctx: Context, dest: Mapping, host: str, vhost_port: int | None) -> int:
    explicit = (dest.get("port") or {}).get("number")
    if explicit:
        return int(explicit)
    target = ctx.hosts.get(host)
    if target is None or not target.ports:
        return int(vhost_port or 80)
    if vhost_port and target.port(vhost_port):
        return vhost_port
    return target.ports[0][0]


def destination_cluster(ctx: Context, dest: Mapping, ns: str, vhost_port: int | None) -> str:
    host = ctx.fqdn(str(dest.get("host", "")), ns)
    port = destination_port(ctx, dest, host, vhost_port)
    return names.outbound(port, host, str(dest.get("subset") or ""))


def _header_ops(ops: Mapping | None, prefix: str) -> dict:
    out: dict = {}
    if not ops:
        return out
    adds = [
        {"header": {"key": k, "value": str(v)}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for k, v in (ops.get("set") or {}).items()
    ] + [
        {"header": {"key": k, "value": str(v)}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
        for k, v in (ops.get("add") or {}).items()
    ]
    if adds:
        out[f"{prefix}_headers_to_add"] = adds
    if ops.get("remove"):
        out[f"{prefix}_headers_to_remove"] = list(ops["remove"])
    return out


def header_operations(headers: Mapping | None) -> dict:
    headers = headers or {}
    return {
        **_header_ops(headers.get("request"), "request"),
        **_header_ops(headers.get("response"), "response"),
    }


def route_match(match: Mapping | None) -> dict:
    match = match or {}
    out: dict = {}
    ignore = bool(match.get("ignoreUriCase"))
    uri = match.get("uri") or {}
    if "exact" in uri:
        out["path"] = uri["exact"]
    elif "prefix" in uri:
        out["prefix"] = uri["prefix"]
    elif "regex" in uri:
        out["safe_regex"] = {"regex": uri["regex"]}
    else:
        out["prefix"] = "/"
    if ignore:
        out["case_sensitive"] = False
    headers = []
    for name, m in (match.get("headers") or {}).items():
        sm = string_match(m or {})
        headers.append({"name": name, "string_match": sm} if sm else {"name": name})
    for name, m in (match.get("withoutHeaders") or {}).items():
        sm = string_match(m or {})
        entry = {"name": name, "string_match": sm} if sm else {"name": name, "present_match": True}
        headers.append({**entry, "invert_match": True})
    pseudo = (("method", ":method"), ("authority", ":authority"), ("scheme", ":scheme"))
    for field, header in pseudo:
        sm = string_match(match.get(field) or {})
        if sm:
            headers.append({"name": header, "string_match": sm})
    if headers:
        out["headers"] = headers
    params = []
    for name, m in (match.get("queryParams") or {}).items():
        sm = string_match(m or {})
        present = {"name": name, "present_match": True}
        params.append({"name": name, "string_match": sm} if sm else present)
    if params:
        out["query_parameters"] = params
    return out


def match_applies(ctx: Context, match: Mapping, port: int | None, gateway: str) -> bool:
    """Whether a match's ``port``, ``sourceLabels``, ``sourceNamespace`` and (qualified)
    ``gateways`` let it apply on this proxy, port and gateway."""
    if match.get("port") and port is not None and int(match["port"]) != port:
        return False
    if match.get("sourceLabels") and not labels_match(match["sourceLabels"], ctx.proxy.pod.labels):
        return False
    if match.get("sourceNamespace") and match["sourceNamespace"] != ctx.namespace:
        return False
    gws = match.get("gateways")
    return not gws or gateway in gws


def route_action(ctx: Context, http: Mapping, ns: str, port: int | None) -> dict:
    """The Envoy route fields (action, per-filter config, headers) of one Istio HTTPRoute."""
    out: dict = {}
    if http.get("redirect") is not None:
        r = http["redirect"]
        red: dict = {}
        if r.get("uri"):
            red["path_redirect"] = r["uri"]
        if r.get("authority"):
            red["host_redirect"] = r["authority"]
        if r.get("scheme"):
            red["scheme_redirect"] = r["scheme"]
        if r.get("port"):
            red["port_redirect"] = int(r["port"])
        code = int(r.get("redirectCode") or 301)
        if code != 301:
            red["response_code"] = REDIRECT_CODES.get(code, "MOVED_PERMANENTLY")
        out["redirect"] = red
    elif http.get("directResponse") is not None:
        d = http["directResponse"]
        body = (d.get("body") or {}).get("string")
        out["direct_response"] = {"status": int(d["status"])}
        if body is not None:
            out["direct_response"]["body"] = {"inline_string": body}
    else:
        out["route"] = _forward(ctx, http, ns, port)
    out.update(header_operations(http.get("headers")))
    dests = http.get("route") or []
    if "route" in out and len(dests) == 1 and dests[0].get("headers"):
        # a single destination's header operations apply to the whole route
        for key, value in header_operations(dests[0]["headers"]).items():
            out[key] = out.get(key, []) + value
    per_filter = {}
    fault = resilience.fault(http.get("fault"))
    if fault:
        per_filter[resilience.FAULT_FILTER] = fault
    cors = cors_policy(http.get("corsPolicy"))
    if cors:
        per_filter[CORS_FILTER] = cors
    if per_filter:
        out["typed_per_filter_config"] = per_filter
    return out


def _forward(ctx: Context, http: Mapping, ns: str, port: int | None) -> dict:
    dests = [d for d in http.get("route") or [] if d.get("weight", 1) != 0] or list(
        http.get("route") or []
    )
    action: dict = {}
    if len(dests) == 1:
        action["cluster"] = destination_cluster(ctx, dests[0]["destination"], ns, port)
    else:
        clusters = []
        for d in dests:
            wc: dict = {
                "name": destination_cluster(ctx, d["destination"], ns, port),
                "weight": int(d.get("weight", 0)),
            }
            wc.update(header_operations(d.get("headers")))
            clusters.append(wc)
        action["weighted_clusters"] = {"clusters": clusters}
    action["timeout"] = duration(http["timeout"]) if http.get("timeout") else "0s"
    retry = resilience.retry_policy(http.get("retries"), ctx.mesh.default_retry)
    if retry:
        action["retry_policy"] = retry
    rewrite = http.get("rewrite") or {}
    if rewrite.get("uri") is not None:
        action["prefix_rewrite"] = rewrite["uri"]
    if rewrite.get("uriRegexRewrite"):
        rr = rewrite["uriRegexRewrite"]
        action["regex_rewrite"] = {
            "pattern": {"regex": rr.get("match", "")},
            "substitution": rr.get("rewrite", ""),
        }
    if rewrite.get("authority"):
        action["host_rewrite_literal"] = rewrite["authority"]
    mirrors = resilience.mirror_policies(http, lambda d: destination_cluster(ctx, d, ns, port))
    if mirrors:
        action["request_mirror_policies"] = mirrors
    if dests:
        first = dests[0]["destination"]
        host = ctx.fqdn(str(first.get("host", "")), ns)
        dport = destination_port(ctx, first, host, port)
        policy = effective_policy(ctx.destination_rule(host), dport, str(first.get("subset") or ""))
        hp = hash_policy(policy.get("loadBalancer"))
        if hp:
            action["hash_policy"] = hp
    return action


def http_routes(ctx: Context, vs: Mapping, *, port: int | None, gateway: str) -> list[dict]:
    """Envoy routes for one VirtualService, seen from this proxy through ``gateway``
    (``mesh`` for sidecars, ``<ns>/<name>`` for gateways)."""
    name, ns = meta(vs)
    out = []
    for i, http in enumerate((vs.get("spec") or {}).get("http") or []):
        matches = http.get("match") or [None]
        for match in matches:
            if match is not None and not match_applies(ctx, match, port, gateway):
                continue
            route = {"name": http.get("name") or f"{name}.{ns}.{i}", "match": route_match(match)}
            route.update(route_action(ctx, http, ns, port))
            route["decorator"] = {"operation": route_operation(route, name, port or 80)}
            out.append(route)
    return out


def route_operation(route: Mapping, vs_name: str, port: int) -> str:
    """The route's decorator operation (the trace span name, and the
    ``x-envoy-decorator-operation`` header), as Istio writes it: ``<host>:<port><path>`` when
    the route has one destination cluster, else ``<VirtualService name>:<port><path>``; the
    path is the match's (a prefix gets a trailing ``*``), ``/*`` when it has none."""
    match = route.get("match") or {}
    if "prefix" in match:
        path = f"{match['prefix']}*"
    elif "path" in match:
        path = match["path"]
    elif "safe_regex" in match:
        path = match["safe_regex"]["regex"]
    else:
        path = "/*"
    parsed = names.parse_cluster(str((route.get("route") or {}).get("cluster", "")))
    if parsed is not None:
        _, cluster_port, _, host = parsed
        return f"{host}:{cluster_port}{path}"
    return f"{vs_name}:{port}{path}"


def default_route(host: ServiceHost, port: int, ctx: Context) -> dict:
    """The route Istio gives a service no VirtualService covers."""
    action: dict = {"cluster": names.outbound(port, host.host), "timeout": "0s"}
    retry = resilience.retry_policy(None, ctx.mesh.default_retry)
    if retry:
        action["retry_policy"] = retry
    policy = effective_policy(ctx.destination_rule(host.host), port)
    hp = hash_policy(policy.get("loadBalancer"))
    if hp:
        action["hash_policy"] = hp
    return {
        "name": "default",
        "match": {"prefix": "/"},
        "route": action,
        "decorator": {"operation": names.trace_operation(host.host, port)},
    }


def qualify_match_gateways(vs: Mapping) -> Mapping:
    """A copy of the VirtualService whose per-match ``gateways`` are namespace-qualified."""
    _, ns = meta(vs)
    spec = dict(vs.get("spec") or {})
    http_out = []
    for http in spec.get("http") or []:
        h = dict(http)
        if h.get("match"):
            new = []
            for m in h["match"]:
                m = dict(m or {})
                if m.get("gateways"):
                    m["gateways"] = [
                        g if g == "mesh" or "/" in g else f"{ns}/{g}" for g in m["gateways"]
                    ]
                new.append(m)
            h["match"] = new
        http_out.append(h)
    spec["http"] = http_out
    return {**vs, "spec": spec}
