"""Convergence at scale (issue 10 item 7), on the Istio tasks' own kinds of configuration.

For each configuration and route count (10, 100, 1000 HTTP routes):
- ingress: a Gateway on port 80 for httpbin.example.com and a VirtualService with N routes
  to httpbin (Istio's "Ingress Gateways" task);
- tls: the same behind a port-443 SIMPLE TLS server with a credentialName Secret
  (the "Secure Gateways" task);
- egress: a ServiceEntry for httpbin.org and a VirtualService with N routes on the sidecars
  (the "Egress" tasks, routed by the sleep sidecar);
`--applies` applies that each change every route (so each one is a real push), timed by the
client round trip (validate, commit, translate, push, every proxy ACKed). Then the
supervisor's RSS after 20 applies at 1000 routes, and `delete -f` of 10,000 objects.
Targets: every apply synced; client p99 < 500 ms at 1000 routes.

    .venv/bin/python benchmarks/bench_scale.py [--routes 10,100,1000] [--applies 20]
        [--configs ingress,tls,egress] [--delete 10000]
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import client, istiolab, running_mesh, summary

from istiolab import manifests
from istiolab.local import pki

HOST = "httpbin.example.com"


def tls_secret() -> dict:
    """A kubernetes.io/tls Secret for the gateway: a certificate from a throwaway CA."""
    key, cert = pki.new_root("bench CA")
    chain, key_pem, _ = pki.workload_cert(pki.Authority(key, cert, "", ""), f"https://{HOST}")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "httpbin-credential", "namespace": "istio-system"},
        "data": {
            "tls.crt": base64.b64encode(chain.encode()).decode(),
            "tls.key": base64.b64encode(key_pem.encode()).decode(),
        },
    }


def routes(n: int, version: int, host: str, port: int) -> list[dict]:
    return [
        {
            "name": f"r{i}",
            "match": [{"uri": {"prefix": f"/v{version}/p{i}"}}],
            "route": [{"destination": {"host": host, "port": {"number": port}}}],
        }
        for i in range(n)
    ] + [{"name": "rest", "route": [{"destination": {"host": host, "port": {"number": port}}}]}]


def config(kind: str, n: int, version: int) -> list[dict]:
    if kind == "egress":
        se = {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "httpbin-ext", "namespace": "default"},
            "spec": {
                "hosts": ["httpbin.org"],
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                "resolution": "DNS",
                "location": "MESH_EXTERNAL",
            },
        }
        vs = {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "httpbin-ext", "namespace": "default"},
            "spec": {"hosts": ["httpbin.org"], "http": routes(n, version, "httpbin.org", 80)},
        }
        return [se, vs]
    server: dict = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [HOST]}
    extra: list[dict] = []
    if kind == "tls":
        server = {
            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
            "tls": {"mode": "SIMPLE", "credentialName": "httpbin-credential"},
            "hosts": [HOST],
        }
    gw = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "httpbin-gateway", "namespace": "default"},
        "spec": {"selector": {"istio": "ingressgateway"}, "servers": [server]},
    }
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "httpbin", "namespace": "default"},
        "spec": {
            "hosts": [HOST],
            "gateways": ["httpbin-gateway"],
            "http": routes(n, version, "httpbin", 8000),
        },
    }
    return [*extra, gw, vs]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def delete_many(count: int) -> None:
    objs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}"},
            "data": {"k": "v"},
        }
        for i in range(count)
    ]
    with (
        running_mesh("none") as (root, _, _),
        tempfile.NamedTemporaryFile("w", suffix=".yaml") as f,
    ):
        f.write(manifests.to_yaml(objs))
        f.flush()
        t0 = time.perf_counter()
        istiolab("apply", "--state-dir", str(root), "-f", f.name)
        applied = time.perf_counter() - t0
        t0 = time.perf_counter()
        istiolab("delete", "--state-dir", str(root), "-f", f.name)
        deleted = time.perf_counter() - t0
    print(f"apply -f {count} objects: {applied:.2f}s; delete -f {count} objects: {deleted:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", default="10,100,1000")
    parser.add_argument("--applies", type=int, default=20)
    parser.add_argument("--configs", default="ingress,tls,egress")
    parser.add_argument("--delete", type=int, default=10000)
    args = parser.parse_args()
    with running_mesh("httpbin,sleep") as (root, _, _):
        api = client(root)
        api.post("/apply", {"objects": [tls_secret()], "source": "bench"})
        pid = api.get("/status")["pid"]
        for kind in args.configs.split(","):
            for n in (int(x) for x in args.routes.split(",")):
                times, unsynced = [], 0
                for i in range(args.applies):
                    t0 = time.perf_counter()
                    result = api.post("/apply", {"objects": config(kind, n, i), "source": "bench"})
                    times.append(time.perf_counter() - t0)
                    if not result["synced"]["ok"]:
                        unsynced += 1
                        print(f"  {kind} {n} apply {i}: not synced: {result['synced']}")
                print(
                    f"{kind:8} {n:5} routes: synced {args.applies - unsynced}/{args.applies} "
                    f"apply->ACK {summary(times)}"
                )
                if n == 1000:
                    print(
                        f"{kind:8} supervisor RSS after {args.applies} applies: "
                        f"{rss_mib(pid):.0f} MiB"
                    )
                objs = config(kind, n, 0)
                api.post(
                    "/delete",
                    {
                        "refs": [
                            {
                                "kind": o["kind"],
                                "name": o["metadata"]["name"],
                                "namespace": "default",
                            }
                            for o in objs
                        ]
                    },
                )
    if args.delete:
        delete_many(args.delete)


if __name__ == "__main__":
    main()
