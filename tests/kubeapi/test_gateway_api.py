"""The Gateway API through kubectl: Bookinfo's ingress as the Istio docs write it (a Gateway of
class ``istio`` and an HTTPRoute) applied with ``kubectl apply -f``, ``kubectl get gtw``,
``kubectl wait --for=condition=Programmed`` (a watch), the routes' status, traffic through
the Gateway's own proxy, the Istio Gateway of the same name untouched beside it, ``kubectl delete``;
and ``KubeBackend.gateway_url()`` against the mesh's API."""

from __future__ import annotations

import http.client

import pytest
import yaml

from istiolab.local.supervisor import wait_until

from .conftest import OCTET

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(180)]

BOOKINFO_GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bookinfo
spec:
  parentRefs:
  - name: bookinfo-gateway
  rules:
  - matches:
    - path:
        type: Exact
        value: /productpage
    - path:
        type: PathPrefix
        value: /static
    - path:
        type: Exact
        value: /login
    - path:
        type: Exact
        value: /logout
    - path:
        type: PathPrefix
        value: /api/v1/products
    backendRefs:
    - name: productpage
      port: 9080
"""


def _get(address: str, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(address, 8080, timeout=20)  # port 80's target port
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def test_discovery_serves_the_gateway_api(kube):
    out = kube.sh("kubectl api-resources --api-group=gateway.networking.k8s.io -o wide")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == {
        "gatewayclasses",
        "gateways",
        "grpcroutes",
        "httproutes",
        "referencegrants",
        "tcproutes",
        "tlsroutes",
    }
    assert rows["gateways"][1:4] == ["gtw", "gateway.networking.k8s.io/v1", "true"]
    assert rows["gatewayclasses"][3] == "false"  # cluster-scoped
    versions = kube.sh("kubectl api-versions").split()
    assert {f"gateway.networking.k8s.io/{v}" for v in ("v1", "v1beta1", "v1alpha2")} <= set(
        versions
    )


def test_bookinfo_gateway_api_through_kubectl(kube, tmp_path):
    gwapi = tmp_path / "bookinfo-gateway.yaml"
    gwapi.write_text(BOOKINFO_GATEWAY)
    istio_before = kube.sh("kubectl get gateways.networking.istio.io bookinfo-gateway -o yaml")
    watch = kube.popen("get", "gtw", "--watch-only", "-o", "name")
    try:
        assert kube.sh(f"kubectl apply -f {gwapi}").splitlines() == [
            "gateway.gateway.networking.k8s.io/bookinfo-gateway created",
            "httproute.gateway.networking.k8s.io/bookinfo created",
        ]
        # the watch hears of the Gateway API Gateway (its line comes once it is added)
        assert watch.stdout.readline().strip() == (
            "gateway.gateway.networking.k8s.io/bookinfo-gateway"
        )
    finally:
        watch.terminate()
        watch.communicate(timeout=10)
    try:
        # each Gateway kind sees only its own, though both are named bookinfo-gateway (the
        # Istio one is the mesh's, from `istiolab up`)
        istio_gw = yaml.safe_load(kube.sh("kubectl get gateways.networking.istio.io -o yaml"))
        assert [(o["apiVersion"], o["metadata"]["name"]) for o in istio_gw["items"]] == [
            ("networking.istio.io/v1", "bookinfo-gateway")
        ]
        assert "servers" in istio_gw["items"][0]["spec"]
        k8s_gw = yaml.safe_load(kube.sh("kubectl get gateways.gateway.networking.k8s.io -o yaml"))
        assert [(o["apiVersion"], o["metadata"]["name"]) for o in k8s_gw["items"]] == [
            ("gateway.networking.k8s.io/v1", "bookinfo-gateway")
        ]
        # a watch: kubectl waits for the proxy's address
        kube.sh("kubectl wait --for=condition=Programmed gtw/bookinfo-gateway --timeout=90s")
        table = kube.sh("kubectl get gtw").splitlines()
        assert table[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
        name, klass, address, programmed, _ = table[1].split()
        assert (name, klass, programmed) == ("bookinfo-gateway", "istio", "True")
        assert kube.sh("kubectl get httproute").split()[:3] == ["NAME", "HOSTNAMES", "AGE"]
        route = yaml.safe_load(kube.sh("kubectl get httproute -o yaml"))["items"][0]
        parent = route["status"]["parents"][0]
        assert parent["parentRef"]["name"] == "bookinfo-gateway"
        assert parent["controllerName"] == "istio.io/gateway-controller"
        conditions = {c["type"]: c["status"] for c in parent["conditions"]}
        assert conditions == {"Accepted": "True", "ResolvedRefs": "True"}
        # traffic through the Gateway's own proxy (bookinfo-gateway-istio), not the Istio one
        assert (
            kube.sh(
                "kubectl get pod -l gateway.networking.k8s.io/gateway-name=bookinfo-gateway "
                "-o jsonpath={.items[0].status.podIP}"
            )
            == address
        )
        pages: list[tuple[int, str]] = []

        def served() -> bool:
            try:
                pages.append(_get(address, "/productpage"))
            except OSError:  # the proxy's listener not bound yet
                return False
            return pages[-1][0] == 200

        wait_until(
            served,
            timeout=60,
            what="productpage through the Gateway API gateway",
        )
        assert "<title>Simple Bookstore App</title>" in pages[-1][1]
        assert _get(address, "/ratings")[0] == 404  # not a route of the HTTPRoute
        # a merge patch of a Gateway API kind, the status kept server-side
        kube.sh("kubectl label httproute bookinfo lab=kubegw")
        labelled = yaml.safe_load(kube.sh("kubectl get httproute bookinfo -o yaml"))
        assert labelled["metadata"]["labels"] == {"lab": "kubegw"}
        assert labelled["status"]["parents"][0]["conditions"][0]["status"] == "True"
        assert kube.sh(f"kubectl apply --server-side -f {gwapi}").splitlines() == [
            "gateway.gateway.networking.k8s.io/bookinfo-gateway serverside-applied",
            "httproute.gateway.networking.k8s.io/bookinfo serverside-applied",
        ]
    finally:
        deleted = kube.kubectl("delete", "-f", str(gwapi))
    assert deleted.stdout.splitlines() == [
        'gateway.gateway.networking.k8s.io "bookinfo-gateway" deleted',
        'httproute.gateway.networking.k8s.io "bookinfo" deleted',
    ], deleted.stderr
    assert "No resources found" in kube.kubectl("get", "gtw").stderr
    istio_after = kube.sh("kubectl get gateways.networking.istio.io bookinfo-gateway -o yaml")
    assert istio_after == istio_before


def test_kube_backend_gateway_url(kube):
    """The ingress gateway's address as a cluster's client reads it (the docs' INGRESS_HOST
    and INGRESS_PORT): the load balancer IP and the ``http2`` port of
    ``istio-system/istio-ingressgateway``, where Bookinfo's Istio gateway answers."""
    from istiolab.backends.kube import KubeBackend
    from istiolab.local.kubeapi import CONTEXT

    backend = KubeBackend(CONTEXT, kubeconfig=str(kube.kubeconfig))
    host = f"127.{OCTET}.0.3"
    assert backend.gateway_url() == kube.backend.gateway_url() == f"http://{host}:8080"
    assert backend.gateway_https_url() == f"https://{host}:8443"
    got = backend.gateway_request("/productpage")
    assert got.status == 200 and got.headers["server"] == "istio-envoy"
    assert "<title>Simple Bookstore App</title>" in got.text


