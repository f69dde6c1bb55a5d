"""TCP and TLS on the local mesh: Istio's TCP traffic-shifting task (tcp-echo v1 "one",
v2 "two"; 100 % v1, then 80/20 within tolerance) from a sidecar and through the ingress
gateway, its Gateway API twin (TCPRoute), and HTTPS from pods (the egress task's
`curl https://` steps: ServiceEntry, ALLOW_ANY, REGISTRY_ONLY -> curl exit 35)."""

from __future__ import annotations

import json
import socket
from collections import Counter

import pytest
from resilience.test_egress import mesh_config
from stats import assert_split

from .conftest import OCTET
from .tlsserver import HttpsServer, issue

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(180)]

DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: tcp-echo-destination
spec:
  host: tcp-echo
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
"""

GATEWAY_AND_VS = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: tcp-echo-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 31400
      name: tcp
      protocol: TCP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: tcp-echo
spec:
  hosts:
  - "*"
  gateways:
  - tcp-echo-gateway
  tcp:
  - match:
    - port: 31400
    route:
    - destination:
        host: tcp-echo
        port:
          number: 9000
        subset: v1
      weight: {v1}
    - destination:
        host: tcp-echo
        port:
          number: 9000
        subset: v2
      weight: {v2}
"""

MESH_VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: tcp-echo-mesh
spec:
  hosts:
  - tcp-echo
  tcp:
  - match:
    - port: 9000
    route:
    - destination:
        host: tcp-echo
        subset: v1
      weight: {v1}
    - destination:
        host: tcp-echo
        subset: v2
      weight: {v2}
"""

TCP_ROUTE = """
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-v1
spec:
  ports:
  - port: 9000
    name: tcp
  selector:
    app: tcp-echo
    version: v1
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-v2
spec:
  ports:
  - port: 9000
    name: tcp
  selector:
    app: tcp-echo
    version: v2
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-echo-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: tcp-31400
    protocol: TCP
    port: 31400
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-echo
spec:
  parentRefs:
  - name: tcp-echo-gateway
    sectionName: tcp-31400
  rules:
  - backendRefs:
    - name: tcp-echo-v1
      port: 9000
      weight: 80
    - name: tcp-echo-v2
      port: 9000
      weight: 20
