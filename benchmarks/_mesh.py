"""Shared helpers for the local-mesh benchmarks: a private mesh on a random 127.<octet>."""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from istiolab.backends.local import LocalBackend
from istiolab.local.control import ControlClient


def pick_octet() -> int:
    """A random octet of ``$ISTIOLAB_TEST_OCTETS`` (``LOW-HIGH``, default 100-249)."""
    low, _, high = os.environ.get("ISTIOLAB_TEST_OCTETS", "100-249").partition("-")
    return random.SystemRandom().randint(int(low), int(high))


def istiolab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "istiolab", *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise SystemExit(f"istiolab {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
    return proc


@contextlib.contextmanager
def running_mesh(
    samples: str | None = "bookinfo,sleep,httpbin", octet: int | None = None
) -> Iterator[tuple[Path, int, str]]:
    """(state dir, octet, gateway host) of a detached mesh (``samples`` None: `up`'s
    default; ``octet`` None: a random one), stopped on exit."""
    octet = octet or pick_octet()
    gateway = f"127.{octet}.0.3"
    with tempfile.TemporaryDirectory(prefix="istiolab-bench-") as tmp:
        root = Path(tmp)
        up = ["up", "--detach", "--state-dir", tmp, "--octet", str(octet)]
        up += ["--gateway-host", gateway]
        istiolab(*up, *(["--samples", samples] if samples is not None else []))
        try:
            yield root, octet, gateway
        finally:
            istiolab("down", "--state-dir", str(root), check=False)


def backend(root: Path) -> LocalBackend:
    """The running mesh of `root`, driven as every caller drives it (istiolab.backends)."""
    return LocalBackend(root)


def client(root: Path) -> ControlClient:
    """The running mesh's control API client (benchmarks that time the raw round trip)."""
    return LocalBackend(root).running()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = [x * scale for x in values]
    return (
        f"n={len(v)} p50={percentile(v, 50):.2f}{unit} p90={percentile(v, 90):.2f}{unit} "
        f"p99={percentile(v, 99):.2f}{unit} max={max(v):.2f}{unit} "
        f"mean={statistics.fmean(v):.2f}{unit}"
    )
