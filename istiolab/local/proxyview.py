"""Pure views of an Envoy's live config, shaped like istioctl's proxy-config/proxy-status.

Input: the JSON of Envoy's admin ``/config_dump`` (listeners, routes, clusters) or
``/clusters?format=json`` (endpoints); output: (headers, rows) for a table or the raw section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DUMP_TYPES = {
    "clusters": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
    "listeners": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
    "routes": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
}
HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"


def _config(dump: Mapping[str, Any], what: str) -> dict:
    for c in dump.get("configs", []):
        if c.get("@type") == DUMP_TYPES[what]:
            return c
    return {}


def clusters(dump: Mapping[str, Any]) -> list[dict]:
    c = _config(dump, "clusters")
    static = [x["cluster"] for x in c.get("static_clusters", [])]
    dynamic = [x["cluster"] for x in c.get("dynamic_active_clusters", [])]
    return static + dynamic


def listeners(dump: Mapping[str, Any]) -> list[dict]:
    c = _config(dump, "listeners")
    out = [x["listener"] for x in c.get("static_listeners", [])]
    for x in c.get("dynamic_listeners", []):
        state = x.get("active_state") or x.get("warming_state")
        if state:
            out.append(state["listener"])
    return out


def route_configs(dump: Mapping[str, Any]) -> list[dict]:
    c = _config(dump, "routes")
    static = [x["route_config"] for x in c.get("static_route_configs", [])]
    dynamic = [x["route_config"] for x in c.get("dynamic_route_configs", [])]
    return static + dynamic


def section(what: str, data: Mapping[str, Any]) -> Any:
    return {
        "clusters": clusters,
        "listeners": listeners,
        "routes": route_configs,
        "endpoints": lambda d: d.get("cluster_statuses", []),
        "all": lambda d: d,
    }[what](data)


def _istio_config(meta: Mapping[str, Any] | None) -> str:
    """``/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews``
    -> ``reviews.default``."""
    path = (((meta or {}).get("filter_metadata") or {}).get("istio") or {}).get("config", "")
    parts = path.strip("/").split("/")
    if len(parts) >= 6 and parts[3] == "namespaces":
        return f"{parts[6] if len(parts) > 6 else parts[-1]}.{parts[4]}"
    return "-"


def cluster_rows(dump: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    rows = []
    for c in clusters(dump):
        name = c.get("name", "")
        ctype = c.get("type") or ("EDS" if "eds_cluster_config" in c else "STATIC")
        if "cluster_type" in c:
            ctype = c["cluster_type"].get("name", ctype).rsplit(".", 1)[-1].upper()
        parts = name.split("|")
        if len(parts) == 4:
            direction, port, subset, fqdn = parts
            rows.append(
                [fqdn, port, subset or "-", direction, ctype, _istio_config(c.get("metadata"))]
            )
        else:
            rows.append([name, "-", "-", "-", ctype, "-"])
    return headers, sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3]))


def _chain_destination(chain: Mapping[str, Any]) -> str:
    for f in chain.get("filters", []):
        cfg = f.get("typed_config") or {}
        if f.get("name") == HCM or cfg.get("@type", "").endswith("HttpConnectionManager"):
            if "rds" in cfg:
                return f"Route: {cfg['rds'].get('route_config_name', '')}"
            if "route_config" in cfg:
                return f"Inline Route: {cfg['route_config'].get('name', '')}".rstrip()
            return "HTTP"
        if f.get("name") == TCP_PROXY or cfg.get("@type", "").endswith("TcpProxy"):
            if "cluster" in cfg:
                return f"Cluster: {cfg['cluster']}"
            return "TCP"
    return "-"


def _chain_match(chain: Mapping[str, Any]) -> str:
    m = chain.get("filter_chain_match") or {}
    parts = []
    if m.get("server_names"):
        parts.append("SNI: " + ",".join(m["server_names"]))
    if m.get("application_protocols"):
        parts.append("ALPN: " + ",".join(m["application_protocols"]))
    if m.get("transport_protocol"):
        parts.append("Trans: " + m["transport_protocol"])
    if m.get("destination_port"):
        parts.append(f"Port: {m['destination_port']}")
    if m.get("prefix_ranges"):
        parts.append(
            "Addr: "
            + ",".join(
                f"{r.get('address_prefix')}/{r.get('prefix_len', 32)}" for r in m["prefix_ranges"]
            )
        )
    return "; ".join(parts) or "ALL"


def listener_rows(dump: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["ADDRESSES", "PORT", "MATCH", "DESTINATION"]
    rows = []
    for lst in listeners(dump):
        sock = (lst.get("address") or {}).get("socket_address") or {}
        addr, port = sock.get("address", "-"), str(sock.get("port_value", "-"))
        chains = list(lst.get("filter_chains", []))
        if lst.get("default_filter_chain"):
            chains.append(lst["default_filter_chain"])
        for ch in chains or [{}]:
            rows.append([addr, port, _chain_match(ch), _chain_destination(ch)])
    return headers, rows


def _route_match(match: Mapping[str, Any]) -> str:
    for key in ("path", "prefix", "path_separated_prefix"):
        if key in match:
            return match[key] + ("*" if key != "path" else "")
    if "safe_regex" in match:
        return match["safe_regex"].get("regex", "")
    return "-"


def route_rows(dump: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"]
    rows = []
    for rc in route_configs(dump):
        for vh in rc.get("virtual_hosts", []):
            domains = vh.get("domains", [])
            shown = domains[0] if domains else "-"
            if len(domains) > 1:
                shown += f" + {len(domains) - 1} more..."
            for r in vh.get("routes", []):
                rows.append(
                    [
                        rc.get("name", "-"),
                        vh.get("name", "-"),
                        shown,
                        _route_match(r.get("match") or {}),
                        _istio_config(r.get("metadata")),
                    ]
                )
    return headers, rows


def endpoint_rows(clusters_json: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"]
    rows = []
    for cs in clusters_json.get("cluster_statuses", []):
        for h in cs.get("host_statuses", []):
            sock = (h.get("address") or {}).get("socket_address") or {}
            health = h.get("health_status") or {}
            status = health.get("eds_health_status", "HEALTHY")
            outlier = "FAILED" if health.get("failed_outlier_check") else "OK"
            rows.append(
                [
                    f"{sock.get('address')}:{sock.get('port_value')}",
                    status,
                    outlier,
                    cs.get("name", ""),
                ]
            )
    return headers, sorted(rows, key=lambda r: (r[3], r[0]))


def rows(what: str, data: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    if what == "all":
        headers, out = cluster_rows(data)
        return headers, out
    return {
        "clusters": cluster_rows,
        "listeners": listener_rows,
        "routes": route_rows,
        "endpoints": endpoint_rows,
    }[what](data)


SHORT = {"cds": "CDS", "lds": "LDS", "eds": "EDS", "rds": "RDS"}
TYPE_SHORT = {
    "envoy.config.cluster.v3.Cluster": "CDS",
    "envoy.config.listener.v3.Listener": "LDS",
    "envoy.config.endpoint.v3.ClusterLoadAssignment": "EDS",
    "envoy.config.route.v3.RouteConfiguration": "RDS",
}


def sync_states(status: Any) -> tuple[dict[str, str], str]:
    """One node's xDS status as ({"CDS": "SYNCED", ...}, version): istioctl's words."""
    states: dict[str, str] = {}
    version = "-"
    if not isinstance(status, Mapping):
        return states, version
    version = str(status.get("push_version") or status.get("version") or "-")
    types = status.get("types") or status.get("resources") or status
    for key, value in types.items() if isinstance(types, Mapping) else []:
        short = SHORT.get(str(key).lower()) or TYPE_SHORT.get(str(key).rsplit("/", 1)[-1])
        if short is None:
            continue
        if isinstance(value, Mapping):
            state = value.get("state") or value.get("status") or "-"
            if version == "-" and value.get("version"):
                version = str(value["version"])
        else:
            state = value
        states[short] = str(state).upper()
    return states, version
