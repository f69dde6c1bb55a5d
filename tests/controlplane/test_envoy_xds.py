"""The control plane against a real Envoy: ADS, ACK/NACK tracking, live pushes, and the
translated config carrying real traffic (routing, subsets, NC, faults, outbound policy)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace

import pytest

from .envoy_harness import HTTPBIN, App, base_objects, dump_names, proxy_get, vs, wait_for
from .helpers import istio

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


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
    # the upstream connection leaves from the pod's IP (access log: upstream local address)
    wait_for(
        lambda: log.exists() and f"||{HTTPBIN} {proxy.pod.ip}:" in log.read_text(),
        what="pod IP as the upstream local address",
    )

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
    began = time.monotonic()
    assert not mesh.xds.wait_synced([node], 10)
    assert time.monotonic() - began < 5  # a NACK ends the wait, no need for the timeout
    assert mesh.xds.status()[0].state("RDS") == "NACK"
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
    gateway = istio(
        "Gateway",
        "web",
        "backend",
        {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": ["bookinfo.app"],
                }
            ],
        },
    )
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
    wait_for(lambda: " 404 NR " in log.read_text(), what="NR in the gateway's access log")
