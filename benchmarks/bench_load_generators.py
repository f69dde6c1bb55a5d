"""Load generators on the same target in one run: requests per second and per CPU-second of
h2load (Debian's nghttp2-client, HTTP/1.1), Locust's FastHttpUser, istiolab's MeshUser
(Locust with the project's client, what `istiolab load` runs) and the built-in fortio-like
generator (istiolab.workloads.loadgen), and how far each is from the target's capacity.

The target is a real Envoy (one worker) answering every request with a direct response, so
it is never the bottleneck of a single generator; its capacity is what h2load reaches with
many connections. CPU is the generator process's user+sys time (getrusage of the child).

Then the built-in generator at a fixed rate, with and without even arrivals (fortio's
-uniform): with every connection firing on the same tick the generator measures its own
bursts, which shows in p50.

    .venv/bin/python benchmarks/bench_load_generators.py [--seconds 8] [--octet 156]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from istiolab.local.envoy import find_envoy

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

HCM = (
    "type.googleapis.com/"
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)
ENVOY_CONFIG = """
static_resources:
  listeners:
  - address: {{socket_address: {{address: {ip}, port_value: 10000}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {hcm}
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
admin:
  address: {{socket_address: {{address: {ip}, port_value: 10001}}}}
"""

LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from istiolab.load.user import MeshUser


class Fast(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")


class Mesh(MeshUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""

LOADGEN = """
import json, sys
from istiolab.workloads.loadgen import load
url, count, c, qps, uniform = sys.argv[1:6]
r = load(url, count=int(count), concurrency=int(c), qps=float(qps) or None, uniform=uniform == "1")
print(json.dumps({"requests": len(r.samples), "seconds": r.elapsed, "codes": r.codes,
                  "p50": r.percentile(50), "p90": r.percentile(90)}))
"""


def timed(argv: list[str], timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """Run a child; returns it and its CPU seconds (user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc, cpu


def h2load(url: str, seconds: float, conns: int) -> tuple[float, float, int]:
    proc, cpu = timed(["h2load", "--h1", "-D", str(int(seconds)), "-c", str(conns), url])
    rate = re.search(r"^finished in \S+, ([\d.]+) req/s", proc.stdout, re.M)
    done = re.search(r"^requests: .* (\d+) done", proc.stdout, re.M)
    if not (rate and done):
        raise SystemExit(f"h2load said: {proc.stdout}{proc.stderr}")
    return float(rate.group(1)), cpu, int(done.group(1))


def locust(
    url: str, seconds: float, users: int, user_class: str, tmp: Path
) -> tuple[float, float, int]:
    locustfile = tmp / "bench_locustfile.py"
    locustfile.write_text(textwrap.dedent(LOCUSTFILE))
    prefix = tmp / f"locust-{user_class}"
    argv = [
        PY, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
        "-r", str(users), "-t", f"{seconds:g}s", "--host", url, "--csv", str(prefix),
        "--only-summary", "--loglevel", "WARNING", user_class,
    ]  # fmt: skip
    _, cpu = timed(argv)
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    if not int(row["Request Count"]) or int(row["Failure Count"]):
        raise SystemExit(
            f"Locust {user_class}: {row['Request Count']} requests, {row['Failure Count']} failed"
        )
    return float(row["Requests/s"]), cpu, int(row["Request Count"])


def loadgen(url: str, count: int, conns: int, qps: float = 0, uniform: bool = True) -> dict:
    proc, cpu = timed(
        [PY, "-c", LOADGEN, url, str(count), str(conns), str(qps), "1" if uniform else "0"]
    )
    out = json.loads(proc.stdout)
    out["cpu"] = cpu
    out["rps"] = out["requests"] / out["seconds"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--octet", type=int, default=156)
    parser.add_argument("--connections", type=int, default=4)
    opts = parser.parse_args()
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: apt-get install nghttp2-client")
    ip = f"127.{opts.octet}.9.1"
    url = f"http://{ip}:10000/"
    c = opts.connections
    with tempfile.TemporaryDirectory(prefix="istiolab-bench-gen-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "envoy.yaml").write_text(ENVOY_CONFIG.format(ip=ip, hcm=HCM))
        envoy = subprocess.Popen(
            [find_envoy(), "-c", str(tmp / "envoy.yaml"), "--concurrency", "1", "-l", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(url, timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            rows = []
            trials = [(h2load(url, opts.seconds, n), n) for n in (8, 32)]
            (cap, cap_cpu, cap_n), cap_c = max(trials, key=lambda t: t[0][0])
            rows.append((f"target capacity (h2load -c {cap_c}, best of 8/32)", cap, cap_cpu, cap_n))
            rate, cpu, n = h2load(url, opts.seconds, c)
            rows.append((f"h2load --h1 -c {c}", rate, cpu, n))
            base = url.rstrip("/")  # Locust joins host and path
            rate, cpu, n = locust(base, opts.seconds, c, "Fast", tmp)
            rows.append((f"Locust FastHttpUser -u {c}", rate, cpu, n))
            rate, cpu, n = locust(base, opts.seconds, c, "Mesh", tmp)
            rows.append((f"Locust MeshUser -u {c} (istiolab load)", rate, cpu, n))
            probe = loadgen(url, 2000, c)
            count = int(probe["rps"] * opts.seconds)
            gen = loadgen(url, count, c)
            rows.append((f"built-in loadgen -c {c}", gen["rps"], gen["cpu"], gen["requests"]))
            h2_rate, h2_cpu, h2_n = rows[1][1], rows[1][2], rows[1][3]
            print(f"target: Envoy direct response, 1 worker, {url}; {os.cpu_count()} CPUs")
            head = ("rps", "of cap", "of h2load", "req/CPU-s", "CPU/req vs h2load")
            print(f"{'generator':42} " + " ".join(f"{h:>10}" for h in head))
            for name, rate, cpu, n in rows:
                per_cpu = n / cpu if cpu else float("nan")
                ratio = (cpu / n) / (h2_cpu / h2_n) if n and h2_n else float("nan")
                cells = (f"{rate:.0f}", f"{rate / cap:.0%}", f"{rate / h2_rate:.0%}")
                cells += (f"{per_cpu:.0f}", f"{ratio:.1f}x")
                print(f"{name:42} " + " ".join(f"{x:>10}" for x in cells))
            # fixed rate: bursts vs even arrivals, same rate and connections
            qps, fc = min(400.0, gen["rps"] / 4), 4 * c
            n = int(qps * 5)
            burst = loadgen(url, n, fc, qps, uniform=False)
            even = loadgen(url, n, fc, qps, uniform=True)
            print(f"fixed rate {qps:g} qps over {fc} connections, {n} requests:")
            for label, r in (
                ("bursts (every connection on one tick)", burst),
                ("even arrivals (-uniform)", even),
            ):
                p50, p90 = r["p50"] * 1000, r["p90"] * 1000
                print(f"  {label:40} p50 {p50:.3f} ms  p90 {p90:.3f} ms  ({r['rps']:.1f} rps)")
            print(f"  p50 ratio bursts/even: {burst['p50'] / even['p50']:.2f}x")
        finally:
            envoy.terminate()
            envoy.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
