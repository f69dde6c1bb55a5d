"""The one parser of Istio/protobuf durations (``500ms``, ``5s``, ``3m``, ``1h30m``, ``0.5s``).

Validation (is it a duration, is it at ms precision), translation (seconds for Envoy) and the
lab checks (``180s`` == ``3m``) all read durations through here, so they can never disagree.
"""

from __future__ import annotations

import re
from decimal import Decimal

#: a whole duration: one or more <number><unit> parts, nothing else
DURATION = re.compile(r"^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_NANOS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6}
_NANOS |= {"us": 1000, "µs": 1000, "ns": 1}
EXAMPLES = "500ms, 5s, 3m or 1h"


def is_duration(value: object) -> bool:
    """A non-negative duration string (what Istio's schema accepts)."""
    return isinstance(value, str) and DURATION.match(value) is not None


def nanoseconds(value: str | int | float) -> Decimal:
    """Exact nanoseconds of a duration; a bare number is seconds. ValueError if not one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (examples: {EXAMPLES})")
    if isinstance(value, int | float):
        return Decimal(str(value)) * _NANOS["s"]
    text = str(value).strip()
    if not DURATION.match(text):
        raise ValueError(f"{value!r} is not a duration (examples: {EXAMPLES})")
    return sum((Decimal(n) * _NANOS[unit] for n, unit in _PART.findall(text)), Decimal(0))


def seconds(value: str | int | float) -> float:
    """Seconds in a duration (``"3m"`` -> 180.0, ``"100ms"`` -> 0.1; a number is seconds)."""
    return float(nanoseconds(value) / _NANOS["s"])
