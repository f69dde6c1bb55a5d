"""One duration parser (istiolab.durations) for validation, translation, fortio and the labs:
what validation accepts, translation converts, and the labs compare, the same way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from istiolab import durations
from istiolab.local.translate.common import duration as envoy_duration
from istiolab.manifests.validation import semantic
from istiolab.workloads.fortio import go_duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3m", 180),
        ("180s", 180),
        ("0.5s", 0.5),
        ("500ms", 0.5),
        ("1h30m", 5400),
        ("250us", 0.00025),
    ],
)
def test_one_parser_everywhere(text, seconds):
    assert durations.seconds(text) == pytest.approx(seconds)
    assert durations.is_duration(text)
    assert go_duration_seconds(text) == pytest.approx(seconds)
    assert envoy_duration(text) == f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
    problems: list = []
    semantic.duration(text, "spec.x", problems)
    assert problems == []


@pytest.mark.parametrize("text", ["3", "-1s", "1.s", "s", "3 m", "", "1d"])
def test_not_durations(text):
    assert not durations.is_duration(text)
    with pytest.raises(ValueError, match="not a duration"):
        durations.nanoseconds(text)
    problems: list = []
    semantic.duration(text, "spec.x", problems)
    assert problems and "not a valid duration" in problems[0].message


def test_exact_nanoseconds_and_numbers():
    assert durations.nanoseconds("1.5ms") == Decimal(1_500_000)
    assert durations.nanoseconds(2) == Decimal(2 * 10**9)
    with pytest.raises(ValueError):
        durations.nanoseconds(True)
