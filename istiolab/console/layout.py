"""Where the service graph's nodes go on the page (pure): left to right by hops from where
traffic enters (the ingress gateway, `unknown`), as Kiali's dagre layout draws Bookinfo;
nodes of one column spread top to bottom in a stable order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any


def columns(node_ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the longest chain of edges leading to it (cycles are cut)."""
    incoming: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        if a != b:
            incoming[b].append(a)
    depth: dict[str, int] = {}

    def visit(node: str, path: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        parents = [p for p in incoming.get(node, ()) if p not in path]
        d = 1 + max((visit(p, path | {node}) for p in parents), default=-1)
        depth[node] = d
        return d

    for node in node_ids:
        visit(node, frozenset())
    return depth


def label(node: Mapping[str, Any]) -> str:
    if node["kind"] == "service":
        return f"{node['name']} (svc)"
    if node["kind"] == "unknown":
        return "unknown"
    version = f" {node['version']}" if node.get("version") not in (None, "", "unknown") else ""
    return f"{node.get('app') or node['name']}{version}"


def place(graph: Mapping[str, Any]) -> dict[str, Any]:
    """``graph`` (:meth:`Graph.to_dict`) with x, y, label and type on every node and a
    ``mtls`` flag on every edge (most of its requests over mutual TLS)."""
    nodes = [dict(n) for n in graph["nodes"]]
    edges = [dict(e) for e in graph["edges"]]
    col = columns([n["id"] for n in nodes], [(e["source"], e["target"]) for e in edges])
    by_col: dict[int, list[dict]] = defaultdict(list)
    for n in sorted(nodes, key=lambda n: (label(n), n["id"])):
        by_col[col[n["id"]]].append(n)
    for c, members in by_col.items():
        for i, n in enumerate(members):
            n.update(x=float(c), y=-(i - (len(members) - 1) / 2), label=label(n), type=n["kind"])
    for e in edges:
        e["mtls"] = e.get("mtls_share", 0) >= 0.5
        e["p99_ms"] = e.get("p99_ms") if e.get("p99_ms") is not None else "-"
        e["rps"] = round(e.get("rps", 0.0), 2)
        e["requests"] = int(e.get("requests", 0))
    return {"seconds": graph.get("seconds", 0), "nodes": nodes, "edges": edges}
