"""One XdsServer + apps + real Envoys for a test, on a private loopback prefix."""

from __future__ import annotations

import time

from istiolab import manifests as m
from istiolab.local.bootstrap import bootstrap
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry
from istiolab.local.translate import build_resources
from istiolab.local.xds import XdsServer

from .envoy_harness import Envoy, backoff, free_port

HTTPBIN = "httpbin.backend.svc.cluster.local"


def mesh_configmap(log_path, mode="ALLOW_ANY") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"},
        "data": {"mesh": f"accessLogFile: {log_path}\noutboundTrafficPolicy:\n  mode: {mode}\n"},
    }


def vs(spec_http: list[dict], name="httpbin", gateways=None, hosts=("httpbin.backend",)) -> dict:
    spec: dict = {"hosts": list(hosts), "http": spec_http}
    if gateways:
        spec["gateways"] = gateways
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "backend"},
        "spec": spec,
    }


class Mesh:
    """One XdsServer + the objects it serves; `set_objects` then `push` changes it live."""

    def __init__(self, tmp_path, settings: MeshSettings, objects: list[dict]) -> None:
        self.settings = settings
        self.objects = objects
        self.registry, _ = build_registry(objects, settings, {})
        self.proxies: dict[str, Proxy] = {}
        self.apps: dict = {}  # version label -> App (filled by the fixture)
        self.override = None  # node id -> ProxyResources, to push deliberately bad config
        self.xds = XdsServer(settings.istiod_ip, free_port(settings.istiod_ip), self.resources)

    def resources(self, node_id: str):
        if self.override is not None:
            return self.override
        proxy = self.proxies.get(node_id)
        if proxy is None:
            return None
        return build_resources(self.objects, self.registry, proxy, self.settings)

    def set_objects(self, objects: list[dict]) -> None:
        m.validate_objects(objects)
        self.objects = objects

    def start_envoy(self, tmp_path, proxy: Proxy) -> Envoy:
        self.proxies[proxy.node_id] = proxy
        boot = bootstrap(proxy, self.settings)
        for c in boot["static_resources"]["clusters"]:
            if c["name"] == "xds-grpc":
                addr = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
                addr["address"]["socket_address"]["port_value"] = self.xds.port
        workdir = tmp_path / proxy.pod.name
        workdir.mkdir()
        admin = boot["admin"]["address"]["socket_address"]
        return Envoy(boot, workdir, f"{admin['address']}:{admin['port_value']}")


def base_objects(log_path, mode="ALLOW_ANY") -> list[dict]:
    return [
        m.namespace("default"),
        m.namespace("backend", injection=False),
        *m.sleep(),
        *m.httpbin("backend", versions=("v1", "v2")),
        m.destination_rule("httpbin", "backend", subsets=("v1", "v2")),
        mesh_configmap(log_path, mode),
    ]


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll with backoff until predicate() holds."""
    for _ in backoff(time.monotonic() + timeout):
        if predicate():
            return
    raise AssertionError(f"timed out waiting for {what}")
