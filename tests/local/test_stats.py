"""The shared statistical matcher (tests/stats.py): real random samples, seeded."""

from __future__ import annotations

import random

import pytest
from stats import assert_split, binomial_interval, split_misses


def test_interval_is_the_99_percent_normal_approximation():
    lo, hi = binomial_interval(200, 0.5)
    assert lo == pytest.approx(100 - 2.576 * 50**0.5) and hi == pytest.approx(200 - lo)


def draws(p_v1: float, seed: int):
    rng = random.Random(seed)

    def draw(n: int) -> dict[str, int]:
        v1 = sum(rng.random() < p_v1 for _ in range(n))
        return {k: c for k, c in (("v1", v1), ("v3", n - v1)) if c}

    return draw


def test_a_fair_split_passes_and_a_broken_one_fails_both_samples():
    half = {"v1": 0.5, "v3": 0.5}
    for seed in range(50):
        assert_split(draws(0.5, seed), 200, half)
    for broken in (1.0, 0.9):
        with pytest.raises(AssertionError, match="two samples of 200 outside"):
            assert_split(draws(broken, 1), 200, half)


def test_a_miss_is_retried_once_with_a_fresh_sample():
    samples = iter([{"v1": 130, "v3": 70}, {"v1": 101, "v3": 99}, {"v1": 200}])
    calls = []

    def draw(n: int) -> dict[str, int]:
        calls.append(n)
        return next(samples)

    assert assert_split(draw, 200, {"v1": 0.5, "v3": 0.5}) == {"v1": 101, "v3": 99}
    assert calls == [200, 200]


def test_misses_name_the_outcome_count_and_interval():
    misses = split_misses({"v1": 200, "v2": 3}, 200, {"v1": 0.5, "v3": 0.5})
    assert misses[0] == "v1: 200/200 outside [81.8, 118.2] (p=0.5)"
    assert "v3: 0/200" in misses[1] and misses[2] == "v2: 3/200 not expected at all"
