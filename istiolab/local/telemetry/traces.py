"""Zipkin spans -> trace trees (pure): what `istiolab traces` prints and the console shows.

A trace is the spans sharing a ``traceId``; each span's parent is ``parentId``. Each node
carries the service (Envoy's ``localEndpoint.serviceName``: ``productpage.default``), the
operation (``name``), the duration, the HTTP status (``tags.http.status_code``) and whether
it failed (``tags.error``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class SpanNode:
    span_id: str
    service: str
    operation: str
    start_us: int
    duration_us: int
    kind: str
    status: str
    error: bool
    tags: dict[str, str] = field(default_factory=dict)
    children: list[SpanNode] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "span_id": self.span_id,
            "service": self.service,
            "operation": self.operation,
            "start_us": self.start_us,
            "duration_ms": round(self.duration_us / 1000, 3),
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "tags": self.tags,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class Trace:
    trace_id: str
    roots: list[SpanNode]
    spans: int
    start_us: int
    duration_us: int
    services: list[str]

    def to_dict(self) -> dict:
        return {
            "trace_id": self.trace_id,
            "spans": self.spans,
            "start_us": self.start_us,
            "duration_ms": round(self.duration_us / 1000, 3),
            "services": self.services,
            "roots": [r.to_dict() for r in self.roots],
        }


def _node(span: dict) -> SpanNode:
    tags = span.get("tags") or {}
    return SpanNode(
        span_id=str(span.get("id", "")),
        service=str((span.get("localEndpoint") or {}).get("serviceName", "unknown")),
        operation=str(span.get("name", "")),
        start_us=int(span.get("timestamp") or 0),
        duration_us=int(span.get("duration") or 0),
        kind=str(span.get("kind", "")),
        status=str(tags.get("http.status_code", "")),
        error="error" in tags,
        tags={str(k): str(v) for k, v in tags.items()},
    )


def build_traces(spans: Iterable[dict]) -> list[Trace]:
    """Every trace, newest first; spans whose parent is missing become roots."""
    by_trace: dict[str, list[dict]] = {}
    for span in spans:
        by_trace.setdefault(str(span.get("traceId", "")), []).append(span)
    out = []
    for trace_id, group in by_trace.items():
        nodes: dict[str, SpanNode] = {}
        for span in group:
            nodes.setdefault(str(span.get("id", "")), _node(span))  # duplicates: first wins
        roots = []
        parents = {str(s.get("id", "")): s.get("parentId") for s in group}
        for span_id, node in nodes.items():
            parent = parents.get(span_id)
            if parent and parent in nodes and parent != span_id:
                nodes[parent].children.append(node)
            else:
                roots.append(node)
        for node in nodes.values():
            node.children.sort(key=lambda n: n.start_us)
        roots.sort(key=lambda n: n.start_us)
        start = min(n.start_us for n in nodes.values())
        end = max(n.start_us + n.duration_us for n in nodes.values())
        services = sorted({n.service for n in nodes.values()})
        out.append(Trace(trace_id, roots, len(nodes), start, end - start, services))
    out.sort(key=lambda t: t.start_us, reverse=True)
    return out


def select(
    traces: Iterable[Trace],
    service: str | None = None,
    min_duration_ms: float | None = None,
    limit: int | None = None,
) -> list[Trace]:
    """``service`` matches ``productpage`` or ``productpage.default``."""
    out = []
    for t in traces:
        if service and not any(s == service or s.split(".")[0] == service for s in t.services):
            continue
        if min_duration_ms is not None and t.duration_us / 1000 < min_duration_ms:
            continue
        out.append(t)
        if limit is not None and len(out) >= limit:
            break
    return out


def render(trace: Trace) -> list[str]:
    """One line per span, indented by depth."""
    lines = [f"trace {trace.trace_id}  {trace.duration_us / 1000:.1f} ms  {trace.spans} spans"]

    def walk(node: SpanNode, depth: int) -> None:
        mark = " ERROR" if node.error else ""
        lines.append(
            f"{'  ' * (depth + 1)}{node.service}  {node.operation}  "
            f"{node.duration_us / 1000:.1f} ms  {node.status or '-'}{mark}"
        )
        for child in node.children:
            walk(child, depth + 1)

    for root in trace.roots:
        walk(root, 0)
    return lines
