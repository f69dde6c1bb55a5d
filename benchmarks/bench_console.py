"""What the workshop console costs the local mesh: the supervisor's RSS and idle CPU with
the console (serving, a browser's event streams open) against the same mesh without it, in
one run.

    python benchmarks/bench_console.py [--idle 30]

Target (issue 17): the console adds under 30 MB RSS and under 2 % of a core while idle.
The "idle" window keeps two live pages open (the Mesh page's stream and a lab page's stream,
which re-probes the lab's objects every second), as a learner's browser would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _mesh import istiolab, pick_octet

PAGES = ("/labs", "/mesh", "/graph", "/traces", "/load", "/labs/02-request-routing")
STREAMS = ("/api/mesh/events", "/api/labs/02-request-routing/events")
CLK = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def fetch(url: str, token: str, stop: threading.Event | None = None) -> None:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        if stop is None:
            resp.read()
            return
        while not stop.is_set() and resp.readline():
            pass


def measure(console: bool, idle: float) -> dict[str, float]:
    octet = pick_octet()
    with tempfile.TemporaryDirectory(prefix="istiolab-bench-console-") as tmp:
        up = ["up", "--detach", "--state-dir", tmp, "--octet", str(octet)]
        up += ["--gateway-host", f"127.{octet}.0.3", "--samples", "bookinfo"]
        up += ["--console" if console else "--no-console"]
        istiolab(*up)
        try:
            pid = int((Path(tmp) / "supervisor.pid").read_text().split()[0])
            istiolab("lab", "start", "02-request-routing", "--state-dir", tmp)
            out = {"rss_ready_mb": rss_mb(pid)}
            stop, threads = threading.Event(), []
            if console:
                url = (Path(tmp) / "console.url").read_text().strip()
                base, token = url.split("/?token=")
                for page in PAGES:
                    fetch(base + page, token)
                for stream in STREAMS:
                    t = threading.Thread(target=fetch, args=(base + stream, token, stop))
                    t.daemon = True
                    t.start()
                    threads.append(t)
                time.sleep(3)  # let the streams' first full check settle
            out["rss_pages_mb"] = rss_mb(pid)
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(idle)
            out["idle_cpu_pct"] = 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
            out["rss_idle_mb"] = rss_mb(pid)
            stop.set()
            return out
        finally:
            with contextlib.suppress(SystemExit):
                istiolab("down", "--state-dir", tmp, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle", type=float, default=30.0, help="idle window in seconds")
    args = ap.parse_args()
    base = measure(False, args.idle)
    with_console = measure(True, args.idle)
    print(f"{'':28}{'no console':>12}{'console':>12}{'added':>10}")
    for key in ("rss_ready_mb", "rss_pages_mb", "rss_idle_mb", "idle_cpu_pct"):
        a, b = base[key], with_console[key]
        print(f"{key:28}{a:12.1f}{b:12.1f}{b - a:10.1f}")
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
