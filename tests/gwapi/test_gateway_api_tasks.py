"""The Gateway API variants of Istio's tasks on the local mesh, from YAML written as the
docs write it: ingress (Bookinfo's gateway), request routing, traffic shifting, request
timeouts, mirroring and JWT at the ingress give the outcomes of their Istio-API twins."""

from __future__ import annotations

import http.client
import json
import uuid
from collections import Counter

import pytest
from stats import assert_split

from istiolab import manifests
from istiolab.local.supervisor import wait_until
from istiolab.manifests.gatewayapi import bookinfo_gateway_api, bookinfo_versions

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(180)]

ROUTE_REVIEWS_V1 = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - matches:
    - headers:
      - name: end-user
        value: jason
    backendRefs:
    - name: reviews-v2
      port: 9080
  - backendRefs:
    - name: reviews-v1
      port: 9080
"""

SHIFT_50_50 = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 50
    - name: reviews-v3
      port: 9080
      weight: 50
"""

HTTPBIN_TIMEOUT = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: httpbin
    port: 8000
  rules:
  - backendRefs:
    - name: httpbin
      port: 8000
    timeouts:
      request: 1s
"""

HTTPBIN_MIRROR = """
apiVersion: v1
kind: Service
metadata:
  name: httpbin-v1
spec:
  ports:
  - port: 80
    name: http
    targetPort: 8080
  selector:
    app: httpbin
    version: v1
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin-v2
spec:
  ports:
  - port: 80
    name: http
    targetPort: 8080
  selector:
    app: httpbin
    version: v2
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: httpbin
    port: 8000
  rules:
  - filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: httpbin-v2
          port: 80
    backendRefs:
    - name: httpbin-v1
      port: 80
"""

JWT_AT_GATEWAY = """
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
spec:
  targetRef:
    kind: Gateway
    group: gateway.networking.k8s.io
    name: bookinfo-gateway
  jwtRules:
  - issuer: "{issuer}"
    jwks: '{jwks}'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
spec:
  targetRef:
    kind: Gateway
    group: gateway.networking.k8s.io
    name: bookinfo-gateway
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["*"]
"""


@pytest.fixture(scope="module")
def bookinfo_gw(mesh):
    """Bookinfo's Gateway API gateway and per-version Services; the gateway's address."""
    mesh.apply(bookinfo_versions() + bookinfo_gateway_api())
    gw = json.loads(mesh.ok("get", "gtw", "bookinfo-gateway", "-o", "json"))
    return gw["status"]["addresses"][0]["value"]


def through(address: str, path: str, headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection(address, 8080, timeout=20)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def reviews_pod(response) -> str:
    assert response.status == 200, response.text[:200]
    return response.json()["podname"].rsplit("-", 2)[0]  # reviews-v1-<hash>-<id> -> reviews-v1


def test_bookinfo_gateway_api_ingress_and_status(mesh, bookinfo_gw):
    """`kubectl get gateway bookinfo-gateway`: Programmed with the proxy's address; the
    productpage answers through the Gateway's own proxy, other paths get 404."""
    gw = json.loads(mesh.ok("get", "gtw", "bookinfo-gateway", "-o", "json"))
    conditions = {c["type"]: c for c in gw["status"]["conditions"]}
    assert conditions["Accepted"]["status"] == conditions["Programmed"]["status"] == "True"
    assert gw["status"]["listeners"][0]["attachedRoutes"] == 1
    pod = mesh.pod("bookinfo-gateway-istio")
    assert bookinfo_gw == pod["ip"]
    status, body = through(bookinfo_gw, "/productpage")
    assert status == 200 and "Book Reviews" in body
    assert through(bookinfo_gw, "/nothing-here")[0] == 404
    route = mesh.ok("get", "httproute", "bookinfo", "-o", "yaml")
    assert "reason: Accepted" in route and "All references resolved" in route


def test_request_routing_by_header(clean, bookinfo_gw):
    mesh = clean
    mesh.apply_yaml(ROUTE_REVIEWS_V1)
    send = mesh.sender("productpage-v1")
    for _ in range(5):
        assert reviews_pod(send("http://reviews:9080/reviews/0")) == "reviews-v1"
        jason = send("http://reviews:9080/reviews/0", headers={"end-user": "jason"})
        assert reviews_pod(jason) == "reviews-v2"


def test_traffic_shifting_50_50(clean, bookinfo_gw):
    mesh = clean
    mesh.apply_yaml(SHIFT_50_50)
    send = mesh.sender("productpage-v1")

    def draw(n: int) -> Counter:
        return Counter(reviews_pod(send("http://reviews:9080/reviews/0")) for _ in range(n))

    assert_split(draw, 200, {"reviews-v1": 0.5, "reviews-v3": 0.5})


def test_request_timeout(clean, bookinfo_gw):
    mesh = clean
    mesh.apply_yaml(HTTPBIN_TIMEOUT)
    response = mesh.send("sleep", "http://httpbin:8000/delay/3")
    assert response.status == 504 and response.text == "upstream request timeout"
    assert response.elapsed < 2.5
    assert mesh.send("sleep", "http://httpbin:8000/get").status == 200


def test_mirroring(clean, bookinfo_gw):
    mesh = clean
    mesh.apply(manifests.httpbin(versions=("v1", "v2")))
    mesh.apply_yaml(HTTPBIN_MIRROR)
    tag = uuid.uuid4().hex[:8]
    assert mesh.send("sleep", f"http://httpbin:8000/headers?m={tag}").status == 200
    [shadow] = mesh.wait_log("httpbin-v2", f"m={tag}", "inbound|8080||")
    assert "-shadow" in shadow
    mesh.wait_log("httpbin-v1", f"m={tag}", "inbound|8080||")


def test_jwt_at_the_gateway_by_target_ref(clean, bookinfo_gw):
    mesh = clean
    jwks = mesh.ok("jwt", "jwks").strip()
    token = mesh.ok("jwt", "issue").strip()
    payload = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    mesh.apply_yaml(JWT_AT_GATEWAY.format(issuer=payload["iss"], jwks=jwks))

    def code(headers=None) -> int:
        return through(bookinfo_gw, "/productpage", headers)[0]

    wait_until(lambda: code() == 403, 15, f"403 without a token (last {code()})")
    assert code({"Authorization": "Bearer bad"}) == 401
    assert code({"Authorization": f"Bearer {token}"}) == 200
    # the default ingress gateway and the sidecars are not targeted
    assert mesh.send("sleep", "http://productpage:9080/productpage").status == 200


def test_broken_backend_reports_status_and_answers_500(clean, bookinfo_gw):
    mesh = clean
    mesh.apply_yaml(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: broken\n"
        "spec:\n  parentRefs:\n  - name: bookinfo-gateway\n  hostnames: [broken.example]\n"
        "  rules:\n  - backendRefs:\n    - name: nope\n      port: 80\n"
    )
    out = mesh.ok("get", "httproute", "broken", "-o", "yaml")
    assert "reason: BackendNotFound" in out
    assert "backend(nope.default.svc.cluster.local) not found" in out
    assert through(bookinfo_gw, "/", {"Host": "broken.example"})[0] == 500
