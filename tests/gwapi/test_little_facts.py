"""The docs' little facts on the local mesh: istiod's `istio` ConfigMap holds the mesh
config (editing outboundTrafficPolicy there takes effect), go-httpbin's teapot, httpbin's
own access lines in its log (the mirroring task reads them), `apply -n NAMESPACE`."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
import yaml

from istiolab.local.supervisor import wait_until

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def test_istio_configmap_holds_the_mesh_config_and_edits_take_effect(clean):
    mesh = clean
    out = mesh.ok("get", "configmap", "istio", "-n", "istio-system", "-o", "yaml")
    assert "mode: ALLOW_ANY" in out
    cm = yaml.safe_load(out)
    assert mesh.send("sleep", "http://unknown.example:8000/").status != 502  # passthrough
    try:
        cm["data"]["mesh"] = cm["data"]["mesh"].replace("ALLOW_ANY", "REGISTRY_ONLY")
        mesh.apply([cm])
        assert mesh.send("sleep", "http://unknown.example:8000/").status == 502
    finally:
        cm["data"]["mesh"] = cm["data"]["mesh"].replace("REGISTRY_ONLY", "ALLOW_ANY")
        mesh.apply([cm])


def test_go_httpbin_teapot(mesh):
    response = mesh.send("sleep", "http://httpbin:8000/status/418")
    assert response.status == 418
    assert response.text == "I'm a teapot!"
    assert response.headers["x-more-info"] == "http://tools.ietf.org/html/rfc2324"


def test_httpbin_logs_each_request_it_serves(mesh):
    tag = uuid.uuid4().hex[:8]
    assert mesh.send("sleep", f"http://httpbin:8000/headers?t={tag}").status == 200
    # whichever httpbin pod served it (v2 may run too) wrote the line
    logs = [mesh.state.logs / f"{p.namespace}.{p.name}.log" for p in mesh.pods(app="httpbin")]

    def lines() -> list[str]:
        return [x for log in logs if log.exists() for x in log.read_text().splitlines() if tag in x]

    wait_until(lambda: bool(lines()), 10, "httpbin's access line")
    [line] = lines()
    assert f'"GET /headers?t={tag} HTTP/1.1" 200 ' in line, line
    assert line.endswith('"-" "curl/8.16.0"'), line


def test_apply_namespace_flag(clean):
    mesh = clean
    vs = (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ns-flag\n"
        "spec:\n  hosts: [httpbin]\n  http:\n  - route:\n    - destination:\n"
        "        host: httpbin\n"
    )
    out = mesh.ok("apply", "-n", "default", "-f", "-", stdin=vs)
    assert "virtualservice.networking.istio.io/ns-flag created" in out
    other = vs.replace("name: ns-flag\n", "name: ns-flag\n  namespace: default\n")
    code, _, err = mesh.cli("apply", "-n", "istio-system", "-f", "-", stdin=other)
    assert code == 1
    assert 'the namespace from the provided object "default" does not match the namespace ' in err


def test_a_sidecars_responses_carry_its_inbound_decorator_operation(mesh):
    # Istio's inbound route operation is <service FQDN>:<service port>/*. The server's sidecar
    # (an ingress HCM) returns it for the caller's span; a calling sidecar (egress) reads and
    # drops it, so a client outside the mesh sees it: plain HTTP to the pod's sidecar
    [pod] = [p for p in mesh.pods(app="httpbin") if p.labels.get("version") == "v1"]
    with urllib.request.urlopen(f"http://{pod.ip}:8080/get", timeout=10) as response:
        assert response.status == 200
        operation = response.headers.get("x-envoy-decorator-operation")
    assert operation == "httpbin.default.svc.cluster.local:8000/*"
    # through a sidecar the caller's Envoy takes it off, as Istio's do
    response = mesh.send("sleep", "http://httpbin:8000/get")
    assert response.status == 200 and "x-envoy-decorator-operation" not in response.headers
