"""Config convergence: from `apply` to every affected proxy ACKed, over 50 applies.

Alternates the reviews VirtualService between two weight splits (so every apply is a real
change), sent to the running supervisor's control API exactly as `istiolab apply` does. Two
figures per apply: the whole apply round trip (validate, commit, translate, push, wait for
every proxy's ACK) measured by the client, and the push-to-ACK part reported by the mesh.
Target: p99 <= 250 ms.

    .venv/bin/python benchmarks/bench_convergence.py [--applies 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import backend, running_mesh, summary

from istiolab import manifests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--applies", type=int, default=50)
    args = parser.parse_args()
    with running_mesh("bookinfo") as (root, _, _):
        mesh = backend(root)
        mesh.apply(manifests.destination_rules(), "bench")
        total, acked = [], []
        proxies = 0
        for i in range(args.applies):
            weights = (50, 50) if i % 2 else (80, 20)
            objs = manifests.traffic_preset("weighted", subsets=("v1", "v3"), weights=weights)
            t0 = time.perf_counter()
            result = mesh.apply(objs, "bench")
            total.append(time.perf_counter() - t0)
            if result.sync_error:
                raise SystemExit(f"apply {i}: not synced: {result.sync_error}")
            acked.append(result.seconds)
            proxies = result.proxies
    print(f"proxies per apply: {proxies}")
    print("apply -> all proxies ACKed (client round trip):", summary(total))
    print("push -> all proxies ACKed (mesh-side):         ", summary(acked))


if __name__ == "__main__":
    main()
