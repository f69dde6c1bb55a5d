"""RequestAuthentication with tokens from `istiolab jwt issue` (Istio's end-user
authentication task): valid 200, invalid 401, missing 200 until an ALLOW policy asks for
a request principal, claims in `when`, outputPayloadToHeader, jwksUri on loopback."""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest

from istiolab import manifests

pytestmark = pytest.mark.envoy  # the suite's shared local mesh (real Envoys)

HTTPBIN = "http://httpbin.foo:8000"


@pytest.fixture(scope="module")
def jwks(mesh) -> str:
    return mesh.ok("jwt", "jwks").strip()


def token(mesh, *args: str) -> str:
    return mesh.ok("jwt", "issue", *args).strip()


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def request_auth(mesh, jwks: str, *, require: bool = False, namespace="foo", selector=None) -> None:
    """The request-authentication preset (default: foo's httpbin) with these `jwks`."""
    mesh.apply(
        manifests.security_preset(
            "request-authentication",
            namespace=namespace,
            jwks=jwks,
            selector=selector or {"app": "httpbin"},
            require=require,
        )
    )


def test_valid_invalid_and_missing_tokens(clean, jwks):
    mesh = clean
    request_auth(mesh, jwks)
    good = token(mesh)
    assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer(good)) == 200
    r = mesh.curl("foo", HTTPBIN + "/headers", headers=bearer("not-a-token"))
    assert r.status == 401, r.text
    assert r.text.startswith("Jwt") or "Jwt" in r.text
    expired = token(mesh, "--exp", "-600")  # Envoy allows 60 s of clock skew
    r = mesh.curl("foo", HTTPBIN + "/headers", headers=bearer(expired))
    assert (r.status, r.text) == (401, "Jwt is expired")
    # a token signed by another key: the signature does not verify
    signature = base64.urlsafe_b64encode(b"x" * 256).decode().rstrip("=")
    forged = good.rsplit(".", 1)[0] + "." + signature
    r = mesh.curl("foo", HTTPBIN + "/headers", headers=bearer(forged))
    assert (r.status, r.text) == (401, "Jwt verification fails")
    # no token: allowed (RequestAuthentication alone does not require one)
    assert mesh.code("foo", HTTPBIN + "/headers") == 200


def test_request_principal_required_by_an_allow_policy(clean, jwks):
    mesh = clean
    request_auth(mesh, jwks, require=True)
    r = mesh.curl("foo", HTTPBIN + "/headers")
    assert (r.status, r.text) == (403, "RBAC: access denied")
    assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer(token(mesh))) == 200


def test_claims_condition_and_principal_value(clean, jwks):
    mesh = clean
    request_auth(mesh, jwks)
    policy = (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata:\n  name: group1\n  namespace: foo\nspec:\n"
        "  selector:\n    matchLabels:\n      app: httpbin\n  action: ALLOW\n  rules:\n"
        "  - from:\n    - source:\n        requestPrincipals:\n"
        "        - testing@secure.istio.io/testing@secure.istio.io\n"
        '    when:\n    - key: request.auth.claims[groups]\n      values: ["group1"]\n'
    )
    mesh.ok("apply", "-f", "-", stdin=policy)
    in_group = token(mesh, "--groups", "group1,group2")
    other_group = token(mesh, "--groups", "group2")
    other_sub = token(mesh, "--sub", "someone-else", "--groups", "group1")
    assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer(in_group)) == 200
    assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer(other_group)) == 403
    assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer(other_sub)) == 403


def test_output_payload_to_header_and_jwks_uri_on_loopback(clean, jwks):
    mesh = clean
    host = mesh.pod_in("sleep", "legacy")["ip"].rsplit(".", 2)[0] + ".250.77"
    body = jwks.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        ra = (
            "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
            "metadata:\n  name: jwt-uri\n  namespace: foo\nspec:\n"
            "  selector:\n    matchLabels:\n      app: httpbin\n  jwtRules:\n"
            "  - issuer: testing@secure.istio.io\n"
            f"    jwksUri: http://{host}:{port}/jwks.json\n"
            "    outputPayloadToHeader: x-jwt-payload\n"
        )
        mesh.ok("apply", "-f", "-", stdin=ra)
        r = mesh.curl("foo", HTTPBIN + "/headers", headers=bearer(token(mesh, "--sub", "alice")))
        assert r.status == 200, r.text
        headers = r.json()["headers"]
        assert "Authorization" not in headers  # forwardOriginalToken defaults to false
        raw = headers["X-Jwt-Payload"]
        raw = raw[0] if isinstance(raw, list) else raw
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        assert payload["sub"] == "alice"
        assert mesh.code("foo", HTTPBIN + "/headers", headers=bearer("bad")) == 401
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_jwt_at_the_ingress_gateway(clean, jwks):
    """Istio's ingress JWT task: RequestAuthentication and a requestPrincipals ALLOW policy
    selecting the gateway (istio-system)."""
    mesh = clean
    gateway = {"istio": "ingressgateway"}
    request_auth(mesh, jwks, require=True, namespace="istio-system", selector=gateway)
    with mesh.httpbin_gateway() as get:
        assert get("/headers") == (403, "RBAC: access denied")
        assert get("/headers", bearer("bad"))[0] == 401
        status, body = get("/headers", bearer(token(mesh)))
        assert status == 200, body
    # the sidecars are not selected: no token needed inside the mesh
    assert mesh.code("foo", HTTPBIN + "/headers") == 200
