"""Statistical assertions for traffic splits, sized not to flake (import as ``from stats
import ...``; tests/ is on sys.path like conftest).

A weighted route is checked with a two-sided 99 % binomial interval per outcome. One sample
then fails about 1 run in 100 by chance, so :func:`assert_split` retries as Istio's own docs
tests do: a sample outside the interval is followed by ONE fresh sample, which must be
inside. A correct split then fails about 1 run in 10 000 (0.01 squared), while a broken one
(100/0 or 90/10 instead of 50/50 over 200 requests) misses both samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

Z99 = 2.576  # two-sided 99 % normal quantile


def binomial_interval(n: int, p: float, z: float = Z99) -> tuple[float, float]:
    """The count interval n*p +- z*sqrt(n*p*(1-p)) (normal approximation)."""
    half = z * math.sqrt(n * p * (1 - p))
    return n * p - half, n * p + half


def split_misses(counts: Mapping[str, int], n: int, expected: Mapping[str, float]) -> list[str]:
    """Why ``counts`` (outcome -> count over ``n`` trials) is not ``expected`` (outcome ->
    share, summing to 1): one line per outcome outside its interval, or unexpected."""
    misses = []
    for outcome, share in expected.items():
        lo, hi = binomial_interval(n, share)
        got = counts.get(outcome, 0)
        if not lo <= got <= hi:
            misses.append(f"{outcome}: {got}/{n} outside [{lo:.1f}, {hi:.1f}] (p={share})")
    for outcome in sorted(set(counts) - set(expected)):
        misses.append(f"{outcome}: {counts[outcome]}/{n} not expected at all")
    return misses


def assert_split(
    draw: Callable[[int], Mapping[str, int]], n: int, expected: Mapping[str, float]
) -> dict[str, int]:
    """Assert that ``draw(n)`` (n fresh trials -> counts per outcome) follows ``expected``
    within 99 % intervals, allowing one fresh retry (see the module docstring). Returns the
    accepted counts."""
    first = dict(draw(n))
    if not split_misses(first, n, expected):
        return first
    second = dict(draw(n))
    misses = split_misses(second, n, expected)
    assert not misses, (
        f"two samples of {n} outside the 99 % interval: first {first}, then {second}: "
        + "; ".join(misses)
    )
    return second
