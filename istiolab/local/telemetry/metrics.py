"""Istio's standard metrics, aggregated per proxy from access-log entries, in Prometheus
text (``prometheus_client``'s exposition).

One :class:`MetricStore` holds, per reporting proxy (node id), a counter or histogram per
label set. Histograms use Istio's buckets: Envoy's default buckets for durations (ms),
powers of ten from 1 to 10^7 for sizes (bytes). ``observe()`` is called once per entry by
the ALS server; ``collect(node_ids)`` gives the families for one proxy's endpoint
(15020 ``/stats/prometheus``) or the whole mesh.

Telemetry API ``metrics[].overrides[]`` (``match.metric``/``match.mode``,
``tagOverrides.<tag>.operation: REMOVE|UPSERT`` with ``value``) rewrite a proxy's labels
before aggregation; UPSERT values are a quoted literal (``"'v'"``) or one of
``request.host``, ``request.method``, ``request.url_path``, ``response.code``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample

from istiolab.local.telemetry.attributes import Entry

DURATION_BUCKETS = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
    600000, 1800000, 3600000,
)  # fmt: skip
SIZE_BUCKETS = (1, 10, 100, 1000, 10000, 100000, 1000000, 10000000)

REQUESTS = "istio_requests_total"
DURATION = "istio_request_duration_milliseconds"
REQUEST_BYTES = "istio_request_bytes"
RESPONSE_BYTES = "istio_response_bytes"
TCP_OPENED = "istio_tcp_connections_opened_total"
TCP_CLOSED = "istio_tcp_connections_closed_total"
TCP_SENT = "istio_tcp_sent_bytes_total"
TCP_RECEIVED = "istio_tcp_received_bytes_total"
HISTOGRAMS = {DURATION: DURATION_BUCKETS, REQUEST_BYTES: SIZE_BUCKETS, RESPONSE_BYTES: SIZE_BUCKETS}
HELP = {
    REQUESTS: "Total requests.",
    DURATION: "Request duration in milliseconds.",
    REQUEST_BYTES: "Request size in bytes.",
    RESPONSE_BYTES: "Response size in bytes.",
    TCP_OPENED: "Total TCP connections opened.",
    TCP_CLOSED: "Total TCP connections closed.",
    TCP_SENT: "Total bytes sent during response of TCP connections.",
    TCP_RECEIVED: "Total bytes received during request of TCP connections.",
}
# Telemetry API metric names -> ours
API_METRICS = {
    "REQUEST_COUNT": REQUESTS,
    "REQUEST_DURATION": DURATION,
    "REQUEST_SIZE": REQUEST_BYTES,
    "RESPONSE_SIZE": RESPONSE_BYTES,
    "TCP_OPENED_CONNECTIONS": TCP_OPENED,
    "TCP_CLOSED_CONNECTIONS": TCP_CLOSED,
    "TCP_SENT_BYTES": TCP_SENT,
    "TCP_RECEIVED_BYTES": TCP_RECEIVED,
}
Labels = tuple[tuple[str, str], ...]


def _attribute(expr: str, entry: Entry) -> str:
    expr = str(expr).strip()
    if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "'\"":
        return expr[1:-1]
    values = {
        "request.host": entry.authority,
        "request.method": entry.method,
        "request.url_path": entry.path.split("?", 1)[0],
        "response.code": str(entry.response_code),
    }
    return values.get(expr, "unknown")


def apply_overrides(
    metric: str, labels: dict[str, str], entry: Entry, overrides: Iterable[Mapping]
) -> dict[str, str]:
    """``labels`` after the Telemetry API's tag overrides for ``metric``."""
    reporter = labels.get("reporter")
    out = dict(labels)
    for override in overrides:
        match = override.get("match") or {}
        wanted = match.get("metric", "ALL_METRICS")
        if wanted != "ALL_METRICS" and API_METRICS.get(wanted) != metric:
            continue
        mode = match.get("mode", "CLIENT_AND_SERVER")
        if (mode == "CLIENT" and reporter != "source") or (
            mode == "SERVER" and reporter != "destination"
        ):
            continue
        if override.get("disabled") is True:
            return {}
        for tag, op in (override.get("tagOverrides") or {}).items():
            if (op or {}).get("operation", "UPSERT") == "REMOVE":
                out.pop(tag, None)
            else:
                out[tag] = _attribute((op or {}).get("value", ""), entry)
    return out


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.count = 0
        self.sum = 0.0

    def observe(self, bounds: tuple, value: float) -> None:
        i = bisect.bisect_left(bounds, value)
        if i < len(self.buckets):
            self.buckets[i] += 1
        self.count += 1
        self.sum += value


