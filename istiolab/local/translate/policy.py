"""DestinationRule traffic policy -> Envoy cluster fields.

Merging follows Istio: the host-level ``trafficPolicy``, overridden per section
(connectionPool, loadBalancer, outlierDetection, tls) by the matching
``portLevelSettings`` entry, then by the subset's own policy (and its port-level entry).

Mapping (Istio field -> Envoy field):
- connectionPool.tcp.maxConnections -> circuit_breakers.thresholds[0].max_connections
- connectionPool.tcp.connectTimeout -> connect_timeout (Istio default 10s)
- connectionPool.tcp.tcpKeepalive -> upstream_connection_options.tcp_keepalive
- connectionPool.http.http1MaxPendingRequests -> max_pending_requests
- connectionPool.http.http2MaxRequests -> max_requests
- connectionPool.http.maxRetries -> max_retries (every unset threshold is 2^32-1, as Istio)
- connectionPool.http.maxRequestsPerConnection / idleTimeout ->
  HttpProtocolOptions.common_http_protocol_options.{max_requests_per_connection,idle_timeout}
- outlierDetection -> outlier_detection (Istio's mapping: consecutive_5xx with enforcing
  100, consecutive gateway errors likewise, the deprecated consecutiveErrors counts gateway
  errors only, success-rate ejection off, minHealthPercent -> healthy_panic_threshold)
- loadBalancer.simple -> lb_policy (Istio's default LEAST_REQUEST); consistentHash ->
  RING_HASH/MAGLEV (+ the route's hash_policy, see :func:`hash_policy`); PASSTHROUGH ->
  an ORIGINAL_DST cluster.
"""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.durations import seconds
from istiolab.local.translate.common import UINT32_MAX, duration

SECTIONS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HTTP_OPTIONS_TYPE = f"type.googleapis.com/{HTTP_OPTIONS}"


def _overlay(base: dict, policy: Mapping | None, port: int) -> dict:
    if not policy:
        return base
    out = dict(base)
    for section in SECTIONS:
        if section in policy:
            out[section] = policy[section]
    for pls in policy.get("portLevelSettings") or []:
        if int((pls.get("port") or {}).get("number", -1)) == port:
            for section in SECTIONS:
                if section in pls:
                    out[section] = pls[section]
    return out


def effective_policy(dr: Mapping | None, port: int, subset: str = "") -> dict:
    """The traffic policy in force for one port (and subset) of a DestinationRule's host."""
    if not dr:
        return {}
    spec = dr.get("spec") or {}
    policy = _overlay({}, spec.get("trafficPolicy"), port)
    if subset:
        for s in spec.get("subsets") or []:
            if s.get("name") == subset:
                policy = _overlay(policy, s.get("trafficPolicy"), port)
    return policy


def subset_labels(dr: Mapping | None, subset: str) -> dict[str, str] | None:
    """The labels of a DestinationRule subset, or None when the subset is not defined."""
    for s in ((dr or {}).get("spec") or {}).get("subsets") or []:
        if s.get("name") == subset:
            return dict(s.get("labels") or {})
    return None


def thresholds(pool: Mapping) -> dict:
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    return {
        "max_connections": int(tcp.get("maxConnections") or UINT32_MAX),
        "max_pending_requests": int(http.get("http1MaxPendingRequests") or UINT32_MAX),
        "max_requests": int(http.get("http2MaxRequests") or UINT32_MAX),
        "max_retries": int(http.get("maxRetries") or UINT32_MAX),
        "track_remaining": True,
    }


