"""The pure parts of the mesh's telemetry: Istio's labels per access-log entry, the metric
store and its exposition, Telemetry API tag overrides, trace trees and the graph."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from istiolab import manifests as m
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.telemetry.als import FLAGS
from istiolab.local.telemetry.attributes import LABELS, TCP_LABELS, Entry, Peers, labels_for
from istiolab.local.telemetry.collector import exposition
from istiolab.local.telemetry.graph import build_graph, render_dot, render_text
from istiolab.local.telemetry.metrics import MetricStore, apply_overrides
from istiolab.local.telemetry.traces import build_traces, render, select

SETTINGS = MeshSettings(octet=171)


@pytest.fixture(scope="module")
def world():
    objects = [m.namespace("default", injection=True), *m.bookinfo()]
    registry, _ = build_registry(objects, SETTINGS, {})
    pods = {p.labels["app"] + "-" + p.labels.get("version", ""): p for p in registry.pods}
    gw = Proxy("router", gateway_pod(SETTINGS))
    proxies = {gw.node_id: gw, **{Proxy("sidecar", p).node_id: Proxy("sidecar", p)
                                  for p in registry.pods}}  # fmt: skip
    peers = Peers(registry, proxies, mtls=lambda node, cluster: "reviews" in cluster)
    return registry, pods, gw, peers


def node(pod) -> str:
    return Proxy("sidecar", pod).node_id


def test_source_reporter_labels(world):
    _, pods, _, peers = world
    pp, r2 = pods["productpage-v1"], pods["reviews-v2"]
    entry = Entry(node(pp), "outbound", upstream_ip=r2.ip, response_code=200,
                  upstream_cluster="outbound|9080||reviews.default.svc.cluster.local")  # fmt: skip
    labels = labels_for(entry, peers)
    assert set(labels) == set(LABELS)
    assert labels["reporter"] == "source"
    assert labels["source_workload"] == "productpage-v1"
    assert labels["destination_workload"] == "reviews-v2"
    assert (
        labels["destination_version"] == "v2" and labels["destination_canonical_revision"] == "v2"
    )
    assert labels["destination_service"] == "reviews.default.svc.cluster.local"
    assert labels["destination_service_name"] == "reviews"
    assert labels["source_principal"] == pp.spiffe_id  # Istio mTLS upstream
    assert labels["destination_principal"] == r2.spiffe_id
    assert labels["connection_security_policy"] == "unknown"
    assert labels["response_flags"] == "-" and labels["source_cluster"] == "Kubernetes"
    plain = Entry(node(pp), "outbound", upstream_ip=pods["details-v1"].ip, response_code=200,
                  upstream_cluster="outbound|9080||details.default.svc.cluster.local")  # fmt: skip
    assert labels_for(plain, peers)["source_principal"] == "unknown"


@pytest.mark.parametrize(
    ("source", "peer_uri", "expect_source", "expect_policy"),
    [
        ("productpage-v1", "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
         "productpage-v1", "mutual_tls"),
        ("gateway", "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
         "istio-ingressgateway", "mutual_tls"),
        ("outside", "", "unknown", "none"),
    ],
)  # fmt: skip
def test_destination_reporter_labels(world, source, peer_uri, expect_source, expect_policy):
    _, pods, gw, peers = world
    ip = {"gateway": gw.pod.ip, "outside": "127.171.250.9"}.get(source) or pods[source].ip
    details = pods["details-v1"]
    entry = Entry(node(details), "inbound", downstream_ip=ip, downstream_port=9080,
                  authority="details:9080", response_code=200, peer_uri=peer_uri)  # fmt: skip
    labels = labels_for(entry, peers)
    assert labels["reporter"] == "destination"
    assert labels["source_workload"] == expect_source
    assert labels["connection_security_policy"] == expect_policy
    assert labels["source_principal"] == (peer_uri or "unknown")
    assert labels["destination_principal"] == (details.spiffe_id if peer_uri else "unknown")
    assert labels["destination_service"] == "details.default.svc.cluster.local"


def test_local_reply_and_unknown_proxy(world):
    _, pods, _, peers = world
    pp = pods["productpage-v1"]
    overflow = Entry(node(pp), "outbound", authority="reviews:9080", response_code=503,
                     flags=("UO",))  # fmt: skip
    labels = labels_for(overflow, peers)
    assert labels["response_flags"] == "UO" and labels["destination_workload"] == "unknown"
    assert labels["destination_service"] == "reviews.default.svc.cluster.local"
    assert labels["destination_cluster"] == "unknown"
    assert labels_for(Entry("sidecar~gone", "outbound"), peers) is None
    tcp = Entry(node(pp), "inbound", tcp=True, downstream_port=9080)
    assert set(labels_for(tcp, peers)) == set(TCP_LABELS)
    assert labels_for(tcp, peers)["request_protocol"] == "tcp"
    assert FLAGS["upstream_overflow"] == "UO" and FLAGS["no_healthy_upstream"] == "UH"


def test_store_and_exposition():
    store = MetricStore()
    labels = {"reporter": "source", "response_code": "200"}
    for ms in (0.3, 4.0, 4000.0):
        store.observe(Entry("n1", "outbound", duration_ms=ms, request_bytes=150,
                            response_bytes=20), labels)  # fmt: skip
    store.observe(Entry("n2", "outbound", tcp=True, connected=True), {"reporter": "source"})
    store.observe(Entry("n2", "outbound", tcp=True, request_bytes=7, response_bytes=9),
                  {"reporter": "source"})  # fmt: skip
    text = exposition(lambda: store.collect()).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert fams["istio_requests"].type == "counter"
    assert fams["istio_request_duration_milliseconds"].type == "histogram"
    buckets = {s.labels["le"]: s.value for s in fams["istio_request_duration_milliseconds"].samples
               if s.name.endswith("_bucket")}  # fmt: skip
    assert (buckets["0.5"], buckets["5"], buckets["2500"], buckets["5000"]) == (1, 2, 2, 3)
    assert buckets["+Inf"] == 3 and "3.6e+06" in buckets
    assert "istio_requests_total{" in text and "} 3.0" in text
    tcp = (
        ("istio_tcp_connections_opened_total", 1),
        ("istio_tcp_sent_bytes_total", 9),
        ("istio_tcp_received_bytes_total", 7),
        ("istio_tcp_connections_closed_total", 1),
    )
    for name, value in tcp:
        assert f'{name}{{reporter="source"}} {float(value)}' in text
    one = exposition(lambda: store.collect(["n2"])).decode()
    assert "istio_requests_total" not in one and "istio_tcp_sent_bytes_total" in one
    store.forget(["n2"])
    assert not any(n == "istio_requests_total" for n, _, _ in store.samples())


@pytest.mark.parametrize(
    ("override", "metric", "expected"),
    [
        ({"tagOverrides": {"request_protocol": {"operation": "REMOVE"}}},
         "istio_requests_total", {"reporter": "source", "response_code": "200"}),
        ({"match": {"metric": "REQUEST_COUNT"},
          "tagOverrides": {"request_host": {"value": "request.host"}}},
         "istio_requests_total",
         {"reporter": "source", "response_code": "200", "request_protocol": "http",
          "request_host": "reviews:9080"}),
        ({"match": {"metric": "REQUEST_COUNT"},
          "tagOverrides": {"request_protocol": {"operation": "REMOVE"}}},
         "istio_request_bytes",
         {"reporter": "source", "response_code": "200", "request_protocol": "http"}),
        ({"match": {"mode": "SERVER"}, "tagOverrides": {"response_code": {"operation": "REMOVE"}}},
         "istio_requests_total",
         {"reporter": "source", "response_code": "200", "request_protocol": "http"}),
        ({"tagOverrides": {"team": {"value": "'books'"}}}, "istio_requests_total",
         {"reporter": "source", "response_code": "200", "request_protocol": "http",
          "team": "books"}),
        ({"match": {"metric": "REQUEST_COUNT"}, "disabled": True}, "istio_requests_total", {}),
    ],
)  # fmt: skip
def test_telemetry_api_tag_overrides(override, metric, expected):
    labels = {"reporter": "source", "response_code": "200", "request_protocol": "http"}
    entry = Entry("n", "outbound", authority="reviews:9080")
    assert apply_overrides(metric, labels, entry, [override]) == expected


def span(trace, sid, parent, service, start, duration, status="200", kind="SERVER"):
    return {"traceId": trace, "id": sid, "parentId": parent, "name": f"{service}:9080/*",
            "timestamp": start, "duration": duration, "kind": kind,
            "localEndpoint": {"serviceName": service},
            "tags": {"http.status_code": status}}  # fmt: skip


def test_trace_trees():
    spans = [
        span("t1", "a", None, "istio-ingressgateway.istio-system", 1000, 9000, kind="CLIENT"),
        span("t1", "b", "a", "productpage.default", 1100, 8000),
        span("t1", "c", "b", "reviews.default", 1200, 3000, status="503"),
        span("t1", "d", "b", "details.default", 1150, 1000),
        span("t2", "x", "missing", "ratings.default", 5000, 500),
    ]
    traces = build_traces(spans)
    assert [t.trace_id for t in traces] == ["t2", "t1"]  # newest first
    t1 = traces[1]
    assert t1.spans == 4 and len(t1.roots) == 1
    assert [c.service for c in t1.roots[0].children[0].children] == ["details.default",
                                                                     "reviews.default"]  # fmt: skip
    assert traces[0].roots[0].service == "ratings.default"  # orphan span: a root
    assert [t.trace_id for t in select(traces, service="details")] == ["t1"]
    assert [t.trace_id for t in select(traces, min_duration_ms=5)] == ["t1"]
    assert len(select(traces, limit=1)) == 1
    lines = render(t1)
    assert lines[0].startswith("trace t1  9.0 ms  4 spans")
    assert lines[3].strip().startswith("details.default")


def sample(src, dst_wl, dst_svc, code="200", value=1.0, reporter="destination", mtls=True):
    labels = {
        "reporter": reporter, "source_workload": src, "source_workload_namespace": "default",
        "source_app": src.split("-")[0], "source_version": "v1",
        "destination_workload": dst_wl, "destination_workload_namespace": "default",
        "destination_app": dst_wl.split("-")[0], "destination_version": dst_wl.split("-")[-1],
        "destination_service_name": dst_svc, "destination_service_namespace": "default",
        "response_code": code,
        "connection_security_policy": "mutual_tls" if mtls else "none",
    }  # fmt: skip
    return ("istio_requests_total", labels, value)


def test_graph_from_samples():
    then = [sample("productpage-v1", "reviews-v1", "reviews", value=10)]
    now = [
        sample("productpage-v1", "reviews-v1", "reviews", value=30),
        sample("productpage-v1", "reviews-v2", "reviews", value=20),
        sample("productpage-v1", "reviews-v2", "reviews", code="503", value=20),
        sample("productpage-v1", "reviews-v1", "reviews", value=99, reporter="source"),  # ignored
        sample("fortio-deploy", "unknown", "httpbin", code="503", value=4, reporter="source",
               mtls=False),  # a local 503 (UO): only the source saw it
        ("istio_request_duration_milliseconds_bucket",
         {**sample("productpage-v1", "reviews-v1", "reviews")[1], "le": "10"}, 20),
        ("istio_request_duration_milliseconds_bucket",
         {**sample("productpage-v1", "reviews-v1", "reviews")[1], "le": "+Inf"}, 20),
    ]  # fmt: skip
    g = build_graph(now, then, seconds=10)
    edges = {(e.source, e.target): e for e in g.edges}
    svc = edges[("default/productpage-v1", "default/svc/reviews")]
    assert svc.requests == 60 and svc.rps == 6.0
    assert svc.error_share == pytest.approx(20 / 60)
    assert edges[("default/svc/reviews", "default/reviews-v1")].requests == 20
    assert edges[("default/svc/reviews", "default/reviews-v1")].p99_ms == pytest.approx(9.9)
    assert edges[("default/svc/reviews", "default/reviews-v2")].requests == 40
    assert edges[("default/fortio-deploy", "default/svc/httpbin")].mtls_share == 0
    assert ("default/svc/httpbin", "default/unknown") not in edges
    versions = {n.version for n in g.nodes.values() if n.app == "reviews"}
    assert versions == {"v1", "v2"}
    assert len(render_text(g)) == 1 + len(g.edges)
    assert '"default/reviews-v2"' in render_dot(g)
    only = build_graph(now, then, 10, namespace="other")
    assert only.edges == []


def test_als_entries_from_envoy_messages():
    from envoy.data.accesslog.v3 import accesslog_pb2

    from istiolab.local.telemetry.als import http_entry, tcp_entry

    e = accesslog_pb2.HTTPAccessLogEntry()
    c = e.common_properties
    c.downstream_remote_address.socket_address.address = "192.0.2.2"  # from X-Forwarded-For
    c.downstream_direct_remote_address.socket_address.address = "127.171.1.4"  # the TCP peer
    c.downstream_local_address.socket_address.port_value = 9080
    c.upstream_remote_address.socket_address.address = "127.171.1.7"
    c.upstream_cluster = "outbound|9080||reviews.default.svc.cluster.local"
    c.response_flags.upstream_overflow = True
    c.response_flags.upstream_retry_limit_exceeded = True
    c.duration.FromMilliseconds(12)
    san = c.tls_properties.peer_certificate_properties.subject_alt_name.add()
    san.uri = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
    e.request.authority = "reviews:9080"
    e.request.request_method = 1  # GET
    e.request.path = "/reviews/0"
    e.request.request_headers_bytes, e.request.request_body_bytes = 100, 20
    e.response.response_code.value = 503
    e.response.response_headers_bytes, e.response.response_body_bytes = 80, 19
    entry = http_entry("sidecar~x", "inbound", e)
    assert entry.downstream_ip == "127.171.1.4" and entry.downstream_port == 9080
    assert entry.flags == ("UO", "URX") and entry.response_code == 503
    assert entry.peer_uri.endswith("sa/bookinfo-productpage")
    assert (entry.duration_ms, entry.request_bytes, entry.response_bytes) == (12.0, 120, 99)
    assert (entry.method, entry.path, entry.protocol) == ("GET", "/reviews/0", "http")
    t = accesslog_pb2.TCPAccessLogEntry()
    t.common_properties.access_log_type = accesslog_pb2.AccessLogType.Value("TcpUpstreamConnected")
    assert tcp_entry("n", "inbound", t).connected is True
    t.common_properties.access_log_type = accesslog_pb2.AccessLogType.Value("TcpConnectionEnd")
    t.connection_properties.received_bytes, t.connection_properties.sent_bytes = 7, 9
    end = tcp_entry("n", "inbound", t)
    assert (end.connected, end.request_bytes, end.response_bytes) == (False, 7, 9)
    t.common_properties.access_log_type = accesslog_pb2.AccessLogType.Value("TcpPeriodic")
    assert tcp_entry("n", "inbound", t) is None
