"""Memory per sidecar: RSS, anonymous RSS and PSS of every Envoy of a running Bookinfo mesh.

RSS counts Envoy's binary pages that all Envoys share; PSS divides shared pages among the
processes sharing them (what one more sidecar really costs). Target: RSS <= 40 MB.

    .venv/bin/python benchmarks/bench_rss.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import client, running_mesh


def kb(pid: int, field: str, source: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    with running_mesh("bookinfo") as (root, _, _):
        api = client(root)
        # put some traffic through so the figures are not idle-only
        for _ in range(50):
            api.get("/status")
        import http.client

        gw = api.get("/status")["settings"]["gateway_host"]
        for _ in range(100):
            c = http.client.HTTPConnection(gw, 8080, timeout=5)
            c.request("GET", "/productpage")
            c.getresponse().read()
            c.close()
        rows = []
        for pod in api.get("/status")["pods"]:
            for name, pid in pod["pids"].items():
                if name.endswith("/istio-proxy") or pod.get("gateway"):
                    rows.append(
                        (name, kb(pid, "VmRSS"), kb(pid, "RssAnon"), kb(pid, "Pss", "smaps_rollup"))
                    )
    for name, rss, anon, pss in rows:
        print(f"{name:60} RSS={rss / 1024:.1f}MB anon={anon / 1024:.1f}MB PSS={pss / 1024:.1f}MB")
    sidecars = [r for r in rows if r[0].endswith("/istio-proxy")]
    for i, label in ((1, "RSS"), (2, "RssAnon"), (3, "PSS")):
        values = [r[i] / 1024 for r in sidecars]
        print(
            f"sidecar {label}: mean={statistics.fmean(values):.1f}MB max={max(values):.1f}MB "
            f"(n={len(values)})"
        )


if __name__ == "__main__":
    main()