def apply_connection_pool(cluster: dict, pool: Mapping, *, http2: bool) -> None:
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    cluster["connect_timeout"] = duration(tcp.get("connectTimeout", "10s"))
    cluster["circuit_breakers"] = {"thresholds": [thresholds(pool)]}
    keepalive = tcp.get("tcpKeepalive")
    if keepalive is not None:
        ka: dict = {}
        if keepalive.get("probes") is not None:
            ka["keepalive_probes"] = int(keepalive["probes"])
        if keepalive.get("time") is not None:
            ka["keepalive_time"] = max(1, round(seconds(keepalive["time"])))
        if keepalive.get("interval") is not None:
            ka["keepalive_interval"] = max(1, round(seconds(keepalive["interval"])))
        cluster["upstream_connection_options"] = {"tcp_keepalive": ka}
    common: dict = {}
    if http.get("maxRequestsPerConnection"):
        common["max_requests_per_connection"] = int(http["maxRequestsPerConnection"])
    if http.get("idleTimeout") is not None:
        common["idle_timeout"] = duration(http["idleTimeout"])
    if tcp.get("maxConnectionDuration") is not None:
        common["max_connection_duration"] = duration(tcp["maxConnectionDuration"])
    use_h2 = http2 or http.get("h2UpgradePolicy") == "UPGRADE"
    options: dict = {"@type": HTTP_OPTIONS_TYPE}
    if common:
        options["common_http_protocol_options"] = common
    if use_h2:
        h2: dict = {}
        if http.get("maxConcurrentStreams"):
            h2["max_concurrent_streams"] = int(http["maxConcurrentStreams"])
        options["explicit_http_config"] = {"http2_protocol_options": h2}
    if len(options) > 1:
        options.setdefault("explicit_http_config", {"http_protocol_options": {}})
        cluster["typed_extension_protocol_options"] = {HTTP_OPTIONS: options}


def outlier_detection(od: Mapping) -> dict:
    """Istio's applyOutlierDetection, field for field."""
    out: dict = {"enforcing_success_rate": 0}
    if od.get("consecutive5xxErrors") is not None:
        v = int(od["consecutive5xxErrors"])
        out["consecutive_5xx"] = v
        out["enforcing_consecutive_5xx"] = 100 if v > 0 else 0
    if od.get("consecutiveGatewayErrors") is not None:
        v = int(od["consecutiveGatewayErrors"])
        out["consecutive_gateway_failure"] = v
        out["enforcing_consecutive_gateway_failure"] = 100 if v > 0 else 0
    if od.get("consecutiveErrors") and od.get("consecutive5xxErrors") is None:
        # deprecated field: Istio counts it as gateway errors (502/503/504) only
        out["consecutive_gateway_failure"] = int(od["consecutiveErrors"])
        out["enforcing_consecutive_gateway_failure"] = 100
        out["enforcing_consecutive_5xx"] = 0
    if od.get("interval") is not None:
        out["interval"] = duration(od["interval"])
    if od.get("baseEjectionTime") is not None:
        out["base_ejection_time"] = duration(od["baseEjectionTime"])
    if od.get("maxEjectionPercent"):
        out["max_ejection_percent"] = int(od["maxEjectionPercent"])
    if od.get("splitExternalLocalOriginErrors"):
        out["split_external_local_origin_errors"] = True
        local = int(od.get("consecutiveLocalOriginFailures") or 0)
        if local > 0:
            out["consecutive_local_origin_failure"] = local
            out["enforcing_consecutive_local_origin_failure"] = 100
        out["enforcing_local_origin_success_rate"] = 0
    return out


LB_SIMPLE = {
    "ROUND_ROBIN": "ROUND_ROBIN",
    "LEAST_CONN": "LEAST_REQUEST",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "RANDOM": "RANDOM",
    "UNSPECIFIED": "LEAST_REQUEST",
}


