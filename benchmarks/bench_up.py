"""Cold `istiolab up --detach` until productpage answers 200 through the gateway.

Each run uses a fresh state directory (nothing cached) and a random 127.<octet>; the
clock starts before the CLI process is spawned (Python start-up included) and stops at the
first 200 from http://<gateway>/productpage. Target: <= 5 s on 2 cores.

    .venv/bin/python benchmarks/bench_up.py [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import running_mesh, summary

from istiolab.local.mesh import wait_http


def one_run() -> float:
    t0 = time.perf_counter()
    with running_mesh(samples=None) as (_, _, gateway):  # `up`'s default samples
        status = wait_http(f"http://{gateway}:8080/productpage", 60)  # `up` waited; confirm
        if status != 200:
            raise SystemExit(f"productpage answered {status}")
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = [one_run() for _ in range(args.runs)]
    print("cold up -> productpage 200:", summary(times, "s", 1.0))
    print("runs:", ", ".join(f"{t:.2f}s" for t in times))


if __name__ == "__main__":
    main()
