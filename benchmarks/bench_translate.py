"""Translation time: 100 services and 1000 Istio resources -> one proxy's Envoy resources.

Builds a synthetic mesh (100 Services + Deployments in an injected namespace; per service
one DestinationRule with 3 subsets, one VirtualService with header match, weights, retries
and a timeout; plus 400 ServiceEntries each with a VirtualService: 1000 Istio resources)
and times the pure `build_resources` for one sidecar and for the gateway (each with its own
MeshIndex, i.e. cold), the registry, and a whole push: the gateway and all 100 sidecars
sharing one MeshIndex (as the XdsServer's callback does), against one index per proxy.
Target: <= 1 s per proxy.

    .venv/bin/python benchmarks/bench_translate.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import summary

from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry, gateway_pod, proxies
from istiolab.local.translate import MeshIndex, build_resources
from istiolab.local.xds.protos import Encoder, to_any
from istiolab.local.xds.server import canonical, content_version

NET = "networking.istio.io/v1"


def objects(services: int = 100, entries: int = 400) -> list[dict]:
    out: list[dict] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "bench", "labels": {"istio-injection": "enabled"}},
        }
    ]
    out.append(
        {
            "apiVersion": NET,
            "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "bench"},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
                ],
            },
        }
    )
    for i in range(services):
        name = f"svc{i:03d}"
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "bench", "labels": {"app": name}},
                "spec": {
                    "selector": {"app": name},
                    "ports": [{"name": "http", "port": 9080, "targetPort": 9080}],
                },
            }
        )
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"{name}-v1", "namespace": "bench"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name, "version": "v1"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "docker.io/istio/examples-bookinfo-details-v1:1.20.2",
                                    "ports": [{"containerPort": 9080}],
                                }
                            ]
                        },
                    },
                },
            }
        )
        out.append(
            {
                "apiVersion": NET,
                "kind": "DestinationRule",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {
                    "host": name,
                    "trafficPolicy": {"connectionPool": {"http": {"http1MaxPendingRequests": 10}}},
                    "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")],
                },
            }
        )
        out.append(
            {
                "apiVersion": NET,
                "kind": "VirtualService",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {
                    "hosts": [name],
                    "gateways": ["mesh", "gw"] if i < 20 else ["mesh"],
                    "http": [
                        {
                            "match": [{"headers": {"end-user": {"exact": "jason"}}}],
                            "route": [{"destination": {"host": name, "subset": "v2"}}],
                        },
                        {
                            "route": [
                                {"destination": {"host": name, "subset": "v1"}, "weight": 80},
                                {"destination": {"host": name, "subset": "v3"}, "weight": 20},
                            ],
                            "timeout": "5s",
                            "retries": {"attempts": 2, "perTryTimeout": "1s"},
                        },
                    ],
                },
            }
        )
    for i in range(entries):
        host = f"ext{i:03d}.example.com"
        out.append(
            {
                "apiVersion": NET,
                "kind": "ServiceEntry",
                "metadata": {"name": f"ext{i:03d}", "namespace": "bench"},
                "spec": {
                    "hosts": [host],
                    "location": "MESH_EXTERNAL",
                    "resolution": "DNS",
                    "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                },
            }
        )
        out.append(
            {
                "apiVersion": NET,
                "kind": "VirtualService",
                "metadata": {"name": f"ext{i:03d}", "namespace": "bench"},
                "spec": {
                    "hosts": [host],
                    "http": [{"route": [{"destination": {"host": host}}], "timeout": "3s"}],
                },
            }
        )
    return out


def main() -> None:
    objs = objects()
    istio = [o for o in objs if o["apiVersion"].startswith("networking.istio.io")]
    print(f"objects: {len(objs)} ({len(istio)} Istio resources, 100 services)")
    settings = MeshSettings(octet=10)
    t0 = time.perf_counter()
    registry, _ = build_registry(objs, settings, {})
    print(f"registry: {(time.perf_counter() - t0) * 1000:.1f} ms ({len(registry.pods)} pods)")
    sidecar = Proxy("sidecar", registry.pods[0])
    gateway = Proxy("router", gateway_pod(settings))
    for label, proxy in (("sidecar", sidecar), ("gateway", gateway)):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = build_resources(objs, registry, proxy, settings)
            times.append(time.perf_counter() - t0)
        sizes = {k.rsplit(".", 1)[-1]: len(v) for k, v in res.by_type().items()}
        print(f"build_resources({label}): {summary(times)} resources={sizes}")
    everyone = proxies(registry, settings)
    for label, shared in (("shared index", True), ("index per proxy", False)):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            index = MeshIndex(objs, registry, settings)
            for proxy in everyone:
                if not shared:
                    index = MeshIndex(objs, registry, settings)
                build_resources(objs, registry, proxy, settings, index=index)
            times.append(time.perf_counter() - t0)
        per = [t / len(everyone) for t in times]
        print(f"push, {len(everyone)} proxies, {label}: total {summary(times)}")
        print(f"  per proxy: {summary(per)}")
    # what the XdsServer adds per proxy: canonical JSON + version + protobuf Any per resource
    index = MeshIndex(objs, registry, settings)
    pushed = [build_resources(objs, registry, p, settings, index=index) for p in everyone]
    for label, cached in (("encoding memoised by content", True), ("encoding per proxy", False)):
        encoder = Encoder()
        t0 = time.perf_counter()
        for res in pushed[: len(pushed) if cached else 10]:
            for table in res.by_type().values():
                items = sorted(table.items())
                texts = [canonical(r) for _, r in items]
                content_version(items, texts)
                for text, (_, r) in zip(texts, items, strict=True):
                    encoder.encode(text, r) if cached else to_any(r)
        n = len(pushed) if cached else 10
        took = time.perf_counter() - t0
        print(f"xDS {label}: {took / n * 1000:.1f} ms per proxy ({n} proxies)")


if __name__ == "__main__":
    main()