def apply_load_balancer(cluster: dict, lb: Mapping | None) -> None:
    lb = lb or {}
    simple = lb.get("simple")
    if simple == "PASSTHROUGH":
        for key in ("eds_cluster_config", "load_assignment"):
            cluster.pop(key, None)
        cluster["type"] = "ORIGINAL_DST"
        cluster["lb_policy"] = "CLUSTER_PROVIDED"
        cluster["original_dst_lb_config"] = {"use_http_header": True}
        return
    ch = lb.get("consistentHash")
    if ch:
        if "maglev" in ch:
            cluster["lb_policy"] = "MAGLEV"
            size = (ch.get("maglev") or {}).get("tableSize")
            if size:
                cluster["maglev_lb_config"] = {"table_size": int(size)}
        else:
            ring = ch.get("ringHash") or {}
            minimum = int(ring.get("minimumRingSize") or ch.get("minimumRingSize") or 1024)
            cluster["lb_policy"] = "RING_HASH"
            cluster["ring_hash_lb_config"] = {"minimum_ring_size": minimum}
        return
    cluster["lb_policy"] = LB_SIMPLE.get(str(simple or "UNSPECIFIED"), "LEAST_REQUEST")


def hash_policy(lb: Mapping | None) -> list[dict] | None:
    """The route hash_policy a consistentHash load balancer needs."""
    ch = (lb or {}).get("consistentHash")
    if not ch:
        return None
    if ch.get("httpHeaderName"):
        return [{"header": {"header_name": ch["httpHeaderName"]}}]
    if ch.get("httpCookie"):
        c = ch["httpCookie"]
        cookie: dict = {"name": c["name"]}
        if c.get("path"):
            cookie["path"] = c["path"]
        if c.get("ttl") is not None:
            cookie["ttl"] = duration(c["ttl"])
        return [{"cookie": cookie}]
    if ch.get("useSourceIp"):
        return [{"connection_properties": {"source_ip": True}}]
    if ch.get("httpQueryParameterName"):
        return [{"query_parameter": {"name": ch["httpQueryParameterName"]}}]
    return None


def apply_policy(cluster: dict, policy: Mapping, *, http2: bool = False) -> None:
    """Set every cluster field the effective traffic policy controls (defaults included)."""
    apply_connection_pool(cluster, policy.get("connectionPool") or {}, http2=http2)
    apply_load_balancer(cluster, policy.get("loadBalancer"))
    od = policy.get("outlierDetection")
    if od is not None:
        cluster["outlier_detection"] = outlier_detection(od)
        # Istio sets the panic threshold even when unset (0: panic mode off)
        cluster.setdefault("common_lb_config", {})["healthy_panic_threshold"] = {
            "value": float(od.get("minHealthPercent") or 0)
        }


UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


def upstream_tls(tls: Mapping | None, host: str, secret: Mapping | None = None) -> dict | None:
    """DestinationRule ``tls`` SIMPLE / MUTUAL (TLS origination) -> a transport_socket.

    Certificates come from file paths (``caCertificates``, ``clientCertificate``,
    ``privateKey``) or from a ``credentialName`` Secret's data (inline). DISABLE and
    ISTIO_MUTUAL give None here: ISTIO_MUTUAL is the security layer's (workload certs)."""
    mode = (tls or {}).get("mode")
    if mode not in ("SIMPLE", "MUTUAL"):
        return None
    assert tls is not None
    data = (secret or {}).get("data") or {}

    def source(path_field: str, data_key: str) -> dict | None:
        if data.get(data_key):
            return {"inline_bytes": data[data_key]}
        if tls.get(path_field):
            return {"filename": tls[path_field]}
        return None

    common: dict = {}
    ca = source("caCertificates", "ca.crt")
    if ca and not tls.get("insecureSkipVerify"):
        validation: dict = {"trusted_ca": ca}
        if tls.get("subjectAltNames"):
            validation["match_typed_subject_alt_names"] = [
                {"san_type": "DNS", "matcher": {"exact": san}} for san in tls["subjectAltNames"]
            ]
        common["validation_context"] = validation
    if mode == "MUTUAL":
        chain, key = source("clientCertificate", "tls.crt"), source("privateKey", "tls.key")
        if chain and key:
            common["tls_certificates"] = [{"certificate_chain": chain, "private_key": key}]
    body: dict = {
        "@type": UPSTREAM_TLS,
        "sni": tls.get("sni") or host,
        "common_tls_context": common,
    }
    return {"name": "envoy.transport_sockets.tls", "typed_config": body}
