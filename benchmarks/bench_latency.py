"""Added latency of the gateway and of sidecar hops vs calling the app directly.

Same run, same app (details /details/0, which calls nothing upstream), keep-alive
connections, the paths interleaved request by request so load from elsewhere hits all alike:

  direct    client -> details app (its pod-local address)
  inbound   client -> details sidecar (inbound) -> app                        (1 sidecar hop)
  mesh      client -> sleep sidecar (outbound) -> details sidecar -> app      (2 sidecar hops)
  gateway   client -> ingress gateway -> details sidecar -> app               (gateway + 1 hop)
  full      client -> gateway -> sleep-free path is not possible, so "gateway + two sidecar
            hops" is estimated as gateway + mesh - direct (each hop measured above)

Target: <= 1 ms p50 added per hop.

    .venv/bin/python benchmarks/bench_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import backend, percentile, running_mesh

from istiolab.local.model import MeshSettings

ROUTE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "details-gw", "namespace": "default"},
    "spec": {
        "hosts": ["details.bench"],
        "gateways": ["bookinfo-gateway"],
        "http": [{"route": [{"destination": {"host": "details", "port": {"number": 9080}}}]}],
    },
}


class Path_:
    def __init__(self, connect: tuple[str, int], target: str, host: str, source: str) -> None:
        self.connect, self.target, self.host, self.source = connect, target, host, source
        self.conn = None

    def request(self) -> float:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                *self.connect, timeout=10, source_address=(self.source, 0)
            )
        t0 = time.perf_counter()
        self.conn.request("GET", self.target, headers={"Host": self.host})
        resp = self.conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            raise SystemExit(f"{self.connect} {self.target}: {resp.status}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with running_mesh("bookinfo,sleep") as (root, _, gateway):
        mesh = backend(root)
        mesh.apply([ROUTE], "bench")
        details = mesh.pod("details-v1")
        source_ip, sidecar, _ = mesh.egress("sleep")  # sleep's app address and its sidecar
        assert sidecar is not None, "sleep has no sidecar"
        outbound = urlsplit(sidecar)
        app_ip = MeshSettings.app_ip(details.ip)
        paths = {
            "direct": Path_((app_ip, 9080), "/details/0", "details:9080", source_ip),
            "inbound": Path_((details.ip, 9080), "/details/0", "details:9080", source_ip),
            "mesh": Path_(
                (outbound.hostname, outbound.port),
                "http://details:9080/details/0",
                "details:9080",
                source_ip,
            ),
            "gateway": Path_((gateway, 8080), "/details/0", "details.bench", "127.0.0.1"),
        }
        for p in paths.values():  # warm up connections and Envoy's caches
            for _ in range(50):
                p.request()
        samples: dict[str, list[float]] = {k: [] for k in paths}
        for _ in range(args.requests):
            for name, p in paths.items():
                samples[name].append(p.request())
    p50 = {k: percentile(v, 50) * 1000 for k, v in samples.items()}
    p99 = {k: percentile(v, 99) * 1000 for k, v in samples.items()}
    for k in paths:
        print(f"{k:8} p50={p50[k]:.3f}ms p99={p99[k]:.3f}ms (n={len(samples[k])})")
    sidecar_hop = (p50["mesh"] - p50["direct"]) / 2
    inbound_hop = p50["inbound"] - p50["direct"]
    gateway_hop = p50["gateway"] - p50["inbound"]
    print(f"added per sidecar hop (p50): {sidecar_hop:.3f} ms (inbound only: {inbound_hop:.3f} ms)")
    print(f"added by the gateway (p50):  {gateway_hop:.3f} ms")
    print(f"gateway + two sidecar hops (p50, estimated): {gateway_hop + 2 * sidecar_hop:.3f} ms")


if __name__ == "__main__":
    main()
