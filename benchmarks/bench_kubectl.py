"""The local mesh through kubectl vs through istiolab: the same work, the two doors.

1. Bookinfo (every Service, ServiceAccount and Deployment of ``istiolab.manifests.bookinfo``)
   applied from one file until every proxy ACKed: ``kubectl apply -f`` (one request per
   object, each reconciled) against ``istiolab apply -f`` (one batch), then deleted again;
   ``--rounds`` times each, alternating.
2. A request from inside a pod: ``kubectl exec deploy/sleep -- curl -s -o /dev/null
   http://httpbin:8000/get`` against ``istiolab request --from sleep http://httpbin:8000/get``,
   the whole command's wall time (process start, TLS + token for kubectl, the request).

    .venv/bin/python benchmarks/bench_kubectl.py [--rounds 5] [--requests 20] [--octet N]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import client, istiolab, pick_octet, summary

from istiolab import manifests


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr}{proc.stdout}")
    return elapsed


def all_synced(root: Path) -> bool:
    """Every proxy connected, CDS and LDS ACKed at the version sent, no NACK."""
    rows = client(root).get("/proxy-status")["proxies"]
    for row in rows:
        types = (row["status"] or {}).get("types") or {}
        if any(types.get(t, {}).get("state") != "SYNCED" for t in ("CDS", "LDS")):
            return False
        if any(t["state"] not in ("SYNCED", "NOT SENT") or t["nack"] for t in types.values()):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--octet", type=int, default=None)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit("kubectl is not on PATH")
    octet = args.octet or pick_octet()
    with tempfile.TemporaryDirectory(prefix="istiolab-bench-") as tmp:
        root = Path(tmp)
        istiolab(
            "up",
            "--detach",
            "--state-dir",
            tmp,
            "--octet",
            str(octet),
            "--gateway-host",
            f"127.{octet}.0.3",
            "--samples",
            "httpbin,sleep",
        )
        try:
            env = {**os.environ, "KUBECONFIG": str(root / "kubeconfig")}
            cli = [sys.executable, "-m", "istiolab"]
            bookinfo = root / "bookinfo.yaml"
            bookinfo.write_text(manifests.to_yaml(manifests.bookinfo()))
            doors = {
                "kubectl": (
                    [kubectl, "apply", "-f", str(bookinfo)],
                    [kubectl, "delete", "-f", str(bookinfo)],
                ),
                "istiolab": (
                    [*cli, "apply", "-f", str(bookinfo), "--state-dir", tmp],
                    [*cli, "delete", "-f", str(bookinfo), "--state-dir", tmp],
                ),
            }
            applied: dict[str, list[float]] = {name: [] for name in doors}
            for _ in range(args.rounds):
                for name, (apply, delete) in doors.items():
                    t0 = time.perf_counter()
                    timed(apply, env)
                    while not all_synced(root):
                        time.sleep(0.005)
                    applied[name].append(time.perf_counter() - t0)
                    timed(delete, env)
            for name, values in applied.items():
                print(f"apply Bookinfo until every proxy ACKed, {name:8}: {summary(values)}")
            url = "http://httpbin:8000/get"
            requests = {
                "kubectl": [
                    kubectl,
                    *shlex.split(f"exec deploy/sleep -- curl -s -o /dev/null {url}"),
                ],
                "istiolab": [*cli, "request", "--from", "sleep", url, "--state-dir", tmp],
            }
            took: dict[str, list[float]] = {name: [] for name in requests}
            for _ in range(args.requests):
                for name, argv in requests.items():
                    took[name].append(timed(argv, env))
            for name, values in took.items():
                print(f"request from sleep (whole command), {name:8}: {summary(values)}")
        finally:
            istiolab("down", "--state-dir", tmp, check=False)


if __name__ == "__main__":
    main()
