"""Cold `istiolab up --detach` until productpage answers 200 through the gateway.

Each run uses a fresh state directory (nothing cached) and a random 127.<octet>; the
clock starts before the CLI process is spawned (Python start-up included) and stops at the
first 200 from http://<gateway>/productpage. Target: <= 5 s on 2 cores.

    .venv/bin/python benchmarks/bench_up.py [--runs 5]
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import istiolab, pick_octet, summary


def productpage_ok(host: str) -> bool:
    conn = http.client.HTTPConnection(host, 8080, timeout=2)
    try:
        conn.request("GET", "/productpage")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def one_run() -> float:
    octet = pick_octet()
    gateway = f"127.{octet}.0.3"
    with tempfile.TemporaryDirectory(prefix="istiolab-bench-up-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "istiolab",
                "up",
                "--detach",
                "--state-dir",
                tmp,
                "--octet",
                str(octet),
                "--gateway-host",
                gateway,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            if proc.returncode != 0:
                raise SystemExit(proc.stderr + proc.stdout)
            delay = 0.005
            while not productpage_ok(gateway):  # `up` already waited; this confirms
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            return time.perf_counter() - t0
        finally:
            istiolab("down", "--state-dir", tmp, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = [one_run() for _ in range(args.runs)]
    print("cold up -> productpage 200:", summary(times, "s", 1.0))
    print("runs:", ", ".join(f"{t:.2f}s" for t in times))


if __name__ == "__main__":
    main()
