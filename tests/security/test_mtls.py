"""Workload mTLS on real Envoy: auto mTLS between sidecars, PeerAuthentication at mesh,
namespace, workload and port level (Istio's mutual TLS migration task)."""

from __future__ import annotations

import base64
import json

import pytest

pytestmark = pytest.mark.envoy  # the suite's shared local mesh (real Envoys)

HTTPBIN = "http://httpbin.{ns}:8000"


def pa(name: str, namespace: str, mode: str, selector: str = "", port_mode: str = "") -> str:
    sel = f"  selector:\n    matchLabels:\n      app: {selector}\n" if selector else ""
    ports = f"  portLevelMtls:\n    8080:\n      mode: {port_mode}\n" if port_mode else ""
    return (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"spec:\n{sel}  mtls:\n    mode: {mode}\n{ports}"
    )


def test_sidecars_talk_mtls_by_default(mesh):
    """httpbin's sidecar sees sleep's client certificate (the XFCC header of /headers)."""
    r = mesh.curl("foo", HTTPBIN.format(ns="foo") + "/headers")
    assert r.status == 200, (r.error, r.text)
    xfcc = r.json()["headers"]["X-Forwarded-Client-Cert"]
    xfcc = xfcc[0] if isinstance(xfcc, list) else xfcc
    assert "By=spiffe://cluster.local/ns/foo/sa/httpbin" in xfcc
    assert "URI=spiffe://cluster.local/ns/foo/sa/sleep" in xfcc
    r = mesh.curl("bar", HTTPBIN.format(ns="foo") + "/headers")
    assert "URI=spiffe://cluster.local/ns/bar/sa/sleep" in str(r.json()["headers"])


def test_plaintext_from_legacy_is_accepted_under_permissive(mesh):
    r = mesh.curl("legacy", HTTPBIN.format(ns="foo") + "/headers")
    assert r.status == 200, (r.error, r.text)
    assert "X-Forwarded-Client-Cert" not in r.json()["headers"]
    # a sidecar client reaches a workload without a sidecar in plaintext
    assert mesh.code("foo", HTTPBIN.format(ns="legacy") + "/ip") == 200


@pytest.mark.parametrize("scope", ["mesh", "namespace"])
def test_strict_resets_plaintext_and_permissive_restores_it(clean, scope):
    mesh = clean
    namespace = "istio-system" if scope == "mesh" else "foo"
    mesh.apply_yaml(pa("default", namespace, "STRICT"))
    r = mesh.curl("legacy", HTTPBIN.format(ns="foo") + "/ip")
    assert (r.status, r.error, r.exit_code) == (0, "reset", 56)
    code, out, _ = mesh.cli("request", "--from", "sleep.legacy", HTTPBIN.format(ns="foo"))
    assert (code, out.strip()) == (56, "000")
    assert mesh.code("foo", HTTPBIN.format(ns="foo") + "/ip") == 200  # mTLS still works
    assert mesh.code("bar", HTTPBIN.format(ns="foo") + "/ip") == 200
    if scope == "mesh":
        assert mesh.curl("legacy", HTTPBIN.format(ns="bar") + "/ip").exit_code == 56
    else:
        assert mesh.code("legacy", HTTPBIN.format(ns="bar") + "/ip") == 200
    mesh.apply_yaml(pa("default", namespace, "PERMISSIVE"))
    assert mesh.code("legacy", HTTPBIN.format(ns="foo") + "/ip") == 200


def test_workload_scope_overrides_namespace_and_disable_turns_mtls_off(clean):
    mesh = clean
    mesh.apply_yaml(pa("default", "foo", "STRICT"))
    mesh.apply_yaml(pa("httpbin", "foo", "DISABLE", selector="httpbin"))
    assert mesh.code("legacy", HTTPBIN.format(ns="foo") + "/ip") == 200
    # clients follow the server's DISABLE (auto mTLS): plaintext, no client certificate
    r = mesh.curl("bar", HTTPBIN.format(ns="foo") + "/headers")
    assert r.status == 200, (r.error, r.text)
    assert "X-Forwarded-Client-Cert" not in r.json()["headers"]


