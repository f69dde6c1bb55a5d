"""The cost of the mesh's telemetry: per request (latency, CPU) and control-plane memory.

1. Cost per request, one run, one mesh (Bookinfo): GET /productpage through the gateway at
   a fixed rate (each request crosses the gateway and 4-5 sidecar hops), in alternating
   phases with telemetry ON (Istio's metrics through the access-log stream, Zipkin tracer
   at Istio's default 1 % sampling, file access logs) and OFF (a root-namespace Telemetry
   disabling every metric and span reporting: no access-log stream, no tracer; the file
   access logs stay, as they are not part of the telemetry under test). Per phase: client
   latency p50/p99 and the CPU seconds of every mesh process (Envoys, apps) and of the
   control plane (the supervisor process), per 1000 requests.
2. Control-plane memory: the supervisor's RSS before and after M requests through the mesh
   at full speed (real Envoys, real access-log stream), then 1,000,000 access-log entries
   fed in-process through the same path the gRPC service calls (labels_for + MetricStore:
   the aggregation, without Envoy and gRPC), with the Python heap before/after.
   Memory grows with the number of series (label sets), not with requests.

    .venv/bin/python benchmarks/bench_telemetry.py [--rate 40] [--seconds 15] [--phases 4]
        [--requests 10000] [--entries 1000000] [--octet N]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import client, percentile, running_mesh

from istiolab.local.state import StateDir

OFF = {  # every metric and span reporting off, mesh-wide (root namespace)
    "apiVersion": "telemetry.istio.io/v1",
    "kind": "Telemetry",
    "metadata": {"name": "telemetry-off", "namespace": "istio-system"},
    "spec": {
        "metrics": [{"overrides": [{"disabled": True}]}],
        "tracing": [{"disableSpanReporting": True}],
    },
}


def processes(root: Path) -> tuple[psutil.Process, list[psutil.Process]]:
    state = StateDir(root)
    supervisor = psutil.Process(state.running_pid())
    workers = [psutil.Process(r["pid"]) for r in state.read_processes()]
    return supervisor, workers


def cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def fixed_rate(gateway: str, rate: float, seconds: float) -> list[float]:
    """Open-loop GETs at `rate`/s (each on its own thread slot, keep-alive per slot)."""
    latencies: list[float] = []
    lock = threading.Lock()
    slots = 8
    interval = slots / rate

    def slot(offset: float) -> None:
        conn = http.client.HTTPConnection(gateway, 8080, timeout=30)
        start = time.monotonic() + offset
        k = 0
        while True:
            at = start + k * interval
            if at - t0 > seconds:
                break
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            conn.request("GET", "/productpage", headers={"Host": "bookinfo.bench"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, resp.status
            with lock:
                latencies.append(time.perf_counter() - began)
            k += 1
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=slot, args=(i / rate,)) for i in range(slots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def cost(root: Path, gateway: str, rate: float, seconds: float, phases: int) -> None:
    supervisor, workers = processes(root)
    results: dict[str, list] = {"on": [], "off": []}
    for i in range(phases):
        mode = "on" if i % 2 == 0 else "off"
        if mode == "off":
            client(root).post("/apply", {"objects": [OFF], "source": "bench"})
        elif i:
            _telemetry_on(root)
        fixed_rate(gateway, rate, 2)  # warm-up
        cp0, w0 = cpu([supervisor]), cpu(workers)
        lat = fixed_rate(gateway, rate, seconds)
        cp1, w1 = cpu([supervisor]), cpu(workers)
        n = len(lat)
        results[mode].append((n, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                              (w1 - w0) / n * 1000, (cp1 - cp0) / n * 1000))  # fmt: skip
        r = results[mode][-1]
        print(f"phase {i + 1} telemetry {mode:3}: {n} requests at {rate}/s; latency "
              f"p50 {r[1]:.2f} ms p99 {r[2]:.2f} ms; CPU per 1000 requests: mesh processes "
              f"{r[3]:.2f} s, control plane {r[4]:.2f} s", flush=True)  # fmt: skip
    for mode, rows in results.items():
        if rows:
            avg = [sum(r[k] for r in rows) / len(rows) for k in range(1, 5)]
            print(f"telemetry {mode:3} (mean of {len(rows)} phases): p50 {avg[0]:.2f} ms, "
                  f"p99 {avg[1]:.2f} ms, CPU/1000 req: mesh {avg[2]:.2f} s, "
                  f"control plane {avg[3]:.2f} s")  # fmt: skip


def _telemetry_on(root: Path) -> None:
    ref = {"kind": "Telemetry", "name": "telemetry-off", "namespace": "istio-system"}
    client(root).post("/delete", {"refs": [ref]})


def memory(root: Path, gateway: str, requests: int) -> None:
    supervisor, _ = processes(root)
    rss0 = supervisor.memory_info().rss
    done = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal done
        conn = http.client.HTTPConnection(gateway, 8080, timeout=30)
        while True:
            with lock:
                if done >= requests:
                    break
                done += 1
            conn.request("GET", "/productpage", headers={"Host": "bookinfo.bench"})
            conn.getresponse().read()
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    time.sleep(2)  # the last entries flushed
    rss1 = supervisor.memory_info().rss
    print(f"control plane RSS: {rss0 / 2**20:.1f} MB before, {rss1 / 2**20:.1f} MB after "
          f"{requests} productpage requests ({requests * 5} proxy-reported HTTP requests, "
          f"both reporters: ~{requests * 9} access-log entries) in {elapsed:.1f} s")  # fmt: skip


def synthetic(entries: int) -> None:
    from istiolab import manifests as m
    from istiolab.local.model import MeshSettings, Proxy
    from istiolab.local.registry import build_registry
    from istiolab.local.telemetry.attributes import Entry, Peers
    from istiolab.local.telemetry.metrics import MetricStore

    settings = MeshSettings(octet=200)
    registry, _ = build_registry([m.namespace("default", injection=True), *m.bookinfo()],
                                 settings, {})  # fmt: skip
    proxies = {Proxy("sidecar", p).node_id: Proxy("sidecar", p) for p in registry.pods}
    peers = Peers(registry, proxies, mtls=lambda n, c: True)
    pods = list(registry.pods)
    sample = []
    for src in pods:
        for dst in pods:
            svc = dst.labels["app"]
            cluster = f"outbound|9080||{svc}.default.svc.cluster.local"
            for code in (200, 503):
                sample.append(
                    Entry(
                        Proxy("sidecar", src).node_id,
                        "outbound",
                        upstream_ip=dst.ip,
                        upstream_cluster=cluster,
                        response_code=code,
                        duration_ms=3.0,
                        request_bytes=500,
                        response_bytes=4000,
                    )
                )
                sample.append(Entry(Proxy("sidecar", dst).node_id, "inbound", downstream_ip=src.ip,
                                    downstream_port=9080, authority=f"{svc}:9080",
                                    response_code=code, duration_ms=2.0,
                                    peer_uri=src.spiffe_id))  # fmt: skip
    store = MetricStore()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    began = time.perf_counter()
    for i in range(entries):
        entry = sample[i % len(sample)]
        labels, key = peers.labels(entry)  # what the gRPC service's sink does per entry
        store.observe(entry, labels, key=key)
    elapsed = time.perf_counter() - began
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    series = len([s for s in store.samples() if s[0] == "istio_requests_total"])
    print(f"in-process aggregation of {entries} entries ({series} istio_requests_total series, "
          f"{len(sample)} distinct entries): {elapsed:.1f} s ({entries / elapsed:.0f} entries/s "
          f"on one core), Python heap +{used / 2**20:.2f} MB after all of them")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=40.0)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--phases", type=int, default=4)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--octet", type=int, default=None, help="127.<octet> (default: random)")
    args = ap.parse_args()
    with running_mesh("bookinfo", args.octet) as (root, _octet, gateway):
        cost(root, gateway, args.rate, args.seconds, args.phases)
        if args.phases % 2 == 0:
            _telemetry_on(root)
        memory(root, gateway, args.requests)
    synthetic(args.entries)


if __name__ == "__main__":
    main()
