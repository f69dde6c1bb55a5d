"""The pure judges of the telemetry and load-run checks: an Istio metric's series by labels,
graph nodes and edges by the names a learner reads, a trace's path through services, the
`istiolab load` arguments and the verdict read from its JSON result."""

from __future__ import annotations

import pytest

from istiolab.labs import signals
from istiolab.local.telemetry.graph import build_graph
from istiolab.local.telemetry.traces import build_traces


def series(src: str, dst: str, version: str, code: str = "200", reporter="destination"):
    labels = {
        "reporter": reporter,
        "source_workload": f"{src}-v1",
        "source_workload_namespace": "default",
        "source_app": src,
        "source_version": "v1",
        "destination_service_name": dst,
        "destination_service_namespace": "default",
        "destination_service": f"{dst}.default.svc.cluster.local",
        "destination_workload": f"{dst}-{version}",
        "destination_workload_namespace": "default",
        "destination_app": dst,
        "destination_version": version,
        "response_code": code,
    }
    return labels


NOW = [
    ("istio_requests_total", series("productpage", "reviews", "v1"), 7.0),
    ("istio_requests_total", series("productpage", "reviews", "v3"), 5.0),
    ("istio_requests_total", series("productpage", "reviews", "v3", "503"), 2.0),
    ("istio_requests_total", series("productpage", "reviews", "v3", reporter="source"), 5.0),
    ("istio_requests_total", series("reviews", "ratings", "v1"), 5.0),
    ("istio_request_bytes_sum", series("productpage", "reviews", "v3"), 900.0),
]
THEN = [("istio_requests_total", series("productpage", "reviews", "v1"), 7.0)]


@pytest.mark.parametrize(
    ("labels", "total"),
    [
        ({}, 24.0),
        ({"reporter": "destination"}, 19.0),
        ({"destination_workload": "reviews-v3", "reporter": "destination"}, 7.0),
        ({"destination_workload": "reviews-v3", "response_code": 200}, 10.0),  # numbers as text
        ({"destination_workload": "reviews-v2"}, 0.0),
    ],
)
def test_metric_sum_by_labels(labels, total):
    assert signals.metric_sum(NOW, "istio_requests_total", labels) == total


def test_a_series_is_named_as_a_prometheus_query():
    assert signals.describe_series("istio_requests_total", {"reporter": "destination"}) == (
        'istio_requests_total{reporter="destination"}'
    )


GRAPH = build_graph(NOW, THEN, 60.0)


@pytest.mark.parametrize(
    ("nodes", "edges", "missing"),
    [
        (["reviews v3", "reviews", "svc/reviews", "productpage v1"], [], []),
        (["details"], [], ["details"]),
        (["reviews v2", "ratings"], [], ["reviews v2"]),
        ([], ["productpage v1 -> reviews v3", "productpage -> svc/reviews"], []),
        ([], ["svc/reviews -> reviews v3", "reviews v1 -> ratings v1"], []),
        ([], ["productpage v1 -> reviews v1"], ["productpage v1 -> reviews v1"]),
        (
            [],
            ["ratings v1 -> reviews v3", "productpage v1 reviews v3"],
            ["ratings v1 -> reviews v3", "productpage v1 reviews v3"],
        ),
    ],
)
def test_graph_nodes_and_edges(nodes, edges, missing):
    assert signals.graph_missing(GRAPH, nodes, edges) == missing


def test_an_empty_graph_says_so():
    assert signals.describe_graph(build_graph([], [], 60.0)) == "no requests in the window"
    assert "reviews v3" in signals.describe_graph(GRAPH)


def span(trace, sid, parent, service, ts):
    return {"traceId": trace, "id": sid, "parentId": parent, "timestamp": ts, "duration": 10,
            "localEndpoint": {"serviceName": f"{service}.default"}}  # fmt: skip


SPANS = [  # t1: gateway -> productpage -> reviews -> ratings; t2: productpage -> reviews, details
    span("t1", "a", None, "istio-ingressgateway", 1_000),
    span("t1", "b", "a", "productpage", 1_001),
    span("t1", "c", "b", "productpage", 1_002),
    span("t1", "d", "c", "reviews", 1_003),
    span("t1", "e", "d", "ratings", 1_004),
    span("t2", "f", None, "productpage", 5_000),
    span("t2", "g", "f", "reviews", 5_001),
    span("t2", "h", "f", "ratings", 5_002),  # a sibling of reviews, not below it
]


@pytest.mark.parametrize(
    ("services", "since", "ids"),
    [
        (["productpage", "reviews", "ratings"], 0, ["t1"]),
        (["productpage", "reviews"], 0, ["t2", "t1"]),
        (["productpage.default", "ratings"], 0, ["t2", "t1"]),
        (["ratings", "productpage"], 0, []),  # order matters
        (["productpage", "reviews"], 2_000, ["t2"]),  # only traces begun during the check
    ],
)
def test_traces_through_services_in_order(services, since, ids):
    found = signals.traces_through(build_traces(SPANS), services, since)
    assert [t.trace_id for t in found] == ids


def test_loadrun_arguments():
    params = {"from": "fortio", "users": 3, "requests": 30, "expect": ["p99 < 1s"]}
    assert signals.loadrun_args("circuit-breaker", params) == [
        "load", "circuit-breaker", "--from", "fortio", "--users", "3", "--requests", "30",
        "--expect", "p99 < 1s", "-o", "json",
    ]  # fmt: skip


def expectation(text: str, verdict: str, measured: str = "0.5", value: float | None = 0.5):
    return {"expectation": text, "verdict": verdict, "measured": measured, "value": value}


@pytest.mark.parametrize(
    ("result", "passed", "shown"),
    [
        (
            {
                "requests": 30,
                "passed": True,
                "overall": {"codes": {"200": {"count": 14}, "503": {"count": 16}}},
                "expectations": [expectation("share(503) > 0.2", "pass")],
            },
            True,
            "30 requests, Code 200 : 14 Code 503 : 16; share(503) > 0.2: measured 0.5",
        ),
        (
            {
                "requests": 30,
                "passed": False,
                "overall": {"codes": {"200": {"count": 30}}},
                "expectations": [
                    expectation("p99 < 2s", "pass"),
                    expectation("share(503) > 0.2", "fail", "0.000", 0.0),
                    expectation("flag(UO) == count(503)", "fail", "", None),
                ],
            },
            False,
            "30 requests, Code 200 : 30; share(503) > 0.2: measured 0.000 (fail); "
            "flag(UO) == count(503): not measured (fail)",
        ),
        ({"requests": 0, "expectations": []}, False, "0 requests, no codes"),
    ],
)
def test_judge_a_load_run(result, passed, shown):
    assert signals.judge_loadrun(result) == (passed, shown)