def test_port_level_mtls(clean):
    mesh = clean
    mesh.apply_yaml(pa("httpbin", "foo", "PERMISSIVE", selector="httpbin", port_mode="STRICT"))
    assert mesh.curl("legacy", HTTPBIN.format(ns="foo") + "/ip").exit_code == 56
    mesh.apply_yaml(pa("httpbin", "foo", "STRICT", selector="httpbin", port_mode="PERMISSIVE"))
    assert mesh.code("legacy", HTTPBIN.format(ns="foo") + "/ip") == 200


def test_destination_rule_disable_sends_plaintext_to_a_strict_server(clean):
    mesh = clean
    mesh.apply_yaml(pa("default", "foo", "STRICT"))
    dr = (
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
        "metadata:\n  name: httpbin-plain\n  namespace: bar\n"
        "spec:\n  host: httpbin.foo.svc.cluster.local\n"
        "  trafficPolicy:\n    tls:\n      mode: DISABLE\n"
    )
    mesh.apply_yaml(dr)
    try:
        r = mesh.curl("bar", HTTPBIN.format(ns="foo") + "/ip")
        assert r.status == 503, (r.status, r.error)  # the upstream resets: 503 UC
        assert mesh.code("foo", HTTPBIN.format(ns="foo") + "/ip") == 200
    finally:
        mesh.ok("delete", "DestinationRule", "httpbin-plain", "-n", "bar")


def _plug_in_ca() -> tuple[dict, str, int]:
    """A cacerts Secret (root -> intermediate, like the seed's Makefile.selfsigned.mk
    localcluster-cacerts) and the root's PEM and serial."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from istiolab.local import pki

    root_key, root = pki.new_root("Istio Root CA")
    inter_key, draft = pki.new_root("Intermediate CA")
    inter = (
        x509.CertificateBuilder()
        .subject_name(draft.subject)
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(draft.not_valid_before_utc)
        .not_valid_after(draft.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    root_pem, inter_pem = pki._pem(root), pki._pem(inter)
    data = {
        "ca-cert.pem": inter_pem,
        "ca-key.pem": pki._key_pem(inter_key),
        "root-cert.pem": root_pem,
        "cert-chain.pem": inter_pem + root_pem,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "istio-system"},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    return secret, root_pem, root.serial_number


def _root_serial(mesh, workload: str) -> str:
    out = mesh.ok("proxy-config", "secrets", workload)
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    names = {r[0]: r for r in rows}
    assert names["default"][1:5] == ["Cert", "Chain", "ACTIVE", "true"], out
    assert names["ROOTCA"][1:4] == ["CA", "ACTIVE", "true"], out
    return names["ROOTCA"][4]


def test_plug_in_ca_from_cacerts_secret(mesh):
    own = _root_serial(mesh, "httpbin.foo")
    secret, root_pem, serial = _plug_in_ca()
    mesh.apply([secret])
    try:
        for workload in ("httpbin.foo", "sleep.bar"):
            assert _root_serial(mesh, workload) == format(serial, "x")
        dump = json.loads(mesh.ok("proxy-config", "secrets", "httpbin.foo", "-o", "json"))
        [ca] = [s for s in dump if s["name"] == "ROOTCA"]
        assert ca["secret"]["validation_context"]["trusted_ca"]["inline_string"] == root_pem
        r = mesh.curl("bar", HTTPBIN.format(ns="foo") + "/headers")
        assert r.status == 200, (r.error, r.text)
        assert "URI=spiffe://cluster.local/ns/bar/sa/sleep" in str(r.json()["headers"])
    finally:
        mesh.ok("delete", "Secret", "cacerts", "-n", "istio-system")
    assert _root_serial(mesh, "httpbin.foo") == own  # back to the state directory's root
    assert mesh.code("bar", HTTPBIN.format(ns="foo") + "/ip") == 200
