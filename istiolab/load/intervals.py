"""Statistics a verdict relies on: confidence intervals for shares, exact percentiles of
samples, and percentiles estimated from a bucketed histogram (when only buckets are known, as
in fortio's and Nighthawk's JSON).

Pure functions, no I/O. A share measured over ``n`` requests is judged with the Wilson score
interval (it stays inside [0, 1] and behaves at 0 and n, where the normal approximation of
tests/stats.py does not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# two-sided normal quantiles for the confidence levels a scenario may ask for
Z = {90.0: 1.6449, 95.0: 1.96, 99.0: 2.5758, 99.9: 3.2905}


def z_for(confidence: float) -> float:
    """The two-sided quantile for ``confidence`` percent (90, 95, 99 or 99.9)."""
    try:
        return Z[float(confidence)]
    except KeyError:
        allowed = ", ".join(f"{c:g}%" for c in Z)
        raise ValueError(f"confidence {confidence:g}% is not one of {allowed}") from None


def wilson(successes: int, n: int, confidence: float = 99.0) -> tuple[float, float]:
    """The Wilson score interval of a share ``successes / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = z_for(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values`` by linear interpolation between the
    closest ranks (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(p, 0.0), 100.0) / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def bucket_percentile(buckets: Sequence[tuple[float, float, int]], p: float) -> float:
    """The ``p``-th percentile from ``(start, end, count)`` buckets (ascending), by linear
    interpolation inside the bucket that crosses it, as fortio does; 0.0 when empty."""
    total = sum(c for _, _, c in buckets)
    if total == 0:
        return 0.0
    target = total * min(max(p, 0.0), 100.0) / 100.0
    seen = 0
    for start, end, count in buckets:
        if count and seen + count >= target:
            return start + (end - start) * (target - seen) / count
        seen += count
    return buckets[-1][1]


def mean_stddev(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    mean = math.fsum(values) / len(values)
    var = max(0.0, math.fsum(v * v for v in values) / len(values) - mean * mean)
    return mean, math.sqrt(var)
