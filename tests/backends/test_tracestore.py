"""Spans from a cluster's trace store: Zipkin's read API as it answers, Jaeger's query API
converted to Zipkin v2 spans (the shape the trace trees are built from)."""

from __future__ import annotations

from istiolab.backends.tracestore import from_jaeger, jaeger_spans, zipkin_spans
from istiolab.local.telemetry.traces import build_traces

# one trace as Jaeger's query API answers it (/jaeger/api/traces: data[i])
JAEGER_TRACE = {
    "traceID": "4bf92f3577b34da6",
    "spans": [
        {"traceID": "4bf92f3577b34da6", "spanID": "00f067aa0ba902b7",
         "operationName": "productpage.default.svc.cluster.local:9080/productpage",
         "references": [], "startTime": 1767225600000000, "duration": 25000,
         "tags": [{"key": "span.kind", "type": "string", "value": "client"},
                  {"key": "http.status_code", "type": "string", "value": "200"},
                  {"key": "upstream_cluster", "type": "string",
                   "value": "outbound|9080||productpage.default.svc.cluster.local"}],
         "processID": "p1"},
        {"traceID": "4bf92f3577b34da6", "spanID": "b7ad6b7169203331",
         "operationName": "productpage.default.svc.cluster.local:9080/productpage",
         "references": [{"refType": "CHILD_OF", "traceID": "4bf92f3577b34da6",
                         "spanID": "00f067aa0ba902b7"}],
         "startTime": 1767225600001000, "duration": 23000,
         "tags": [{"key": "span.kind", "type": "string", "value": "server"},
                  {"key": "http.status_code", "type": "string", "value": "503"},
                  {"key": "error", "type": "bool", "value": True}],
         "processID": "p2"},
    ],
    "processes": {
        "p1": {"serviceName": "istio-ingressgateway.istio-system", "tags": []},
        "p2": {"serviceName": "productpage.default", "tags": []},
    },
}  # fmt: skip


def test_a_jaeger_trace_becomes_zipkin_spans_and_one_tree():
    spans = from_jaeger(JAEGER_TRACE)
    assert spans[0] == {
        "traceId": "4bf92f3577b34da6",
        "id": "00f067aa0ba902b7",
        "name": "productpage.default.svc.cluster.local:9080/productpage",
        "timestamp": 1767225600000000,
        "duration": 25000,
        "localEndpoint": {"serviceName": "istio-ingressgateway.istio-system"},
        "tags": {"http.status_code": "200",
                 "upstream_cluster": "outbound|9080||productpage.default.svc.cluster.local"},
        "kind": "CLIENT",
    }  # fmt: skip
    assert spans[1]["parentId"] == "00f067aa0ba902b7" and spans[1]["kind"] == "SERVER"
    assert spans[1]["tags"]["error"] == "true"
    (trace,) = build_traces(spans)
    (root,) = trace.roots
    assert root.service == "istio-ingressgateway.istio-system"
    (child,) = root.children
    assert (child.service, child.status, child.error) == ("productpage.default", "503", True)


def test_jaeger_reads_every_service_and_each_trace_once():
    asked: list[str] = []

    def get(path: str):
        asked.append(path)
        if path == "/jaeger/api/services":
            return {"data": ["istio-ingressgateway.istio-system", "productpage.default"]}
        return {"data": [JAEGER_TRACE]}  # both services' queries find the same trace

    spans = jaeger_spans(get, limit=5)
    assert len(spans) == 2
    assert asked[1] == "/jaeger/api/traces?service=istio-ingressgateway.istio-system&limit=5"


def test_zipkin_traces_are_flattened():
    span = {"traceId": "a" * 16, "id": "b" * 16, "name": "get"}

    def get(path: str):
        assert path == "/api/v2/traces?limit=7"
        return [[span], [dict(span, id="c" * 16)]]

    assert [s["id"] for s in zipkin_spans(get, limit=7)] == ["b" * 16, "c" * 16]
