"""Plug-in CA checked like istiod and workload certificates rotated (issue 10 item 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from istiolab.errors import ConfigError
from istiolab.local import pki
from istiolab.local.supervisor import wait_until


def cert(subject: str, key, issuer_key, issuer_name: x509.Name | None = None, ca=True):
    name = x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    return builder.sign(issuer_key, hashes.SHA256())


def cacerts(ca_cert, ca_key, chain: list, root) -> dict:
    pem = pki._pem
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "istio-system"},
        "stringData": {
            "ca-cert.pem": pem(ca_cert),
            "ca-key.pem": pki._key_pem(ca_key),
            "root-cert.pem": pem(root),
            "cert-chain.pem": "".join(pem(c) for c in chain),
        },
    }


@pytest.fixture(scope="module")
def world():
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("Root CA", root_key, root_key)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = cert("Intermediate CA", inter_key, root_key, root.subject)
    return root_key, root, inter_key, inter


def test_a_good_intermediate_is_accepted(world):
    _, root, inter_key, inter = world
    authority = pki.plugin_authority(cacerts(inter, inter_key, [inter, root], root))
    assert authority.cert == inter


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong key", "ca-key.pem is not the key of ca-cert.pem"),
        ("not a CA", "is not a CA certificate"),
        ("no CA extension", "is not a CA certificate"),
        ("other root", "does not chain to root-cert.pem"),
    ],
)
def test_bad_plugin_certs_are_refused(world, case, message):
    root_key, root, inter_key, inter = world
    other_key = ec.generate_private_key(ec.SECP256R1())
    if case == "wrong key":
        secret = cacerts(inter, other_key, [inter, root], root)
    elif case in ("not a CA", "no CA extension"):
        leaf = cert("Leaf", other_key, root_key, root.subject, ca=None if "no" in case else False)
        secret = cacerts(leaf, other_key, [leaf, root], root)
    else:
        other_root = cert("Other Root", other_key, other_key)
        secret = cacerts(inter, inter_key, [inter], other_root)
    with pytest.raises(ConfigError, match=message):
        pki.plugin_authority(secret)


def test_certificate_cache_keys_on_the_whole_ca(world, tmp_path):
    _, root, inter_key, inter = world
    ca = pki.MeshCA(tmp_path)
    good = cacerts(inter, inter_key, [inter, root], root)
    first = ca.secrets("spiffe://cluster.local/ns/a/sa/b", [good])
    assert ca.secrets("spiffe://cluster.local/ns/a/sa/b", [good]) == first
    # same certificate, other chain: a new CA, so a new workload certificate
    other = cacerts(inter, inter_key, [inter, root, root], root)
    assert ca.secrets("spiffe://cluster.local/ns/a/sa/b", [other]) != first
    assert 0 < ca.next_renewal() <= pki.WORKLOAD_TTL.total_seconds() / 2


@pytest.mark.envoy
def test_idle_mesh_rotates_workload_certificates(mesh):
    """The harden mesh runs with 20 s workload certificates: the sidecar's serial changes
    on its own (a push at half life) and mTLS keeps working."""
    from istiolab.local.admin import admin_call

    httpbin = mesh.pod_in("httpbin-v1", "foo")

    def serial() -> str:
        import json

        certs = json.loads(admin_call(mesh.state, httpbin["ip"], "/certs"))["certificates"]
        chains = [c for entry in certs for c in entry.get("cert_chain", [])]
        return sorted(c["serial_number"] for c in chains)[0] if chains else ""

    wait_until(lambda: bool(serial()), 10, "the sidecar's workload certificate")
    first = serial()
    wait_until(lambda: serial() not in ("", first), 40, "a rotated workload certificate")
    assert mesh.code("foo", "http://httpbin.foo:8000/get") == 200
