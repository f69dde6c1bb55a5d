"""DestinationRule traffic policy and VirtualService resilience fields -> Envoy fields."""

from __future__ import annotations

import pytest

from istiolab import manifests as m
from istiolab.errors import ConfigError
from istiolab.local.translate import findings
from istiolab.local.translate.meshconfig import parse_mesh
from istiolab.local.xds import to_any

from .helpers import (
    bookinfo_world,
    destination_rule,
    istio,
    mesh_config,
    replace_kind,
    sidecar,
    vhost,
    virtual_service,
)

HTTPBIN = "httpbin.default.svc.cluster.local"
RATINGS = "ratings.default.svc.cluster.local"
MAX = 2**32 - 1


def httpbin_cluster(dr: dict, subset: str = "") -> dict:
    res, _, _ = sidecar(replace_kind(bookinfo_world(), dr))
    return res.clusters[f"outbound|8000|{subset}|{HTTPBIN}"]


def test_defaults_are_istios():
    res, _, _ = sidecar(bookinfo_world())
    c = res.clusters[f"outbound|8000||{HTTPBIN}"]
    assert c["type"] == "EDS" and c["lb_policy"] == "LEAST_REQUEST"
    assert c["connect_timeout"] == "10s"
    assert c["circuit_breakers"]["thresholds"] == [
        {
            "max_connections": MAX,
            "max_pending_requests": MAX,
            "max_requests": MAX,
            "max_retries": MAX,
            "track_remaining": True,
        }
    ]
    assert "outlier_detection" not in c
    route = vhost(res, f"{HTTPBIN}:8000")["routes"][0]["route"]
    assert route["timeout"] == "0s"
    retry = route["retry_policy"]
    assert retry["num_retries"] == 2
    assert retry["retry_on"] == (
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    )
    assert "retriable_status_codes" not in retry  # 503 is not retried by default
    assert retry["host_selection_retry_max_attempts"] == "5"
    assert retry["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"
    assert retry["retry_back_off"] == {"base_interval": "0.025s"}


def test_circuit_breaker_preset():
    [dr] = [o for o in m.traffic_preset("circuit-breaker") if o["kind"] == "DestinationRule"]
    c = httpbin_cluster(dr)
    t = c["circuit_breakers"]["thresholds"][0]
    assert (t["max_connections"], t["max_pending_requests"]) == (1, 1)
    assert t["max_requests"] == MAX and t["max_retries"] == MAX
    options = c["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert options["common_http_protocol_options"]["max_requests_per_connection"] == 1
    od = c["outlier_detection"]
    assert od["interval"] == "1s" and od["base_ejection_time"] == "180s"
    assert od["max_ejection_percent"] == 100 and od["enforcing_success_rate"] == 0


def test_connection_pool_every_field():
    pool = {
        "tcp": {
            "maxConnections": 7,
            "connectTimeout": "250ms",
            "tcpKeepalive": {"probes": 3, "time": "60s", "interval": "10s"},
        },
        "http": {
            "http1MaxPendingRequests": 5,
            "http2MaxRequests": 9,
            "maxRequestsPerConnection": 2,
            "maxRetries": 4,
            "idleTimeout": "30s",
        },
    }
    c = httpbin_cluster(
        destination_rule("httpbin", "httpbin", trafficPolicy={"connectionPool": pool})
    )
    assert c["connect_timeout"] == "0.25s"
    t = c["circuit_breakers"]["thresholds"][0]
    assert (t["max_connections"], t["max_pending_requests"], t["max_requests"]) == (7, 5, 9)
    assert t["max_retries"] == 4
    assert c["upstream_connection_options"]["tcp_keepalive"] == {
        "keepalive_probes": 3,
        "keepalive_time": 60,
        "keepalive_interval": 10,
    }
    common = c["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]["common_http_protocol_options"]
    assert common == {"max_requests_per_connection": 2, "idle_timeout": "30s"}


@pytest.mark.parametrize(
    ("od", "expected"),
    [
        (
            {"consecutive5xxErrors": 3, "interval": "5s", "baseEjectionTime": "30s"},
            {
                "consecutive_5xx": 3,
                "enforcing_consecutive_5xx": 100,
                "interval": "5s",
                "base_ejection_time": "30s",
                "enforcing_success_rate": 0,
            },
        ),
        (
            {"consecutiveGatewayErrors": 2, "maxEjectionPercent": 50},
            {
                "consecutive_gateway_failure": 2,
                "enforcing_consecutive_gateway_failure": 100,
                "max_ejection_percent": 50,
                "enforcing_success_rate": 0,
            },
        ),
        (  # the deprecated field counts gateway errors only, as Istio maps it
            {"consecutiveErrors": 1},
            {
                "consecutive_gateway_failure": 1,
                "enforcing_consecutive_gateway_failure": 100,
                "enforcing_consecutive_5xx": 0,
                "enforcing_success_rate": 0,
            },
        ),
        (
            {"consecutive5xxErrors": 0},
            {"consecutive_5xx": 0, "enforcing_consecutive_5xx": 0, "enforcing_success_rate": 0},
        ),
    ],
)
def test_outlier_detection_mapping(od, expected):
    c = httpbin_cluster(
        destination_rule("httpbin", "httpbin", trafficPolicy={"outlierDetection": od})
    )
    assert c["outlier_detection"] == expected
    assert c["common_lb_config"]["healthy_panic_threshold"] == {"value": 0.0}


def test_min_health_percent_sets_panic_threshold():
    dr = destination_rule(
        "httpbin", "httpbin", trafficPolicy={"outlierDetection": {"minHealthPercent": 40}}
    )
    assert httpbin_cluster(dr)["common_lb_config"]["healthy_panic_threshold"] == {"value": 40.0}


@pytest.mark.parametrize(
    ("lb", "policy"),
    [
        ({"simple": "ROUND_ROBIN"}, "ROUND_ROBIN"),
        ({"simple": "LEAST_CONN"}, "LEAST_REQUEST"),
        ({"simple": "LEAST_REQUEST"}, "LEAST_REQUEST"),
        ({"simple": "RANDOM"}, "RANDOM"),
    ],
)
def test_simple_load_balancers(lb, policy):
    dr = destination_rule("httpbin", "httpbin", trafficPolicy={"loadBalancer": lb})
    assert httpbin_cluster(dr)["lb_policy"] == policy


def test_passthrough_load_balancer_is_original_dst():
    dr = destination_rule(
        "httpbin", "httpbin", trafficPolicy={"loadBalancer": {"simple": "PASSTHROUGH"}}
    )
    res, _, _ = sidecar(replace_kind(bookinfo_world(), dr))
    c = res.clusters[f"outbound|8000||{HTTPBIN}"]
    assert (c["type"], c["lb_policy"]) == ("ORIGINAL_DST", "CLUSTER_PROVIDED")
    assert f"outbound|8000||{HTTPBIN}" not in res.endpoints


@pytest.mark.parametrize(
    ("hash_spec", "route_hash"),
    [
        ({"httpHeaderName": "x-user"}, [{"header": {"header_name": "x-user"}}]),
        (
            {"httpCookie": {"name": "user", "ttl": "60s"}},
            [{"cookie": {"name": "user", "ttl": "60s"}}],
        ),
        ({"useSourceIp": True}, [{"connection_properties": {"source_ip": True}}]),
        ({"httpQueryParameterName": "u"}, [{"query_parameter": {"name": "u"}}]),
    ],
)
def test_consistent_hash_is_ring_hash_plus_route_hash_policy(hash_spec, route_hash):
    dr = destination_rule(
        "httpbin", "httpbin", trafficPolicy={"loadBalancer": {"consistentHash": hash_spec}}
    )
    res, _, _ = sidecar(replace_kind(bookinfo_world(), dr))
    c = res.clusters[f"outbound|8000||{HTTPBIN}"]
    assert c["lb_policy"] == "RING_HASH"
    assert c["ring_hash_lb_config"] == {"minimum_ring_size": 1024}
    route = vhost(res, f"{HTTPBIN}:8000")["routes"][0]["route"]
    assert route["hash_policy"] == route_hash


def test_subset_and_port_level_policies_override_host_policy():
    dr = destination_rule(
        "httpbin",
        "httpbin",
        trafficPolicy={
            "connectionPool": {"tcp": {"maxConnections": 10}},
            "loadBalancer": {"simple": "RANDOM"},
            "portLevelSettings": [
                {"port": {"number": 8000}, "connectionPool": {"tcp": {"maxConnections": 20}}}
            ],
        },
        subsets=[
            {"name": "v1", "labels": {"version": "v1"}},
            {
                "name": "v2",
                "labels": {"version": "v2"},
                "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 30}}},
            },
        ],
    )
    base, v1, v2 = (httpbin_cluster(dr, s) for s in ("", "v1", "v2"))
    maxc = [c["circuit_breakers"]["thresholds"][0]["max_connections"] for c in (base, v1, v2)]
    assert maxc == [20, 20, 30]
    assert {c["lb_policy"] for c in (base, v1, v2)} == {"RANDOM"}
    res, _, _ = sidecar(replace_kind(bookinfo_world(), dr))
    v2_pods = res.endpoints[f"outbound|8000|v2|{HTTPBIN}"]["endpoints"][0]["lb_endpoints"]
    assert len(v2_pods) == 1


def test_fault_delay_and_abort_per_route_with_filter_before_router():
    objects = replace_kind(bookinfo_world(), *m.traffic_preset("fault-delay"))
    res, _, _ = sidecar(objects)
    routes = vhost(res, f"{RATINGS}:9080")["routes"]
    fault = routes[0]["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["delay"] == {
        "fixed_delay": "7s",
        "percentage": {"numerator": 1_000_000, "denominator": "MILLION"},
    }
    assert "typed_per_filter_config" not in routes[1]
    hcm = res.listeners["virtualOutbound"]["filter_chains"][0]["filters"][0]["typed_config"]
    names = [f["name"] for f in hcm["http_filters"]]
    assert names.index("envoy.filters.http.fault") < names.index("envoy.filters.http.router")
    assert names[-1] == "envoy.filters.http.router"

    vs = virtual_service(
        "ratings",
        ["ratings"],
        [
            {
                "fault": {"abort": {"httpStatus": 500, "percent": 30}},  # deprecated field
                "route": [{"destination": {"host": "ratings"}}],
            }
        ],
    )
    res, _, _ = sidecar(replace_kind(bookinfo_world(), vs))
    fault = vhost(res, f"{RATINGS}:9080")["routes"][0]["typed_per_filter_config"][
        "envoy.filters.http.fault"
    ]
    assert fault["abort"] == {
        "http_status": 500,
        "percentage": {"numerator": 300_000, "denominator": "MILLION"},
    }


def test_timeout_and_retries():
    vs = virtual_service(
        "ratings",
        ["ratings"],
        [
            {
                "match": [{"uri": {"prefix": "/a"}}],
                "timeout": "0.5s",
                "retries": {
                    "attempts": 3,
                    "perTryTimeout": "2s",
                    "retryOn": "gateway-error,connect-failure,503",
                    "retryRemoteLocalities": True,
                },
                "route": [{"destination": {"host": "ratings"}}],
            },
            {"retries": {"attempts": 0}, "route": [{"destination": {"host": "ratings"}}]},
        ],
    )
    objects = replace_kind(bookinfo_world(), vs)
    res, _, registry = sidecar(objects)
    first, second = vhost(res, f"{RATINGS}:9080")["routes"]
    action = first["route"]
    assert action["timeout"] == "0.5s"
    retry = action["retry_policy"]
    assert retry["num_retries"] == 3 and retry["per_try_timeout"] == "2s"
    assert retry["retry_on"] == "gateway-error,connect-failure,retriable-status-codes"
    assert retry["retriable_status_codes"] == [503]
    assert retry["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"
    assert "retry_policy" not in second["route"]
    # perTryTimeout longer than the timeout is accepted, and analysis reports it
    assert any("ISTL0001" in f and "perTryTimeout 2s" in f for f in findings(objects, registry))


def test_mirror_and_mirrors():
    vs = virtual_service(
        "httpbin",
        ["httpbin"],
        [
            {
                "route": [{"destination": {"host": "httpbin", "subset": "v1"}}],
                "mirror": {"host": "httpbin", "subset": "v2"},
                "mirrorPercentage": {"value": 25.5},
            },
        ],
    )
    res, _, _ = sidecar(replace_kind(bookinfo_world(), vs))
    [policy] = vhost(res, f"{HTTPBIN}:8000")["routes"][0]["route"]["request_mirror_policies"]
    assert policy["cluster"] == f"outbound|8000|v2|{HTTPBIN}"
    assert policy["runtime_fraction"]["default_value"] == {
        "numerator": 255_000,
        "denominator": "MILLION",
    }
    vs["spec"]["http"][0].pop("mirror")
    vs["spec"]["http"][0].pop("mirrorPercentage")
    vs["spec"]["http"][0]["mirrors"] = [
        {"destination": {"host": "httpbin", "subset": "v2"}},
        {"destination": {"host": "ratings"}, "percentage": {"value": 10}},
    ]
    res, _, _ = sidecar(replace_kind(bookinfo_world(), vs))
    policies = vhost(res, f"{HTTPBIN}:8000")["routes"][0]["route"]["request_mirror_policies"]
    assert [p["cluster"] for p in policies] == [
        f"outbound|8000|v2|{HTTPBIN}",
        f"outbound|9080||{RATINGS}",
    ]
    assert policies[1]["runtime_fraction"]["default_value"]["numerator"] == 100_000


def test_service_entries():
    def se(name, resolution, **extra):
        return istio(
            "ServiceEntry",
            name,
            "default",
            {
                "hosts": [f"{name}.example.com"],
                "location": "MESH_EXTERNAL",
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                "resolution": resolution,
                **extra,
            },
        )

    objects = bookinfo_world(
        se("dns", "DNS"),
        se("static", "STATIC", endpoints=[{"address": "127.9.9.9"}]),
        se("none", "NONE"),
    )
    res, _, _ = sidecar(objects)
    dns = res.clusters["outbound|80||dns.example.com"]
    assert dns["type"] == "STRICT_DNS"
    addr = dns["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert addr["socket_address"] == {"address": "dns.example.com", "port_value": 80}
    static = res.clusters["outbound|80||static.example.com"]
    assert static["type"] == "EDS"
    ep = res.endpoints["outbound|80||static.example.com"]["endpoints"][0]["lb_endpoints"][0]
    assert ep["endpoint"]["address"]["socket_address"]["address"] == "127.9.9.9"
    none = res.clusters["outbound|80||none.example.com"]
    assert none["cluster_type"]["name"] == "envoy.clusters.dynamic_forward_proxy"
    vh = vhost(res, "dns.example.com:80")
    assert vh["domains"] == ["dns.example.com", "dns.example.com:80"]


def file_logs(hcm: dict) -> list[dict]:
    """The HCM's file access logs (the gRPC access log to the control plane is telemetry)."""
    return [log for log in hcm["access_log"] if log["name"] == "envoy.access_loggers.file"]


def test_access_log_convention():
    res, _, _ = sidecar(bookinfo_world())
    hcm = res.listeners["virtualOutbound"]["filter_chains"][0]["filters"][0]["typed_config"]
    [log] = file_logs(hcm)
    assert log["typed_config"]["path"] == "/dev/stdout"
    assert (
        "%RESPONSE_FLAGS%"
        in log["typed_config"]["log_format"]["text_format_source"]["inline_string"]
    )
    res, _, _ = sidecar(
        bookinfo_world(mesh_config("accessLogFile: /tmp/x.log\naccessLogEncoding: JSON\n"))
    )
    hcm = res.listeners["virtualOutbound"]["filter_chains"][0]["filters"][0]["typed_config"]
    [log] = file_logs(hcm)
    assert log["typed_config"]["path"] == "/tmp/x.log"
    assert log["typed_config"]["log_format"]["json_format"]["response_flags"] == (
        "%RESPONSE_FLAGS%"
    )
    res, _, _ = sidecar(bookinfo_world(mesh_config('accessLogFile: ""\n')))
    hcm = res.listeners["virtualOutbound"]["filter_chains"][0]["filters"][0]["typed_config"]
    assert file_logs(hcm) == []


def test_bad_mesh_config_names_the_field_and_allowed_values():
    with pytest.raises(ConfigError, match=r"outboundTrafficPolicy.mode='DENY'.*ALLOW_ANY"):
        parse_mesh("outboundTrafficPolicy:\n  mode: DENY\n")
    with pytest.raises(ConfigError, match=r"accessLogEncoding='XML'.*TEXT or JSON"):
        parse_mesh("accessLogEncoding: XML\n")


def test_tls_origination_and_istio_mutual():
    se = istio(
        "ServiceEntry",
        "ext",
        "default",
        {
            "hosts": ["secure.example.com"],
            "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}],
            "resolution": "DNS",
        },
    )
    dr = destination_rule(
        "ext",
        "secure.example.com",
        trafficPolicy={
            "tls": {
                "mode": "MUTUAL",
                "caCertificates": "/etc/certs/ca.pem",
                "clientCertificate": "/etc/certs/cert.pem",
                "privateKey": "/etc/certs/key.pem",
                "subjectAltNames": ["secure.example.com"],
            }
        },
    )
    res, _, _ = sidecar(bookinfo_world(se, dr))
    socket = res.clusters["outbound|443||secure.example.com"]["transport_socket"]
    ctx = socket["typed_config"]
    assert ctx["sni"] == "secure.example.com"
    assert ctx["common_tls_context"]["validation_context"]["trusted_ca"] == {
        "filename": "/etc/certs/ca.pem"
    }
    assert ctx["common_tls_context"]["tls_certificates"][0]["private_key"] == {
        "filename": "/etc/certs/key.pem"
    }
    to_any(res.clusters["outbound|443||secure.example.com"])  # parses into protos
    mutual = replace_kind(bookinfo_world(), *m.destination_rules(mtls=True))
    res, _, _ = sidecar(mutual)
    # ISTIO_MUTUAL: the security layer's socket (workload cert over SDS, SPIFFE SANs)
    common = res.clusters["outbound|9080||" + RATINGS]["transport_socket"]["typed_config"][
        "common_tls_context"
    ]
    assert common["tls_certificate_sds_secret_configs"][0]["name"] == "default"
