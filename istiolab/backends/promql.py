"""Istio's standard metrics read from a Prometheus: the telemetry window the service graph
and the labs' metric checks use, on a cluster (the Prometheus addon,
``prometheus.istio-system:9090``, reached through the API server).

Pure: given an instant-query function, two queries of every ``istio_*`` series, at `now`
and `seconds` before (counters are cumulative; the graph is their difference, as
Prometheus' ``increase`` is), in the shape :meth:`Backend.telemetry_window` promises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from istiolab.errors import MeshError

#: every Istio standard metric series (requests, durations, sizes, TCP)
SELECTOR = '{__name__=~"istio_.*"}'
Sample = tuple[str, dict, float]
Query = Callable[[str, float], Mapping[str, Any]]


def samples(answer: Mapping[str, Any]) -> list[Sample]:
    """A Prometheus instant-query answer (``resultType: vector``) as (metric, labels, value)."""
    if answer.get("status") != "success":
        raise MeshError(
            f"Prometheus refused the query: {answer.get('errorType', 'error')}: "
            f"{answer.get('error', answer)}"
        )
    data = answer.get("data") or {}
    if data.get("resultType") != "vector":
        raise MeshError(f"Prometheus answered a {data.get('resultType')!r}, not an instant vector")
    out: list[Sample] = []
    for series in data.get("result") or []:
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        out.append((name, labels, float(series["value"][1])))
    return out


def window(query: Query, seconds: float, now: float) -> dict[str, Any]:
    """``{"now": [...], "then": [...], "seconds": s}`` from Prometheus' ``istio_*`` series."""
    return {
        "now": samples(query(SELECTOR, now)),
        "then": samples(query(SELECTOR, now - seconds)),
        "seconds": seconds,
    }
