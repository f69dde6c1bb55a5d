"""AuthorizationPolicy on real Envoy (Istio's authorization tasks and the seeds' DENY POST
from namespace bar): allow-nothing, ALLOW by service account and method, DENY by source
namespace, header and `when` conditions, DENY over ALLOW, AUDIT, the ingress gateway."""

from __future__ import annotations

import pytest

from istiolab import manifests

pytestmark = pytest.mark.envoy  # the suite's shared local mesh (real Envoys)

HTTPBIN = "http://httpbin.foo:8000"


def ap(name: str, body: str, namespace: str = "foo") -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{body}"
    )


def test_allow_nothing_denies_every_request(clean):
    mesh = clean
    mesh.apply_yaml(ap("allow-nothing", "  {}\n").replace("spec:\n  {}", "spec: {}"))
    r = mesh.curl("foo", HTTPBIN + "/ip")
    assert (r.status, r.text) == (403, "RBAC: access denied")
    assert mesh.code("bar", "http://httpbin.bar:8000/ip") == 200  # other namespaces untouched


def test_allow_get_from_the_sleep_service_account(clean):
    mesh = clean
    mesh.apply(
        manifests.security_preset(
            "allow-service-account",
            namespace="foo",
            app="httpbin",
            service_account="sleep",
            methods=["GET"],
        )
    )
    assert mesh.code("foo", HTTPBIN + "/get") == 200
    assert mesh.code("foo", HTTPBIN + "/post", method="POST", data="a=1") == 403
    assert mesh.code("bar", HTTPBIN + "/get") == 403  # another namespace's sleep
    assert mesh.code("legacy", HTTPBIN + "/get") == 403  # plaintext: no principal at all


def test_seed_deny_post_from_namespace_bar(clean):
    mesh = clean
    mesh.apply_yaml(
        ap(
            "authdenypolicy",
            '  action: DENY\n  rules:\n  - from:\n    - source:\n        namespaces: ["bar"]\n'
            '    to:\n    - operation:\n        methods: ["POST"]\n',
        )
    )
    assert mesh.code("foo", HTTPBIN + "/post", method="POST", data="a=1") == 200
    r = mesh.curl("bar", HTTPBIN + "/post", method="POST", data="a=1")
    assert (r.status, r.text) == (403, "RBAC: access denied")
    assert mesh.code("bar", HTTPBIN + "/get") == 200


def test_paths_headers_and_when_conditions(clean):
    mesh = clean
    mesh.apply_yaml(
        ap(
            "headers",
            "  selector:\n    matchLabels:\n      app: httpbin\n  action: ALLOW\n  rules:\n"
            '  - to:\n    - operation:\n        paths: ["/headers", "/status/*"]\n'
            '    when:\n    - key: request.headers[x-token]\n      values: ["admin"]\n'
            '    - key: source.namespace\n      notValues: ["bar"]\n',
        )
    )
    admin = {"x-token": "admin"}
    assert mesh.code("foo", HTTPBIN + "/headers", headers=admin) == 200
    assert mesh.code("foo", HTTPBIN + "/status/201", headers=admin) == 201
    assert mesh.code("foo", HTTPBIN + "/headers", headers={"x-token": "guest"}) == 403
    assert mesh.code("foo", HTTPBIN + "/ip", headers=admin) == 403
    assert mesh.code("bar", HTTPBIN + "/headers", headers=admin) == 403


def test_deny_wins_over_allow_and_audit_never_blocks(clean):
    mesh = clean
    mesh.apply_yaml(
        ap(
            "allow-all-get",
            '  action: ALLOW\n  rules:\n  - to:\n    - operation:\n        methods: ["GET"]\n',
        )
        + "---\n"
        + ap(
            "deny-ip",
            '  action: DENY\n  rules:\n  - to:\n    - operation:\n        paths: ["/ip"]\n',
        )
        + "---\n"
        + ap("audit-all", "  action: AUDIT\n  rules:\n  - {}\n")
    )
    assert mesh.code("foo", HTTPBIN + "/get") == 200
    assert mesh.code("foo", HTTPBIN + "/ip") == 403
    assert mesh.code("foo", HTTPBIN + "/delete", method="DELETE") == 403


def test_policy_on_the_ingress_gateway(clean):
    mesh = clean
    with mesh.httpbin_gateway() as get:
        assert get("/ip")[0] == 200  # through the gateway, mTLS to httpbin's sidecar
        mesh.apply_yaml(
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
            "metadata:\n  name: default\n  namespace: istio-system\n"
            "spec:\n  mtls:\n    mode: STRICT\n"
        )
        assert get("/ip")[0] == 200  # the gateway is a mesh client: mTLS, so STRICT holds
        mesh.apply_yaml(
            ap(
                "ingress-deny",
                "  selector:\n    matchLabels:\n      istio: ingressgateway\n"
                '  action: DENY\n  rules:\n  - to:\n    - operation:\n        paths: ["/ip"]\n',
                namespace="istio-system",
            )
        )
        assert get("/ip") == (403, "RBAC: access denied")
        assert get("/get")[0] == 200


TCPBIN = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: tcpbin
  namespace: foo
---
apiVersion: v1
kind: Service
metadata:
  name: tcpbin
  namespace: foo
spec:
  selector:
    app: tcpbin
  ports:
  - name: tcp-web
    port: 8000
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: tcpbin
  namespace: foo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: tcpbin
  template:
    metadata:
      labels:
        app: tcpbin
    spec:
      serviceAccountName: tcpbin
      containers:
      - name: httpbin
        image: {image}
        ports:
        - containerPort: 8080
"""


def test_tcp_port_gets_network_rbac_with_istio_tcp_semantics(clean):
    """A TCP port (Service port `tcp-web`), reached from `legacy` (plaintext, as apps reach
    TCP services locally: the sidecar proxies HTTP only): an ALLOW by principal refuses the
    connection (no certificate), by ipBlock lets it in; a DENY rule's HTTP-only fields are
    dropped so it denies every connection (Istio's authorization for TCP traffic task)."""
    from istiolab import versions

    mesh = clean
    url = "http://tcpbin.foo:8000/ip"
    legacy_ip = mesh.pod_in("sleep", "legacy")["ip"]
    mesh.apply_yaml(TCPBIN.format(image=versions.HTTPBIN_IMAGE))
    try:
        assert mesh.code("legacy", url) == 200
        mesh.apply_yaml(
            ap(
                "tcp-allow",
                "  selector:\n    matchLabels:\n      app: tcpbin\n  rules:\n"
                "  - from:\n    - source:\n        principals: [cluster.local/ns/foo/sa/sleep]\n",
            )
        )
        r = mesh.curl("legacy", url)
        assert (r.status, r.error) in ((0, "reset"), (0, "empty")), (r.status, r.error)
        mesh.apply_yaml(
            ap(
                "tcp-allow",
                "  selector:\n    matchLabels:\n      app: tcpbin\n  rules:\n"
                f"  - from:\n    - source:\n        ipBlocks: [{legacy_ip}/32]\n",
            )
        )
        assert mesh.code("legacy", url) == 200
        mesh.apply_yaml(
            ap(
                "tcp-deny-get",
                "  selector:\n    matchLabels:\n      app: tcpbin\n  action: DENY\n  rules:\n"
                "  - to:\n    - operation:\n        methods: [GET]\n        ports: ['8080']\n",
            )
        )
        assert mesh.curl("legacy", url).status == 0
    finally:
        mesh.delete_yaml(TCPBIN.format(image=versions.HTTPBIN_IMAGE))
