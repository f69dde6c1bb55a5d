"""Judging the mesh's telemetry and load runs for the lab checks (pure): the growth of an
Istio standard metric for some labels, nodes and edges of the service graph, a trace through
given services, and the JSON result of an ``istiolab load`` run.

Node specs name a graph node as a learner reads it: ``reviews v3`` (a workload by app and
version), ``reviews`` (any version), ``svc/reviews`` (the service), ``unknown`` (traffic from
outside the mesh). An edge spec is ``A -> B``; a workload-to-workload edge may pass through
the destination's service node, as the graph draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from istiolab.local.telemetry.graph import Graph, Node, node_label
from istiolab.local.telemetry.traces import SpanNode, Trace

Sample = tuple[str, dict, float]


def metric_sum(samples: Iterable[Sample], metric: str, labels: Mapping[str, Any]) -> float:
    """The sum of `metric`'s series whose labels have every value in `labels`."""
    want = {k: str(v) for k, v in labels.items()}
    return sum(
        value
        for name, got, value in samples
        if name == metric and all(got.get(k) == v for k, v in want.items())
    )


def describe_series(metric: str, labels: Mapping[str, Any]) -> str:
    """``istio_requests_total{reporter="destination",...}``, as a Prometheus query names it."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{inner}}}" if inner else metric


def node_matches(node: Node, spec: str) -> bool:
    """Does `spec` name `node`: its graph label (``reviews v3``, ``svc/reviews``,
    ``unknown``), or a workload's app alone (any version)."""
    spec, shown = spec.strip(), node_label(node)
    return shown == spec or (node.kind == "workload" and shown.split(" ")[0] == spec)


def parse_edge(spec: str) -> tuple[str, str] | None:
    """``A -> B`` as (A, B); None when it is not one."""
    a, sep, b = spec.partition("->")
    return (a.strip(), b.strip()) if sep and a.strip() and b.strip() else None


def has_edge(graph: Graph, spec: str) -> bool:
    pair = parse_edge(spec)
    if pair is None:
        return False
    src, dst = pair
    nodes = graph.nodes
    direct = [(nodes[e.source], nodes[e.target]) for e in graph.edges if e.requests > 0]
    if any(node_matches(a, src) and node_matches(b, dst) for a, b in direct):
        return True
    # workload -> service -> workload, as the graph draws a call
    into = {b.id: a for a, b in direct if node_matches(a, src) and b.kind == "service"}
    return any(a.id in into and node_matches(b, dst) for a, b in direct)


def graph_missing(graph: Graph, nodes: Sequence[str], edges: Sequence[str]) -> list[str]:
    """The node and edge specs the graph lacks (empty: it has them all)."""
    missing = [n for n in nodes if not any(node_matches(x, n) for x in graph.nodes.values())]
    return missing + [e for e in edges if not has_edge(graph, e)]


def describe_graph(graph: Graph, limit: int = 12) -> str:
    labels = sorted({node_label(n) for n in graph.nodes.values() if n.kind != "service"})
    if not labels:
        return "no requests in the window"
    more = f" (+{len(labels) - limit})" if len(labels) > limit else ""
    return "nodes " + ", ".join(labels[:limit]) + more


def _service(span: SpanNode) -> str:
    return span.service.split(".")[0]


def passes_through(trace: Trace, services: Sequence[str]) -> bool:
    """Some root-to-leaf path of the trace visits `services` in this order (other spans in
    between: each call has the caller's client span and the callee's server span)."""
    want = [s.split(".")[0] for s in services]

    def walk(node: SpanNode, matched: int) -> bool:
        if matched < len(want) and _service(node) == want[matched]:
            matched += 1
        if matched == len(want):
            return True
        return any(walk(child, matched) for child in node.children)

    return not want or any(walk(root, 0) for root in trace.roots)


def traces_through(
    traces: Iterable[Trace], services: Sequence[str], since_us: int = 0
) -> list[Trace]:
    """The traces started at or after `since_us` (epoch microseconds) through `services`."""
    return [t for t in traces if t.start_us >= since_us and passes_through(t, services)]


def loadrun_args(scenario: str, params: Mapping[str, Any]) -> list[str]:
    """The ``istiolab load`` arguments of a loadrun check (``-o json``: its result)."""
    args = ["load", scenario]
    for key, option in (("from", "--from"), ("users", "--users"), ("requests", "--requests")):
        if key in params:
            args += [option, str(params[key])]
    for key, option in (("duration", "--duration"), ("seed", "--seed"), ("engine", "--engine")):
        if key in params:
            args += [option, str(params[key])]
    for extra in params.get("expect") or ():
        args += ["--expect", str(extra)]
    return [*args, "-o", "json"]


def judge_loadrun(result: Mapping[str, Any]) -> tuple[bool, str]:
    """Did a load run's expectations all pass; what it measured (the failed ones first)."""
    rows = list(result.get("expectations") or [])
    failed = [e for e in rows if e.get("verdict") != "pass"]
    shown = failed or rows
    parts = [
        f"{e.get('expectation')}: "
        + ("not measured" if e.get("value") is None else f"measured {e.get('measured')}")
        + ("" if e.get("verdict") == "pass" else " (fail)")
        for e in shown[:3]
    ]
    codes = (result.get("overall") or {}).get("codes") or {}
    summary = f"{result.get('requests', 0)} requests, " + (
        " ".join(f"Code {c} : {v.get('count')}" for c, v in sorted(codes.items())) or "no codes"
    )
    ok = bool(rows) and not failed and result.get("passed") is not False
    return ok, summary + ("; " + "; ".join(parts) if parts else "")