"""


@pytest.fixture(scope="module")
def echo(mesh):
    # as a user adds samples to a running mesh: `istiolab up --samples tcp-echo,helloworld`
    out = mesh.ok("up", "--samples", "tcp-echo,helloworld")
    assert "applied samples: tcp-echo,helloworld" in out, out
    return mesh


def nc(address: str, port: int, line: str = "world") -> str:
    with socket.create_connection((address, port), timeout=10) as sock:
        sock.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


def prefixes(replies) -> Counter:
    return Counter(r.split(" ", 1)[0] for r in replies)


def from_sleep(mesh, url: str, count: int) -> list[str]:
    out = json.loads(
        mesh.ok(
            "request", "--from", "sleep", url, "--count", str(count), "-o", "json", "-d", "world"
        )
    )
    assert not any(out["errors"]), out
    return out["replies"]


def test_tcp_echo_without_routing_reaches_both_versions(clean, echo):
    replies = from_sleep(echo, "tcp://tcp-echo:9000", 30)
    assert set(prefixes(replies)) == {"one", "two"}
    assert all(r.endswith(" world") for r in replies)
    assert from_sleep(echo, "tcp://tcp-echo:9001", 1)[0].endswith(" world")  # tcp-other


def test_helloworld_sample_answers_per_version(echo):
    versions = set()
    for _ in range(20):
        response = echo.send("sleep", "http://helloworld:5000/hello")
        assert response.status == 200, response
        assert response.text.startswith("Hello version: v"), response.text
        versions.add(response.text.split(",")[0].removeprefix("Hello version: "))
        if versions == {"v1", "v2"}:
            break
    assert versions == {"v1", "v2"}  # 20 round-robin requests reach both


def test_tcp_traffic_shifting_from_the_mesh(clean, echo):
    mesh = clean
    mesh.apply_yaml(DR + "---" + MESH_VS.format(v1=100, v2=0))
    assert prefixes(from_sleep(mesh, "tcp://tcp-echo:9000", 20)) == {"one": 20}
    mesh.apply_yaml(MESH_VS.format(v1=80, v2=20))
    assert_split(
        lambda n: prefixes(from_sleep(mesh, "tcp://tcp-echo:9000", n)),
        200,
        {"one": 0.8, "two": 0.2},
    )


def test_tcp_traffic_shifting_through_the_ingress_gateway(clean, echo):
    mesh = clean
    gateway = f"127.{OCTET}.0.3"
    mesh.apply_yaml(DR + "---" + GATEWAY_AND_VS.format(v1=100, v2=0))
    assert {nc(gateway, 31400).split()[0] for _ in range(10)} == {"one"}
    mesh.apply_yaml(GATEWAY_AND_VS.format(v1=80, v2=20))
    assert_split(
        lambda n: prefixes(nc(gateway, 31400) for _ in range(n)), 200, {"one": 0.8, "two": 0.2}
    )
    stats = mesh.stats(
        "istio-ingressgateway.istio-system", "outbound\\|9000\\|v[12]\\|tcp-echo.*upstream_cx_total"
    )
    assert sum(stats.values()) >= 210, stats


def test_tcp_route_gateway_api(clean, echo):
    mesh = clean
    mesh.apply_yaml(TCP_ROUTE)
    gw = json.loads(mesh.ok("get", "gtw", "tcp-echo-gateway", "-o", "json"))
    address = gw["status"]["addresses"][0]["value"]
    route = json.loads(mesh.ok("get", "tcproute", "tcp-echo", "-o", "json"))
    assert route["status"]["parents"][0]["conditions"][0]["reason"] == "Accepted"
    assert_split(
        lambda n: prefixes(nc(address, 31400) for _ in range(n)), 200, {"one": 0.8, "two": 0.2}
    )


@pytest.fixture
def https_site(tmp_path):
    ca, cert, key = issue(tmp_path, "secure.example")
    server = HttpsServer(f"127.{OCTET}.250.30", cert, key)
    yield server, ca
    server.stop()


SERVICE_ENTRY = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: secure-example
spec:
  hosts:
  - secure.example
  ports:
  - number: {port}
    name: https
    protocol: TLS
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: {address}
"""

REGISTRY_ONLY = mesh_config("REGISTRY_ONLY")  # the istio ConfigMap as the egress task edits it


def test_https_from_a_pod_with_a_service_entry(clean, https_site):
    mesh = clean
    server, ca = https_site
    mesh.apply_yaml(SERVICE_ENTRY.format(port=server.port, address=server.server_address[0]))
    url = f"https://secure.example:{server.port}/headers"
    out = mesh.ok("request", "--from", "sleep", url, "--cacert", str(ca))
    assert out.strip() == "200"
    assert server.hits[-1] == ("/headers", f"secure.example:{server.port}")
    # without the CA the certificate cannot be verified (curl exit 60); -k accepts it
    code, _, err = mesh.cli("request", "--from", "sleep", url)
    assert code == 60 and "curl: (60)" in err
    assert mesh.ok("request", "--from", "sleep", url, "-k").strip() == "200"
    stats = mesh.stats("sleep", f"outbound\\|{server.port}\\|\\|secure.example.upstream_cx_total")
    assert sum(stats.values()) >= 3, stats


def test_https_allow_any_then_registry_only(clean, https_site):
    mesh = clean
    server, _ = https_site
    host, port = server.server_address[:2]
    url = f"https://secure.example:{port}/get"
    resolve = f"secure.example:{port}:{host}"
    # ALLOW_ANY: an unregistered host passes the sidecar (PassthroughCluster)
    out = mesh.ok("request", "--from", "sleep", f"https://{host}:{port}/get", "-k")
    assert out.strip() == "200"
    try:
        mesh.apply_yaml(REGISTRY_ONLY)
        code, _, err = mesh.cli("request", "--from", "sleep", f"https://{host}:{port}/get", "-k")
        assert code == 35 and "curl: (35)" in err
        # --resolve names the address; the sidecar still sees an unregistered destination
        code, _, _ = mesh.cli("request", "--from", "sleep", url, "--resolve", resolve, "-k")
        assert code == 35
    finally:
        mesh.ok("delete", "configmap", "istio", "-n", "istio-system")
    out = mesh.ok("request", "--from", "sleep", url, "--resolve", resolve, "-k")
    assert out.strip() == "200"
