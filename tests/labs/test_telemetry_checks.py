"""The metric, graph and trace checks measured by the Runner on a backend's telemetry (a
recorded window and spans standing in for a mesh): expected, measured and the hint."""

from __future__ import annotations

from istiolab.errors import MeshError
from istiolab.labs.checks import Problems, parse_check
from istiolab.labs.runner import Runner
from labs.test_signals import NOW, SPANS, THEN


class Recorded:
    """The two telemetry reads of the Backend interface, from recorded data."""

    def __init__(self, now=NOW, then=THEN, spans=SPANS, fail: str = "") -> None:
        self.now, self.then, self.span_list, self.fail = now, then, spans, fail

    def telemetry_window(self, seconds: float = 60.0) -> dict:
        if self.fail:
            raise MeshError(self.fail)
        return {"now": self.now, "then": self.then, "seconds": seconds}

    def spans(self) -> list[dict]:
        return self.span_list


def run(backend, **raw):
    problems = Problems("lab.yaml")
    check = parse_check({"id": "c", "description": "d", **raw}, "checks[0]", problems)
    problems.raise_if_any()
    return Runner(backend, patience=0).run(check)


def test_metric_growth_over_a_window():
    labels = {"destination_workload": "reviews-v3", "reporter": "destination"}
    ok = run(Recorded(), type="metric", labels=labels, change={"gte": 7}, window=60)
    assert ok.passed, ok.measured
    assert ok.measured == "+7 in the last 60s"
    low = run(Recorded(), type="metric", labels=labels, change={"gte": 8}, hint="more traffic")
    assert not low.passed and low.hint == "more traffic"
    assert low.expected.startswith('istio_requests_total{destination_workload="reviews-v3"')
    v1 = run(Recorded(), type="metric", labels={"destination_workload": "reviews-v1"})
    assert not v1.passed and v1.measured == "+0 in the last 60s"  # counted before the window


def test_graph_names_what_is_missing():
    ok = run(Recorded(), type="graph", nodes=["reviews v3"], edges=["productpage -> reviews v3"])
    assert ok.passed, ok.measured
    bad = run(Recorded(), type="graph", nodes=["reviews v2", "reviews v3"])
    assert not bad.passed and bad.measured.startswith("missing reviews v2; nodes ")


def test_trace_counts_paths_through_services():
    ok = run(Recorded(), type="trace", services=["productpage", "reviews"], count=2)
    assert ok.passed and ok.measured.startswith("2 trace(s) through them, of 2"), ok.measured
    bad = run(Recorded(), type="trace", services=["productpage", "reviews", "ratings"], count=2)
    assert not bad.passed and bad.measured.startswith("1 trace(s)")


def test_a_mesh_without_telemetry_is_a_failed_check_not_a_crash():
    r = run(Recorded(fail="kind: the service graph is read from the local mesh only"),
            type="graph", nodes=["reviews"])  # fmt: skip
    assert not r.passed and r.measured.startswith("error: kind: the service graph")
