"""The one loopback-prefix allocator for every suite of a test run.

Each test area that starts listeners asks `take(purpose)` for its own ``127.<octet>`` prefix.
Octets are handed out in order from ``ISTIOLAB_TEST_OCTETS`` (``LOW-HIGH``, default
``100-249``), so two suites of one run never collide, and two runs on one machine never
collide either when each is given its own range (e.g. ``ISTIOLAB_TEST_OCTETS=100-139`` and
``140-179``). Running out of octets is an error, not a silent reuse.
"""

from __future__ import annotations

import os
import threading

_DEFAULT = "100-249"
_lock = threading.Lock()
_given: dict[str, int] = {}


def _bounds() -> tuple[int, int]:
    raw = os.environ.get("ISTIOLAB_TEST_OCTETS", _DEFAULT)
    try:
        low, high = (int(part) for part in raw.split("-", 1))
    except ValueError:
        msg = f"ISTIOLAB_TEST_OCTETS={raw!r}: expected LOW-HIGH, e.g. 100-249"
        raise RuntimeError(msg) from None
    if not 1 <= low <= high <= 254:
        raise RuntimeError(f"ISTIOLAB_TEST_OCTETS={raw!r}: must satisfy 1 <= LOW <= HIGH <= 254")
    return low, high


def take(purpose: str) -> int:
    """The octet reserved for `purpose` in this run (the same purpose gets the same octet)."""
    with _lock:
        if purpose in _given:
            return _given[purpose]
        low, high = _bounds()
        octet = low + len(_given)
        if octet > high:
            raise RuntimeError(
                f"loopback allocator: range {low}-{high} exhausted by {sorted(_given)}; "
                "widen ISTIOLAB_TEST_OCTETS"
            )
        _given[purpose] = octet
        return octet


def fresh(prefix: str) -> int:
    """A new octet on every call (for tests that each need a private prefix)."""
    with _lock:
        count = sum(1 for key in _given if key.startswith(prefix + "#"))
    return take(f"{prefix}#{count}")
