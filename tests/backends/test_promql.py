"""Reading Istio's metrics from a Prometheus (the cluster backend's telemetry window):
instant-query answers become the samples the service graph is built from."""

from __future__ import annotations

import pytest

from istiolab.backends.promql import SELECTOR, samples, window
from istiolab.errors import MeshError
from istiolab.local.telemetry.graph import build_graph

LABELS = {
    "reporter": "destination",
    "source_workload": "productpage-v1",
    "source_workload_namespace": "default",
    "source_app": "productpage",
    "source_version": "v1",
    "destination_service_namespace": "default",
    "destination_service_name": "reviews",
    "destination_workload": "reviews-v2",
    "destination_workload_namespace": "default",
    "destination_app": "reviews",
    "destination_version": "v2",
    "response_code": "200",
    "connection_security_policy": "mutual_tls",
    "job": "kubernetes-pods",  # target labels Prometheus adds: carried, ignored by the graph
    "pod": "reviews-v2-5b667bcbf8-x7r2k",
}


def answer(*series: tuple[str, dict, str]) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"__name__": name, **labels}, "value": [1767225600.0, value]}
                for name, labels, value in series
            ],
        },
    }


def test_samples_are_name_labels_and_value():
    got = samples(answer(("istio_requests_total", LABELS, "12"),
                         ("istio_request_duration_milliseconds_bucket",
                          {**LABELS, "le": "+Inf"}, "12")))  # fmt: skip
    assert got[0] == ("istio_requests_total", LABELS, 12.0)
    assert got[1][1]["le"] == "+Inf" and got[1][2] == 12.0


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"status": "error", "errorType": "bad_data", "error": "parse error"},
         "Prometheus refused the query: bad_data: parse error"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}},
         "not an instant vector"),
    ],
)  # fmt: skip
def test_a_refused_or_unexpected_answer_is_a_mesh_error(reply, message):
    with pytest.raises(MeshError, match=message):
        samples(reply)


def test_window_queries_now_and_seconds_before_and_feeds_the_graph():
    asked: list[tuple[str, float]] = []

    def query(expr: str, at: float) -> dict:
        asked.append((expr, at))
        return answer(("istio_requests_total", LABELS, "30" if at == 1000.0 else "10"))

    data = window(query, 60.0, 1000.0)
    assert asked == [(SELECTOR, 1000.0), (SELECTOR, 940.0)]
    g = build_graph(data["now"], data["then"], data["seconds"])
    edge = next(e for e in g.edges if e.target == "default/reviews-v2")
    assert edge.requests == 20.0 and edge.mtls_share == 1.0
    assert round(edge.rps, 3) == round(20 / 60, 3)
