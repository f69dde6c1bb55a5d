"""jwksUri as istiod handles it: the control plane fetches the key set from a local HTTPS
JWKS server and inlines it (valid token 200, bad token 401); when the fetch fails, requests
with a token are rejected (401), requests without one pass, and analyze/status report it."""

from __future__ import annotations

import json

import pytest

from .conftest import JWKS_HOST
from .tlsserver import HttpsServer

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

RA = """
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: httpbin-jwt
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: {uri}
"""


def test_jwks_uri_fetched_by_the_control_plane(clean, jwks_ca):
    mesh = clean
    _, cert, key = jwks_ca
    server = HttpsServer(JWKS_HOST, cert, key, payload=mesh.ok("jwt", "jwks").strip().encode())
    try:
        mesh.apply_yaml(RA.format(uri=f"https://{JWKS_HOST}:{server.port}/jwks.json"))
    finally:
        server.stop()  # inlined: the key set keeps working without the server
    token = mesh.ok("jwt", "issue").strip()
    url = "http://httpbin:8000/headers"
    assert mesh.send("sleep", url, headers={"Authorization": f"Bearer {token}"}).status == 200
    assert mesh.send("sleep", url, headers={"Authorization": "Bearer bad"}).status == 401
    assert mesh.send("sleep", url).status == 200
    status = json.loads(mesh.ok("status", "-o", "json"))
    assert not [f for f in status["findings"] if "ISTL0103" in f]


def test_unreachable_jwks_uri_rejects_tokens_and_is_reported(clean):
    mesh = clean
    uri = f"https://{JWKS_HOST}:9/jwks.json"  # nothing listens there
    mesh.apply_yaml(RA.format(uri=uri))
    token = mesh.ok("jwt", "issue").strip()
    url = "http://httpbin:8000/headers"
    response = mesh.send("sleep", url, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401, response.text
    assert mesh.send("sleep", url).status == 200
    code, out, _ = mesh.cli("analyze")
    assert code == 1
    assert (
        f"Error [ISTL0103] (RequestAuthentication default/httpbin-jwt) the control plane "
        f"could not fetch jwksUri {uri}: " in out
    ), out
    status = json.loads(mesh.ok("status", "-o", "json"))
    assert any("ISTL0103" in f for f in status["findings"])
