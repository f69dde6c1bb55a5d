"""The service graph from Istio's metrics, built the way Kiali builds its versioned-app
graph (pure: samples in, graph out; the CLI and the console share it).

Input: ``(metric, labels, value)`` samples of two moments and the seconds between them
(counters are cumulative; the graph is their difference, i.e. Prometheus' ``rate``). As
Kiali does, requests are read from ``reporter="destination"`` series, plus
``reporter="source"`` ones whose destination is unknown (a local 503 from a tripped breaker
never reaches a destination proxy) and whose source is outside the mesh.

Nodes: ``workload`` (namespace, workload, app, version), ``service`` (the destination
service) and ``unknown`` (traffic from outside the mesh). Edges: source workload ->
service -> destination workload, each with requests, rps, error share (5xx and 4xx),
p99 (ms, from the duration histogram's buckets) and the mTLS share.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

Sample = tuple[str, dict, float]
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # workload | service | unknown
    namespace: str
    name: str
    app: str = ""
    version: str = ""


@dataclass
class Edge:
    source: str
    target: str
    requests: float = 0.0
    errors: float = 0.0
    mtls: float = 0.0
    codes: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)
    rps: float = 0.0
    p99_ms: float | None = None

    @property
    def error_share(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def mtls_share(self) -> float:
        return self.mtls / self.requests if self.requests else 0.0


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "seconds": self.seconds,
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "requests": e.requests,
                    "rps": round(e.rps, 3),
                    "error_share": round(e.error_share, 4),
                    "p99_ms": e.p99_ms,
                    "mtls_share": round(e.mtls_share, 4),
                    "codes": e.codes,
                }
                for e in self.edges
            ],
        }


def _key(labels: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "le"))


def _delta(now: Iterable[Sample], then: Iterable[Sample]) -> list[Sample]:
    before = {(m, _key(lbl), lbl.get("le")): v for m, lbl, v in then}
    out = []
    for metric, labels, value in now:
        d = value - before.get((metric, _key(labels), labels.get("le")), 0.0)
        if d > 0:
            out.append((metric, labels, d))
    return out


def _counted(labels: dict) -> bool:
    if labels.get("reporter") == "destination":
        return True
    return labels.get("destination_workload", UNKNOWN) == UNKNOWN


def _nodes(labels: dict) -> tuple[Node, Node, Node | None]:
    if labels.get("source_workload", UNKNOWN) == UNKNOWN:
        src = Node(UNKNOWN, "unknown", UNKNOWN, UNKNOWN)
    else:
        ns, wl = labels["source_workload_namespace"], labels["source_workload"]
        src = Node(f"{ns}/{wl}", "workload", ns, wl, labels.get("source_app", ""),
                   labels.get("source_version", ""))  # fmt: skip
    svc_ns = labels.get("destination_service_namespace", UNKNOWN)
    svc_name = labels.get("destination_service_name", UNKNOWN)
    svc = Node(f"{svc_ns}/svc/{svc_name}", "service", svc_ns, svc_name)
    dst = None
    if labels.get("destination_workload", UNKNOWN) != UNKNOWN:
        ns, wl = labels["destination_workload_namespace"], labels["destination_workload"]
        dst = Node(f"{ns}/{wl}", "workload", ns, wl, labels.get("destination_app", ""),
                   labels.get("destination_version", ""))  # fmt: skip
    return src, svc, dst


def _p99(buckets: dict[float, float], total: float) -> float | None:
    """Prometheus' histogram_quantile(0.99) over cumulative buckets (linear in a bucket)."""
    if not total or not buckets:
        return None
    rank, prev_bound, prev_count = 0.99 * total, 0.0, 0.0
    for bound in sorted(buckets):
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            span = count - prev_count
            return round(prev_bound + (bound - prev_bound) * ((rank - prev_count) / span), 3)
        prev_bound, prev_count = bound, count
    return prev_bound


def build_graph(
    now: Iterable[Sample], then: Iterable[Sample] = (), seconds: float = 0.0,
    namespace: str | None = None,
) -> Graph:  # fmt: skip
    """The graph of the traffic between ``then`` and ``now`` (``namespace``: edges that
    touch it)."""
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], Edge] = {}
    for metric, labels, value in _delta(now, then):
        if metric not in ("istio_requests_total", "istio_request_duration_milliseconds_bucket"):
            continue
        if not _counted(labels):
            continue
        src, svc, dst = _nodes(labels)
        if namespace and namespace not in (src.namespace, svc.namespace):
            continue
        hops = [(src, svc)] + ([(svc, dst)] if dst is not None else [])
        for a, b in hops:
            nodes.setdefault(a.id, a)
            nodes.setdefault(b.id, b)
            edge = edges.setdefault((a.id, b.id), Edge(a.id, b.id))
            if metric == "istio_requests_total":
                edge.requests += value
                code = labels.get("response_code", "")
                edge.codes[code] = edge.codes.get(code, 0.0) + value
                if code.startswith(("4", "5")) or code == "0":
                    edge.errors += value
                if labels.get("connection_security_policy") == "mutual_tls":
                    edge.mtls += value
            else:
                le = float(labels["le"])
                edge.buckets[le] = edge.buckets.get(le, 0.0) + value
    for edge in edges.values():
        edge.rps = edge.requests / seconds if seconds > 0 else 0.0
        edge.p99_ms = _p99(edge.buckets, edge.requests)
    return Graph(nodes, sorted(edges.values(), key=lambda e: (e.source, e.target)), seconds)


def node_label(node: Node) -> str:
    """``reviews v2`` for a workload (its app and version, as Kiali's versioned-app graph),
    ``svc/reviews`` for a service, ``unknown`` for traffic from outside the mesh."""
    if node.kind == "workload":
        app = node.app if node.app not in ("", UNKNOWN) else node.name
        return app if node.version in ("", UNKNOWN) else f"{app} {node.version}"
    if node.kind == "service":
        return f"svc/{node.name}"
    return node.name


def render_text(graph: Graph) -> list[str]:
    lines = [f"{'SOURCE':28} {'DESTINATION':28} {'REQUESTS':>8} {'RPS':>7} "
             f"{'ERR%':>6} {'P99(ms)':>8} {'MTLS%':>6}"]  # fmt: skip
    for e in graph.edges:
        src, dst = graph.nodes[e.source], graph.nodes[e.target]
        p99 = f"{e.p99_ms:.1f}" if e.p99_ms is not None else "-"
        lines.append(
            f"{node_label(src)[:28]:28} {node_label(dst)[:28]:28} {e.requests:>8.0f} {e.rps:>7.2f} "
            f"{100 * e.error_share:>6.1f} {p99:>8} {100 * e.mtls_share:>6.0f}"
        )
    return lines


def render_dot(graph: Graph) -> str:
    shapes = {"workload": "box", "service": "triangle", "unknown": "diamond"}
    out = ["digraph mesh {", "  rankdir=LR;"]
    for node in graph.nodes.values():
        out.append(f"  {json.dumps(node.id)} [label={json.dumps(node_label(node))}, "
                   f"shape={shapes[node.kind]}];")  # fmt: skip
    for e in graph.edges:
        label = f"{e.rps:.2f} rps, {100 * e.error_share:.0f}% err"
        if e.mtls_share:
            label += ", mTLS"
        color = "red" if e.error_share > 0.05 else "black"
        out.append(f"  {json.dumps(e.source)} -> {json.dumps(e.target)} "
                   f"[label={json.dumps(label)}, color={color}];")  # fmt: skip
    out.append("}")
    return "\n".join(out)
