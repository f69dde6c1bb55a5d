"""Plug-in CA material for istiod (seed 000): the `cacerts` Secret's four files.

Generated: the keys (RSA 4096) and the root (O=Istio, CN=Root CA, self-signed) with pulumi-tls;
the intermediate (O=Istio, CN=Intermediate CA, L=<cluster>, a CA with path length 0, signed by
the root) with `cryptography`, because pulumi-tls drops `max_path_length=0` (Go's x509 needs
MaxPathLenZero for it), so its certificate carried no pathlen at all. The intermediate is
built deterministically from what the state holds (validity from the root's start, serial from
the keys, RSA PKCS#1 v1.5 signatures are deterministic), so `pulumi up` again changes nothing.
Or read from a directory holding ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem
(as made by Istio's tools/certs Makefile). Keys stay in the Pulumi state as secrets.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pulumi
import pulumi_tls as tls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from istiolab.errors import ConfigError

CA_FILES = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]
INTERMEDIATE_DAYS = 2 * 365


def intermediate_cert_pem(
    root_key_pem: str, root_cert_pem: str, ca_key_pem: str, cluster_name: str
) -> str:
    """The intermediate CA certificate (pathlen 0), the same bytes for the same inputs."""
    root_key = serialization.load_pem_private_key(root_key_pem.encode(), password=None)
    root = x509.load_pem_x509_certificate(root_cert_pem.encode())
    ca_public = serialization.load_pem_private_key(ca_key_pem.encode(), password=None).public_key()
    public_der = ca_public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    serial = int.from_bytes(hashlib.sha256(public_der + cluster_name.encode()).digest()[:16])
    not_before = root.not_valid_before_utc
    not_after = min(root.not_valid_after_utc, not_before + datetime.timedelta(INTERMEDIATE_DAYS))
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Istio"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate CA"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, cluster_name),
    ])  # fmt: skip
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(ca_public)
        .serial_number(serial >> 1 or 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def read_ca_dir(directory: str) -> dict[str, str]:
    path = Path(directory).expanduser()
    out, missing = {}, []
    for f in CA_FILES:
        try:
            out[f] = (path / f).read_text()
        except OSError:
            missing.append(f)
    if missing:
        raise ConfigError(
            f"istiolab:mesh.caDir={directory!r}: missing {', '.join(missing)} "
            f"(the directory must hold {', '.join(CA_FILES)})"
        )
    return out


def generate(name: str, cluster_name: str, parent: pulumi.Resource) -> pulumi.Output[dict]:
    """Root and intermediate CA as pulumi-tls resources; the Secret's files as one Output."""
    opts = pulumi.ResourceOptions(parent=parent)
    root_key = tls.PrivateKey(f"{name}-root-key", algorithm="RSA", rsa_bits=4096, opts=opts)
    root = tls.SelfSignedCert(
        f"{name}-root-cert",
        private_key_pem=root_key.private_key_pem,
        subject={"organization": "Istio", "common_name": "Root CA"},
        is_ca_certificate=True,
        validity_period_hours=24 * 365 * 10,
        allowed_uses=CA_USES,
        opts=opts,
    )
    ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="RSA", rsa_bits=4096, opts=opts)
    files = pulumi.Output.all(
        root_key.private_key_pem, root.cert_pem, ca_key.private_key_pem
    ).apply(lambda v: _files(intermediate_cert_pem(v[0], v[1], v[2], cluster_name), v[2], v[1]))
    return pulumi.Output.secret(files)


def _files(ca_cert: str, ca_key: str, root_cert: str) -> dict[str, str]:
    return {
        "ca-cert.pem": ca_cert,
        "ca-key.pem": ca_key,
        "root-cert.pem": root_cert,
        "cert-chain.pem": ca_cert + root_cert,
    }
