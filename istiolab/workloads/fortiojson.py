"""fortio's JSON result (``fortio load -json FILE``), written from and read into a
:class:`~istiolab.workloads.loadgen.LoadResult`.

Field names are fortio's: ``RequestedQPS`` ("max" when unlimited), ``ActualDuration``
(nanoseconds), ``NumThreads``, ``DurationHistogram`` (seconds: ``Count``, ``Min``, ``Max``,
``Sum``, ``Avg``, ``StdDev``, ``Data`` buckets with ``Start``, ``End``, cumulative
``Percent``, ``Count``; ``Percentiles``), ``RetCodes`` (status -> count, -1 for socket
errors), ``SocketCount``, ``IPCountMap``, ``URL``.

Reading gives one sample per request of the histogram, at its bucket's middle: counts,
codes, rates and percentiles are fortio's; single durations are not in the JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from istiolab.workloads.loadgen import PERCENTILES, LoadResult, Sample, histogram

NANOS = 1e9


def to_json(result: LoadResult) -> dict:
    """`result` as ``fortio load -json`` writes it."""
    hist = histogram(result.durations)
    return {
        "RunType": "HTTP",
        "RequestedQPS": f"{result.qps:g}" if result.qps else "max",
        "RequestedDuration": f"exactly {result.count} calls",
        "ActualQPS": result.actual_qps,
        "ActualDuration": int(result.elapsed * NANOS),
        "NumThreads": result.concurrency,
        "DurationHistogram": {
            "Count": hist.count,
            "Min": hist.min,
            "Max": hist.max,
            "Sum": hist.sum,
            "Avg": hist.avg,
            "StdDev": hist.stddev,
            "Data": [
                {"Start": b.start, "End": b.end, "Percent": b.percent, "Count": b.count}
                for b in hist.buckets
            ],
            "Percentiles": [{"Percentile": p, "Value": hist.percentile(p)} for p in PERCENTILES],
        },
        "Exactly": result.count,
        "RetCodes": {str(code): n for code, n in result.codes.items()},
        "IPCountMap": dict(result.addresses),
        "URL": result.url,
        "SocketCount": result.sockets,
    }


def from_json(data: Mapping[str, Any]) -> LoadResult:
    """A ``fortio load -json`` result as a LoadResult (see the module's note on samples)."""
    requested = str(data.get("RequestedQPS", "max"))
    qps = None if requested in ("max", "0", "-1", "") else float(requested)
    hist = data.get("DurationHistogram") or {}
    durations = [
        (float(b["Start"]) + float(b["End"])) / 2
        for b in hist.get("Data") or []
        for _ in range(int(b["Count"]))
    ]
    codes = [
        int(code)
        for code, n in sorted((data.get("RetCodes") or {}).items(), key=lambda kv: int(kv[0]))
        for _ in range(int(n))
    ]
    if len(codes) != len(durations):
        raise ValueError(
            f"fortio result: {len(codes)} return codes for {len(durations)} timed requests"
        )
    result = LoadResult(
        url=str(data.get("URL", "")),
        count=int(data.get("Exactly") or len(codes)),
        concurrency=int(data.get("NumThreads") or 1),
        qps=qps,
        samples=[
            Sample(code, d, error="" if code >= 0 else "connect")
            for code, d in zip(codes, durations, strict=True)
        ],
        elapsed=float(data.get("ActualDuration") or 0) / NANOS,
        sockets=int(data.get("SocketCount") or 0),
        addresses=Counter({str(k): int(v) for k, v in (data.get("IPCountMap") or {}).items()}),
    )
    return result
