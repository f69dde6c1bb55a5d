"""Spans read from a cluster's tracing addon, as Zipkin v2 spans (what the trace views
build their trees from, :mod:`istiolab.local.telemetry.traces`).

Two read APIs, tried in this order:

- Zipkin's (``zipkin.istio-system:9411``, ``GET /api/v2/traces``): Istio's Zipkin addon
  and the local mesh's collector serve it; its spans are already Zipkin v2.
- Jaeger's query API (``tracing.istio-system:80``, under ``/jaeger``: ``/api/services``,
  then ``/api/traces?service=...``): Istio's Jaeger addon, whose ``zipkin`` port only
  collects. Its spans are converted: ``spanID`` -> ``id``, the ``CHILD_OF`` reference ->
  ``parentId``, ``operationName`` -> ``name``, ``startTime``/``duration`` (microseconds, as
  Zipkin's), the process's ``serviceName`` -> ``localEndpoint``, ``span.kind`` -> ``kind``,
  every other tag as a string.

Pure: the callers pass a ``get(path) -> parsed JSON`` per addon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

Get = Callable[[str], Any]
LIMIT = 100


def zipkin_spans(get: Get, limit: int = LIMIT) -> list[dict]:
    """The newest `limit` traces' spans from a Zipkin read API."""
    traces = get("/api/v2/traces?" + urlencode({"limit": limit}))
    return [span for trace in traces or [] for span in trace if isinstance(span, dict)]


def jaeger_spans(get: Get, base: str = "/jaeger", limit: int = LIMIT) -> list[dict]:
    """The newest `limit` traces of every service from Jaeger's query API, as Zipkin spans
    (a trace through several services is read once)."""
    services = (get(f"{base}/api/services") or {}).get("data") or []
    seen: set[str] = set()
    out: list[dict] = []
    for service in services:
        query = urlencode({"service": service, "limit": limit})
        for trace in (get(f"{base}/api/traces?{query}") or {}).get("data") or []:
            if trace.get("traceID") in seen:
                continue
            seen.add(trace.get("traceID"))
            out.extend(from_jaeger(trace))
    return out


def _tags(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    out = {}
    for tag in tags:
        value = tag.get("value")
        out[str(tag.get("key"))] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def from_jaeger(trace: Mapping[str, Any]) -> list[dict]:
    """One Jaeger trace (``data[i]`` of ``/api/traces``) as Zipkin v2 spans."""
    processes = trace.get("processes") or {}
    out = []
    for span in trace.get("spans") or []:
        tags = _tags(span.get("tags") or [])
        kind = tags.pop("span.kind", "")
        process = processes.get(span.get("processID")) or {}
        zipkin: dict[str, Any] = {
            "traceId": span.get("traceID"),
            "id": span.get("spanID"),
            "name": span.get("operationName", ""),
            "timestamp": int(span.get("startTime") or 0),
            "duration": int(span.get("duration") or 0),
            "localEndpoint": {"serviceName": process.get("serviceName", "unknown")},
            "tags": tags,
        }
        parent = next(
            (
                r.get("spanID")
                for r in span.get("references") or []
                if r.get("refType") == "CHILD_OF"
            ),
            None,
        )
        if parent:
            zipkin["parentId"] = parent
        if kind:
            zipkin["kind"] = kind.upper()
        out.append(zipkin)
    return out
