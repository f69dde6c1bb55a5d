"""Plug-in CA material for istiod (seed 000): the `cacerts` Secret's four files.

Generated with pulumi-tls (root: RSA 4096, O=Istio, CN=Root CA; intermediate: RSA 4096,
O=Istio, CN=Intermediate CA, L=<cluster>, a CA with path length 0, signed by the root), or read
from a directory holding ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem (as made by
Istio's tools/certs Makefile). Keys stay in the Pulumi state as secrets.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_tls as tls

from istiolab.errors import ConfigError

CA_FILES = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]


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
    csr = tls.CertRequest(
        f"{name}-ca-csr",
        private_key_pem=ca_key.private_key_pem,
        subject={
            "organization": "Istio",
            "common_name": "Intermediate CA",
            "locality": cluster_name,
        },
        opts=opts,
    )
    ca = tls.LocallySignedCert(
        f"{name}-ca-cert",
        cert_request_pem=csr.cert_request_pem,
        ca_private_key_pem=root_key.private_key_pem,
        ca_cert_pem=root.cert_pem,
        is_ca_certificate=True,
        max_path_length=0,
        validity_period_hours=24 * 365 * 2,
        allowed_uses=CA_USES,
        opts=opts,
    )
    files = pulumi.Output.all(ca.cert_pem, ca_key.private_key_pem, root.cert_pem).apply(
        lambda v: {
            "ca-cert.pem": v[0],
            "ca-key.pem": v[1],
            "root-cert.pem": v[2],
            "cert-chain.pem": v[0] + v[2],
        }
    )
    return pulumi.Output.secret(files)
