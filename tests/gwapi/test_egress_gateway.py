"""Istio's egress-gateway task on the local mesh: istio-egressgateway (istio-system, as the
demo profile installs it), a Gateway on it, a VirtualService sending mesh traffic to it and
from it to the external host, a DestinationRule; the egress gateway's access log shows the
request. Then TLS origination at the egress gateway (DestinationRule ``tls: SIMPLE``). The
external sites are servers on loopback outside the mesh (no port 80/443 for a user, so the
external ports are the servers' own; everything else is as the task writes it)."""

from __future__ import annotations

import pytest
from resilience.harness import ExternalServer

from istiolab.manifests.extra_samples import egress_gateway

from .conftest import OCTET
from .tlsserver import HttpsServer, issue

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(180)]

EGRESS_HTTP = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
spec:
  hosts:
  - edition.example
  ports:
  - number: {port}
    name: http-port
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: {address}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - edition.example
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
spec:
  hosts:
  - edition.example
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: {port}
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port:
          number: 80
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway
      port: 80
    route:
    - destination:
        host: edition.example
        port:
          number: {target_port}
      weight: 100
"""

# the task's second part: one ServiceEntry with both ports, the egress gateway routes
# port 80 to the site's HTTPS port, where a DestinationRule originates TLS
ORIGINATE_TLS = (
    EGRESS_HTTP.replace("edition.example", "secure.example").replace(
        "    protocol: HTTP\n  resolution",
        "    protocol: HTTP\n  - number: {tls_port}\n"
        "    name: https-port\n    protocol: HTTPS\n  resolution",
    )
    + """---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: originate-tls-for-edition-cnn-com
spec:
  host: secure.example
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    portLevelSettings:
    - port:
        number: {tls_port}
      tls:
        mode: SIMPLE
        caCertificates: {ca}
"""
)


@pytest.fixture(scope="module")
def egress(mesh):
    mesh.apply(egress_gateway())
    return mesh


@pytest.fixture
def site():
    server = ExternalServer(host=f"127.{OCTET}.250.21", label="edition")
    yield server
    server.stop()


def test_http_through_the_egress_gateway(clean, egress, site):
    mesh = clean
    address, port = site.address
    mesh.apply_yaml(EGRESS_HTTP.format(port=port, address=address, target_port=port))
    response = mesh.send("sleep", f"http://edition.example:{port}/politics")
    assert response.status == 200, response
    assert response.json()["server"] == "edition"
    [line] = mesh.wait_log("istio-egressgateway.istio-system", '"GET /politics ')
    assert f"outbound|{port}||edition.example" in line
    [line] = mesh.wait_log("sleep", '"GET /politics ')
    assert "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local" in line


def test_tls_origination_at_the_egress_gateway(clean, egress, site, tmp_path):
    mesh = clean
    ca, cert, key = issue(tmp_path, "secure.example")
    tls_site = HttpsServer(f"127.{OCTET}.250.31", cert, key)
    try:
        http_port = site.address[1]
        mesh.apply_yaml(
            ORIGINATE_TLS.format(
                port=http_port,
                address=tls_site.server_address[0],
                target_port=tls_site.port,
                tls_port=tls_site.port,
                ca=ca,
            )
        )
        # the pod speaks plain HTTP; the egress gateway originates TLS to the site
        response = mesh.send("sleep", f"http://secure.example:{http_port}/tls-politics")
        assert response.status == 200, response
        assert response.json() == {"path": "/tls-politics", "tls": True}
        assert tls_site.hits == [("/tls-politics", f"secure.example:{http_port}")]
        [line] = mesh.wait_log("istio-egressgateway.istio-system", '"GET /tls-politics ')
        assert f"outbound|{tls_site.port}||secure.example" in line
    finally:
        tls_site.stop()
