"""The control plane against a real Envoy: ADS, ACK/NACK tracking, live pushes, and the
translated config carrying real traffic (routing, subsets, NC, faults, outbound policy)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace

import pytest
from conftest import require

from istiolab import manifests as m
from istiolab.local.bootstrap import bootstrap
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.translate import build_resources
from istiolab.local.xds import XdsServer

from .envoy_harness import (
    ENVOY,
    App,
    Envoy,
    backoff,
    dump_names,
    free_port,
    proxy_get,
    random_octet,
)

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]
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


@pytest.fixture
def settings():
    octet = random_octet()
    host = f"127.{octet}.0.3"
    return MeshSettings(octet=octet, gateway_host=host, gateway_http_port=free_port(host))


@pytest.fixture
def started(request, tmp_path, settings):
    """Start (XdsServer, apps, Envoys) with finalizers that stop each by PID/handle."""
    require(ENVOY.exists(), f"Envoy at {ENVOY}")

    def start(objects: list[dict], proxy_kinds=("sidecar",)):
        mesh = Mesh(tmp_path, settings, objects)
        mesh.xds.start()
        request.addfinalizer(mesh.xds.stop)
        apps = {}
        for pod in mesh.registry.pods:
            if pod.namespace == "backend":
                app = App(pod.app_ip, 8080, pod.labels.get("version", pod.name))
                request.addfinalizer(app.stop)
                apps[pod.name] = app
        envoys = {}
        for kind in proxy_kinds:
            if kind == "router":
                proxy = Proxy("router", gateway_pod(settings))
            else:
                pod = next(p for p in mesh.registry.pods if p.sidecar)
                proxy = Proxy("sidecar", pod)
            envoy = mesh.start_envoy(tmp_path, proxy)
            request.addfinalizer(envoy.stop)
            envoys[kind] = (proxy, envoy)
        for _, envoy in envoys.values():
            envoy.wait_ready()
        return mesh, envoys

    return start


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
    for _ in backoff(time.monotonic() + timeout):
        if predicate():
            return
    raise AssertionError(f"timed out waiting for {what}")


def test_sidecar_config_traffic_and_nack(started, tmp_path):
    log = tmp_path / "access.log"
    mesh, envoys = started(base_objects(log))
    proxy, envoy = envoys["sidecar"]
    node = proxy.node_id
    assert mesh.xds.wait_synced([node], 15), mesh.xds.status()

    names = dump_names(envoy.config_dump())
    assert {
        f"outbound|8000||{HTTPBIN}",
        f"outbound|8000|v1|{HTTPBIN}",
        f"outbound|8000|v2|{HTTPBIN}",
        "PassthroughCluster",
        "BlackHoleCluster",
        "inbound|80||",
    } <= names["clusters"]
    assert {"virtualOutbound", f"{proxy.pod.ip}_80"} <= names["listeners"]
    assert names["routes"] == {"http_proxy"}
    [status] = mesh.xds.status()
    assert status.node_id == node
    assert {k: status.state(k) for k in ("CDS", "EDS", "LDS", "RDS")} == dict.fromkeys(
        ("CDS", "EDS", "LDS", "RDS"), "SYNCED"
    )

    outbound = f"{proxy.pod.ip}:15001"
    code, _, body = proxy_get(outbound, "http://httpbin.backend:8000/get")
    assert code == 200 and '"path": "/get"' in body

    # live push: every request to v2
    to_v2 = vs([{"route": [{"destination": {"host": "httpbin", "subset": "v2"}}]}])
    objects = [*mesh.objects, to_v2]
    mesh.set_objects(objects)
    version = mesh.xds.push()
    assert version == mesh.xds.version
    assert mesh.xds.wait_synced([node], 10), mesh.xds.status()
    servers = {
        json.loads(proxy_get(outbound, "http://httpbin.backend:8000/get")[2])["server"]
        for _ in range(6)
    }
    assert servers == {"v2"}

    # a subset no DestinationRule defines: accepted, Envoy answers 503 NC
    mesh.set_objects(
        [*objects[:-1], vs([{"route": [{"destination": {"host": "httpbin", "subset": "v9"}}]}])]
    )
    mesh.xds.push()
    assert mesh.xds.wait_synced([node], 10)
    code, _, _ = proxy_get(outbound, "http://httpbin.backend:8000/get")
    assert code == 503
    wait_for(lambda: log.exists() and " 503 NC " in log.read_text(), what="NC in access log")

    # fault abort 100 % with 418: FI in the access log
    fault = {"abort": {"httpStatus": 418, "percentage": {"value": 100}}}
    mesh.set_objects(
        [*objects[:-1], vs([{"fault": fault, "route": [{"destination": {"host": "httpbin"}}]}])]
    )
    mesh.xds.push()
    assert mesh.xds.wait_synced([node], 10)
    assert proxy_get(outbound, "http://httpbin.backend:8000/get")[0] == 418
    wait_for(lambda: " 418 FI " in log.read_text(), what="FI in access log")

    # a route config Envoy refuses (bad regex): NACK recorded, last good config serves
    good = mesh.resources(node)
    bad_routes = copy.deepcopy(dict(good.routes))
    bad_routes["http_proxy"]["virtual_hosts"][0]["routes"][0]["match"] = {
        "safe_regex": {"regex": "(unclosed"}
    }
    mesh.override = replace(good, routes=bad_routes)
    mesh.xds.push()
    assert not mesh.xds.wait_synced([node], 1.0)
    wait_for(lambda: mesh.xds.status()[0].state("RDS") == "NACK", what="RDS NACK")
    rds = mesh.xds.status()[0].types["RDS"]
    assert "(unclosed" in rds.nack and rds.acked_version != rds.sent_version
    assert proxy_get(outbound, "http://httpbin.backend:8000/get")[0] == 418  # last good
    mesh.override = None
    mesh.xds.push()
    assert mesh.xds.wait_synced([node], 10)
    assert mesh.xds.status()[0].state("RDS") == "SYNCED"


def test_outbound_traffic_policy(started, tmp_path):
    log = tmp_path / "access.log"
    mesh, envoys = started(base_objects(log, "REGISTRY_ONLY"))
    proxy, _ = envoys["sidecar"]
    assert mesh.xds.wait_synced([proxy.node_id], 15)
    outside_ip = f"127.{mesh.settings.octet}.127.250"
    outside = App(outside_ip, 8080, "outside")
    try:
        url = f"http://{outside_ip}:8080/anything"
        outbound = f"{proxy.pod.ip}:15001"
        assert proxy_get(outbound, url)[0] == 502  # REGISTRY_ONLY: block_all
        mesh.set_objects(base_objects(log, "ALLOW_ANY"))
        mesh.xds.push()
        assert mesh.xds.wait_synced([proxy.node_id], 10)
        code, _, body = proxy_get(outbound, url)  # ALLOW_ANY: PassthroughCluster
        assert code == 200 and '"server": "outside"' in body
    finally:
        outside.stop()
    wait_for(lambda: "PassthroughCluster" in log.read_text(), what="passthrough log line")


def test_gateway_listener_and_host_matching(started, tmp_path):
    log = tmp_path / "access.log"
    gateway = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "web", "namespace": "backend"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": ["bookinfo.app"],
                }
            ],
        },
    }
    route = vs(
        [{"match": [{"uri": {"prefix": "/get"}}], "route": [{"destination": {"host": "httpbin"}}]}],
        gateways=["web"],
        hosts=("*",),
        name="web",
    )
    mesh, envoys = started([*base_objects(log), gateway, route], proxy_kinds=("router",))
    proxy, envoy = envoys["router"]
    assert mesh.xds.wait_synced([proxy.node_id], 15), mesh.xds.status()
    names = dump_names(envoy.config_dump())
    port = mesh.settings.gateway_http_port
    assert f"0.0.0.0_{port}" in names["listeners"]
    assert f"http.{port}" in names["routes"]
    url = f"http://{mesh.settings.gateway_host}:{port}/get"
    import urllib.error
    import urllib.request

    def get(host: str) -> int:
        req = urllib.request.Request(url, headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert get("bookinfo.app") == 200
    assert get("other.example") == 404
