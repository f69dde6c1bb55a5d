"""`istiolab lab check` on a typical lab (target: under 3 s, the whole command as a learner
types it) and the CPU `lab check --watch` costs while nothing changes (target: under 5 % of a
core, counting the watcher and the mesh's supervisor that answers its polls).

    .venv/bin/python benchmarks/bench_lab.py [--octet N] [--runs 10] [--idle 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _mesh import istiolab, running_mesh, summary

LAB = "02-request-routing"  # 2 tasks, 5 checks: objects, a 30-request distribution, requests


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks -> seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--octet", type=int, default=None, help="127.<octet> (default random)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle watching")
    args = parser.parse_args()
    with running_mesh("bookinfo,httpbin,sleep,fortio", octet=args.octet) as (root, _, _):
        sd = ("--state-dir", str(root))
        istiolab("lab", "start", LAB, *sd)
        istiolab("lab", "solve", "--task", "1", *sd)  # a learner half way: task 1 green
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            proc = istiolab("lab", "check", *sd, check=False)
            times.append(time.perf_counter() - began)
            assert proc.returncode == 1, proc.stdout  # task 2 is still red
        report = json.loads(istiolab("lab", "check", "-o", "json", *sd, check=False).stdout)
        marks = [
            f"{c['id']}={'pass' if c['passed'] else 'FAIL'}"
            for t in report["tasks"]
            for c in t["checks"]
        ]
        print("checks measured: " + ", ".join(marks))
        print(f"lab check ({LAB}, task 1 green, task 2 red), whole command:")
        print("  " + summary(times, unit="s", scale=1.0))

        supervisor = int((root / "supervisor.pid").read_text())
        watch = subprocess.Popen(
            [sys.executable, "-m", "istiolab", "lab", "check", "--watch", *sd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(8)  # start-up and the first full check
            w0, s0, t0 = cpu_seconds(watch.pid), cpu_seconds(supervisor), time.monotonic()
            time.sleep(args.idle)
            w1, s1, t1 = cpu_seconds(watch.pid), cpu_seconds(supervisor), time.monotonic()
        finally:
            watch.terminate()
            watch.wait(10)
        span = t1 - t0
        print(f"lab check --watch, idle for {span:.0f}s:")
        print(
            f"  watcher {100 * (w1 - w0) / span:.2f}% of a core, "
            f"supervisor (answering its polls) {100 * (s1 - s0) / span:.2f}%, "
            f"total {100 * (w1 - w0 + s1 - s0) / span:.2f}%"
        )
        print(f"  median check {statistics.median(times):.2f}s")


if __name__ == "__main__":
    main()
