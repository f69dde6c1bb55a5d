"""The circuit-breaker acceptance pair, N times on one mesh: `istiolab load circuit-breaker
--from fortio --users 3 --requests 30` must pass (exit 0) with seed 003's DestinationRule
(loadtests/circuit_breaker.yaml) and fail without it (exit 1, naming the 503 share and its
measured value). Prints the tally, the 503 shares seen and the time per run.

    .venv/bin/python benchmarks/bench_load_acceptance.py [--runs 50] [--octet 157]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import istiolab, running_mesh

RULE = str(Path(__file__).resolve().parents[1] / "loadtests" / "circuit_breaker.yaml")
ARGS = ("load", "circuit-breaker", "--from", "fortio", "--users", "3", "--requests", "30")
NAMED = "share(503) between 0.2 and 0.8"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--octet", type=int, default=None)
    opts = parser.parse_args()
    ok_with = ok_without = 0
    shares, seconds, problems = [], [], []
    with running_mesh("httpbin,fortio", opts.octet) as (root, _, _):
        sd = ("--state-dir", str(root))
        for i in range(opts.runs):
            istiolab("apply", "-f", RULE, *sd)
            began = time.monotonic()
            run = istiolab(*ARGS, "-o", "json", *sd, check=False)
            seconds.append(time.monotonic() - began)
            result = json.loads(run.stdout) if run.stdout.startswith("{") else {}
            codes = result.get("overall", {}).get("codes", {})
            shares.append(codes.get("503", {}).get("share", 0.0))
            if run.returncode == 0:
                ok_with += 1
            else:
                problems.append(
                    f"run {i} with the rule: exit {run.returncode}: {run.stderr[-300:]}"
                )
            istiolab("delete", "-f", RULE, *sd)
            run = istiolab(*ARGS, *sd, check=False)
            if (
                run.returncode == 1
                and NAMED in run.stderr
                and "measured 0.000 (0/30)" in run.stderr
            ):
                ok_without += 1
            else:
                problems.append(f"run {i} without: exit {run.returncode}: {run.stderr[-300:]}")
    print(f"with seed 003's DestinationRule: {ok_with}/{opts.runs} passed (exit 0)")
    print(f"without it: {ok_without}/{opts.runs} failed as expected (exit 1 naming {NAMED!r})")
    print(
        f"503 share with the rule: min {min(shares):.3f} median {statistics.median(shares):.3f} "
        f"max {max(shares):.3f}; seconds per run (CLI start to exit): "
        f"median {statistics.median(seconds):.2f} max {max(seconds):.2f}"
    )
    for line in problems:
        print(line)
    return 0 if ok_with == ok_without == opts.runs else 1


if __name__ == "__main__":
    sys.exit(main())