class MetricStore:
    """Counters and histograms per (proxy, metric, labels). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # node id -> metric -> labels -> float | _Histogram
        self._data: dict[str, dict[str, dict[Labels, object]]] = {}
        self.entries = 0

    def observe(
        self,
        entry: Entry,
        labels: dict[str, str],
        overrides: Iterable[Mapping] = (),
        key: tuple | None = None,
    ) -> None:
        """Count one entry under ``labels`` (``key``: their sorted items, when known)."""
        overrides = list(overrides)
        if key is None and not overrides:
            key = tuple(sorted(labels.items()))
        if entry.tcp:
            updates: list[tuple[str, float]] = (
                [(TCP_OPENED, 1)]
                if entry.connected
                else [
                    (TCP_CLOSED, 1),
                    (TCP_SENT, entry.response_bytes),
                    (TCP_RECEIVED, entry.request_bytes),
                ]
            )
        else:
            updates = [
                (REQUESTS, 1),
                (DURATION, entry.duration_ms),
                (REQUEST_BYTES, entry.request_bytes),
                (RESPONSE_BYTES, entry.response_bytes),
            ]
        with self._lock:
            self.entries += 1
            node = self._data.setdefault(entry.node_id, {})
            for metric, value in updates:
                series_key = key
                if overrides:
                    final = apply_overrides(metric, labels, entry, overrides)
                    if not final:
                        continue
                    series_key = tuple(sorted(final.items()))
                series = node.setdefault(metric, {})
                bounds = HISTOGRAMS.get(metric)
                if bounds is None:
                    series[series_key] = series.get(series_key, 0.0) + value  # type: ignore
                else:
                    hist = series.get(series_key)
                    if hist is None:
                        hist = series[series_key] = _Histogram(len(bounds))
                    hist.observe(bounds, value)  # type: ignore[union-attr]

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the series of proxies that are gone (a pod stopped: its endpoint is too)."""
        wanted = set(keep)
        with self._lock:
            for node in [n for n in self._data if n not in wanted]:
                del self._data[node]

    def snapshot(self) -> list[tuple[str, Labels, object]]:
        """A compact copy of every series (label keys shared with the store, histogram
        buckets copied): what the graph's rate window keeps; :func:`expand` reads it."""
        return self._snapshot(None)

    def samples(self, node_ids: Iterable[str] | None = None) -> list[tuple[str, dict, float]]:
        """``(metric, labels, value)`` of the counters, and of each histogram's ``_count``
        and ``_bucket`` series (``le`` label), for the graph and the tests."""
        return expand(self._snapshot(node_ids))

    def _snapshot(self, node_ids: Iterable[str] | None) -> list[tuple[str, Labels, object]]:
        with self._lock:
            nodes = list(self._data) if node_ids is None else [n for n in node_ids]
            out: list[tuple[str, Labels, object]] = []
            for node in nodes:
                for metric, series in self._data.get(node, {}).items():
                    for labels, value in series.items():
                        if isinstance(value, _Histogram):
                            value = (list(value.buckets), value.count, value.sum)
                        out.append((metric, labels, value))
            return out

    def collect(self, node_ids: Iterable[str] | None = None) -> list[Metric]:
        """Prometheus metric families (one per metric) for these proxies (None: all)."""
        families: dict[str, Metric] = {}
        for metric, labels, value in sorted(self._snapshot(node_ids), key=lambda t: t[0]):
            name = metric.removesuffix("_total")
            names = [k for k, _ in labels]
            values = [v for _, v in labels]
            if isinstance(value, tuple):
                fam = families.get(metric)
                if fam is None:
                    fam = families[metric] = HistogramMetricFamily(metric, HELP[metric])
                buckets, count, total = value
                acc, cumulative = 0, []
                for bound, n in zip(HISTOGRAMS[metric], buckets, strict=True):
                    acc += n
                    cumulative.append((_le(bound), acc))
                cumulative.append(("+Inf", count))
                _add_hist(fam, names, values, cumulative, total)
            else:
                fam = families.get(metric)
                if fam is None:
                    fam = families[metric] = CounterMetricFamily(name, HELP[metric], labels=names)
                _add_counter(fam, names, values, float(value))  # type: ignore[arg-type]
        return list(families.values())


def _le(bound: float) -> str:
    return f"{bound:g}"  # as Envoy prints them: 0.5, 1, 3.6e+06


# label sets may differ between series (Telemetry API overrides): samples added directly
def _add_counter(fam: Metric, names: list[str], values: list[str], value: float) -> None:
    fam.samples.append(Sample(fam.name + "_total", dict(zip(names, values, strict=True)), value))


def _add_hist(
    fam: Metric, names: list[str], values: list[str], buckets: list, total: float
) -> None:
    labels = dict(zip(names, values, strict=True))
    for le, count in buckets:
        fam.samples.append(Sample(fam.name + "_bucket", {**labels, "le": le}, float(count)))
    fam.samples.append(Sample(fam.name + "_count", labels, float(buckets[-1][1])))
    fam.samples.append(Sample(fam.name + "_sum", labels, total))


def expand(raw: Iterable[tuple[str, Labels, object]]) -> list[tuple[str, dict, float]]:
    """A :meth:`MetricStore.snapshot` as ``(metric, labels, value)`` samples."""
    out: list[tuple[str, dict, float]] = []
    for metric, labels, value in raw:
        if isinstance(value, tuple):
            buckets, count, total = value
            bounds = HISTOGRAMS[metric]
            out.append((f"{metric}_count", dict(labels), float(count)))
            out.append((f"{metric}_sum", dict(labels), total))
            acc = 0
            for bound, n in zip(bounds, buckets, strict=True):
                acc += n
                out.append((f"{metric}_bucket", {**dict(labels), "le": _le(bound)}, acc))
            out.append((f"{metric}_bucket", {**dict(labels), "le": "+Inf"}, float(count)))
        else:
            out.append((metric, dict(labels), value))  # type: ignore[arg-type]
    return out
