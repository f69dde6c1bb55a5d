"""What the local mesh cannot enforce is refused at apply time with the field and the way
out, and nothing of the batch is applied."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.envoy  # the suite's shared local mesh (real Envoys)

CUSTOM = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: foo
spec:
  action: CUSTOM
  provider:
    name: my-ext-authz
  rules:
  - to:
    - operation:
        paths: ["/headers"]
"""
UNKNOWN_KEY = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: odd-key
  namespace: foo
spec:
  rules:
  - when:
    - key: request.regex.headers[x]
      values: ["a"]
"""
BAD_CACERTS = """apiVersion: v1
kind: Secret
metadata:
  name: cacerts
  namespace: istio-system
stringData:
  ca-cert.pem: not a certificate
"""
ALLOW_NOTHING = """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: foo
spec: {}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            CUSTOM,
            "document 0 (AuthorizationPolicy/ext-authz): spec.action: CUSTOM is not supported "
            "locally (it needs an external authorizer declared in "
            "meshConfig.extensionProviders) (use ALLOW, DENY or AUDIT)",
        ),
        (
            UNKNOWN_KEY,
            "document 0 (AuthorizationPolicy/odd-key): spec.rules[0].when[0].key: "
            "'request.regex.headers[x]' is not a condition key the local mesh supports",
        ),
        (
            BAD_CACERTS,
            "document 0 (Secret/cacerts): data: Secret cacerts (namespace istio-system) lacks "
            "ca-key.pem, root-cert.pem, cert-chain.pem: a plug-in CA needs ca-cert.pem, "
            "ca-key.pem, root-cert.pem, cert-chain.pem",
        ),
    ],
    ids=["custom", "condition-key", "cacerts"],
)
def test_refused_with_a_clear_message_and_nothing_applied(mesh, text, expected):
    code, out, err = mesh.cli("apply", "-f", "-", stdin=text + ALLOW_NOTHING)
    assert code == 1, out
    assert expected in err, err
    # the valid document of the same batch was not applied either
    assert mesh.code("foo", "http://httpbin.foo:8000/ip") == 200
    code, out, _ = mesh.cli("get", "AuthorizationPolicy", "-n", "foo", "-o", "json")
    assert "allow-nothing" not in out