def test_invalid_route_is_refused_in_the_api_servers_words(kube):
    bad = BOOKINFO_GATEWAY.split("---")[1].replace("backendRefs:", "backendRefz:")
    proc = kube.kubectl("apply", "-f", "-", stdin=bad)
    assert proc.returncode == 1
    assert 'unknown field "spec.rules[0].backendRefz" (did you mean backendRefs?)' in proc.stderr
    assert "No resources found" in kube.kubectl("get", "httproutes").stderr


def test_kube_backend_keeps_the_two_gateway_kinds_apart(kube):
    """KubeBackend (the official client) writes, reads and deletes a Gateway API Gateway as
    such, beside the mesh's Istio Gateway of the same name."""
    from istiolab.backends.kube import KubeBackend
    from istiolab.local.kubeapi import CONTEXT
    from istiolab.manifests.gatewayapi import gateway
    from istiolab.manifests.kinds import GATEWAY_API_GATEWAY

    backend = KubeBackend(CONTEXT, kubeconfig=str(kube.kubeconfig))
    applied = backend.apply([gateway("bookinfo-gateway")])
    try:
        assert list(applied.lines) == ["gateway.gateway.networking.k8s.io/bookinfo-gateway created"]
        ours = backend.get("gtw", "bookinfo-gateway")
        assert [o["spec"]["gatewayClassName"] for o in ours] == ["istio"]
        istios = backend.get("gateways.networking.istio.io", "bookinfo-gateway")
        assert "servers" in istios[0]["spec"]
        kinds = [(o["apiVersion"].split("/")[0], o["kind"]) for o in backend.objects()]
        assert kinds.count(("gateway.networking.k8s.io", "Gateway")) == 1
        assert kinds.count(("networking.istio.io", "Gateway")) == 1
    finally:
        gone = backend.delete([(GATEWAY_API_GATEWAY, "bookinfo-gateway", "default")])
    assert "gateway.networking.istio.io" not in " ".join(gone.lines)
    assert backend.get("gateways.networking.istio.io", "bookinfo-gateway")
