"""Config Envoy would reject never reaches the store (issue 10 item 3): refused at apply
with every finding named, and a push Envoy NACKs anyway is rolled back."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.envoy

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: httpbin, namespace: foo}}
spec:
  hosts: [httpbin]
  http:
  - {extra}
    route:
    - destination: {{host: httpbin}}
"""
REFUSED = [
    (VS.format(extra='match: [{uri: {regex: "("}}]'), "is not a valid RE2 regular expression"),
    (VS.format(extra='match: [{uri: {regex: "a(?=b)"}}]'), "is not a valid RE2 regular"),
    (
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
        "metadata: {name: jwt, namespace: foo}\n"
        "spec: {jwtRules: [{issuer: me, jwks: 'not json'}]}\n",
        "spec.jwtRules[0].jwks: is not JSON",
    ),
    (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: foo}\n"
        "spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 15001}]}\n",
        "15001 is a port the Istio sidecar uses",
    ),
    (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: foo}\ndata: {k: '!!'}\n",
        "data.k: is not base64",
    ),
    (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n",
        'namespace "nowhere" not found',
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=lambda v: str(v)[:30])
def test_refused_at_apply_and_never_stored(mesh, text, message):
    code, out, err = mesh.cli("apply", "-f", "-", stdin=text)
    assert code == 1, out
    assert message in err
    assert "Traceback" not in err
    assert mesh.cli("get", "virtualservice", "httpbin", "-n", "foo")[0] != 0


def test_every_finding_is_listed(mesh):
    text = REFUSED[0][0] + "---\n" + REFUSED[2][0] + "---\n" + REFUSED[4][0]
    code, _, err = mesh.cli("apply", "-f", "-", stdin=text)
    assert code == 1
    for _, message in (REFUSED[0], REFUSED[2], REFUSED[4]):
        assert message in err


def test_a_nacked_push_is_rolled_back_and_named(mesh):
    # Envoy refuses to modify ':'-prefixed headers: translation and schema let it through
    bad = VS.format(extra='headers: {request: {set: {":path": "/x"}}}')
    code, _, err = mesh.cli("apply", "-f", "-", stdin=bad)
    assert code == 1
    assert "rolled back" in err
    assert re.search(r"(httpbin-v1|sleep)-\S+\.foo: RDS NACK", err), err
    assert "may not be modified" in err  # Envoy's own reason
    assert mesh.cli("get", "virtualservice", "httpbin", "-n", "foo")[0] != 0
    status = json.loads(mesh.ok("proxy-status", "-o", "json"))
    assert all(p["status"] and p["status"]["synced"] for p in status["proxies"]), status
    assert mesh.code("foo", "http://httpbin.foo:8000/get") == 200
