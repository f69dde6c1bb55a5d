"""The mesh CA (istiod's role): a root CA kept in the state directory, or plug-in certs.

- Self-signed root: generated once per state directory (``<state>/pki/root-key.pem``,
  mode 0600, and ``root-cert.pem``), ECDSA P-256, so every restart keeps the same trust.
- Plug-in CA: a Secret ``cacerts`` in ``istio-system`` with ``ca-cert.pem``, ``ca-key.pem``,
  ``root-cert.pem`` and ``cert-chain.pem`` (``data`` base64 or ``stringData``), as istiod
  reads it; workload certs are then signed by ``ca-cert.pem`` and carry ``cert-chain.pem``.
- Plug-in CA checked as istiod checks it: the key matches the certificate, the certificate
  is a CA (BasicConstraints), and it chains (through ``cert-chain.pem``) to a certificate
  of ``root-cert.pem``; anything else is a ConfigError naming the key of the Secret.
- Workload certificates: ECDSA P-256, 24 h like Istio's default (``ISTIOLAB_WORKLOAD_CERT_TTL``
  seconds overrides it), URI SAN ``spiffe://cluster.local/ns/<ns>/sa/<sa>``, cached per
  identity and per whole CA (certificate and key: a fixed ``cacerts`` takes effect at
  once) and re-issued when half their life is gone; :meth:`MeshCA.next_renewal` tells the
  runtime when to push again, so idle meshes rotate too. :meth:`MeshCA.secrets` gives
  one proxy its SDS secrets ``default`` (cert chain and key) and ``ROOTCA`` (trust anchor),
  as Envoy JSON dicts; :func:`with_secrets` adds them to a proxy's translated resources
  (translation itself issues nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from istiolab.errors import ConfigError
from istiolab.local.model import ISTIO_SYSTEM, SECRET_TYPE, Proxy, ProxyResources

CACERTS = "cacerts"
CACERTS_KEYS = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
ENV_CERT_TTL = "ISTIOLAB_WORKLOAD_CERT_TTL"


def _workload_ttl() -> dt.timedelta:
    raw = os.environ.get(ENV_CERT_TTL, "")
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        raise ConfigError(f"{ENV_CERT_TTL}={raw!r}: not a number of seconds") from None
    return dt.timedelta(seconds=seconds) if seconds > 0 else dt.timedelta(hours=24)


WORKLOAD_TTL = _workload_ttl()
ROOT_TTL = dt.timedelta(days=3650)


@dataclass(frozen=True)
class Authority:
    """A signing CA: its key and cert, the chain to append to leaf certs, the root."""

    key: object
    cert: x509.Certificate
    chain_pem: str  # appended after the leaf (empty for a self-signed root)
    root_pem: str

    @property
    def fingerprint(self) -> str:
        """The whole CA: certificate, key and chain (a changed key or chain re-issues)."""
        digest = hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER))
        digest.update(_key_pem(self.key).encode())
        digest.update(self.chain_pem.encode() + b"\0" + self.root_pem.encode())
        return digest.hexdigest()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_root(org: str = "cluster.local") -> tuple[object, x509.Certificate]:
    """A self-signed root CA (pure: returns the key and certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + ROOT_TTL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def workload_cert(
    authority: Authority, spiffe_id: str, ttl: dt.timedelta = WORKLOAD_TTL
) -> tuple[str, str, dt.datetime]:
    """(cert chain PEM, key PEM, not-after) of a workload certificate for ``spiffe_id``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    expires = now + ttl
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(expires)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(authority.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    chain = _pem(cert) + authority.chain_pem
    return chain, _key_pem(key), expires


def server_cert(
    authority: Authority, ips: Sequence[str], dns: Sequence[str] = (), ttl: dt.timedelta = ROOT_TTL
) -> tuple[str, str]:
    """(cert chain PEM, key PEM) of a TLS server certificate for `ips` and `dns` names
    (the local mesh's Kubernetes API server)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.DNSName(d) for d in dns]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "istiolab-kubeapi")]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + ttl)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(authority.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return _pem(cert) + authority.chain_pem, _key_pem(key)


def _secret_value(secret: Mapping, key: str) -> str | None:
    string_data = secret.get("stringData") or {}
    if string_data.get(key):
        return str(string_data[key])
    data = secret.get("data") or {}
    if data.get(key):
        try:
            return base64.b64decode(str(data[key])).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"Secret {CACERTS} (namespace {ISTIO_SYSTEM}): data.{key} is not base64 PEM"
            ) from exc
    return None


def plugin_authority(secret: Mapping) -> Authority:
    """The CA of a ``cacerts`` Secret; a clear ConfigError when it is incomplete or bad."""
    values = {k: _secret_value(secret, k) for k in CACERTS_KEYS}
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ConfigError(
            f"Secret {CACERTS} (namespace {ISTIO_SYSTEM}) lacks {', '.join(missing)}: a plug-in "
            f"CA needs {', '.join(CACERTS_KEYS)}"
        )
    try:
        cert = x509.load_pem_x509_certificate(str(values["ca-cert.pem"]).encode())
        key = serialization.load_pem_private_key(str(values["ca-key.pem"]).encode(), None)
        x509.load_pem_x509_certificates(str(values["root-cert.pem"]).encode())
    except ValueError as exc:
        raise ConfigError(
            f"Secret {CACERTS} (namespace {ISTIO_SYSTEM}): ca-cert.pem, ca-key.pem and "
            f"root-cert.pem must be PEM certificates and a PEM private key ({exc})"
        ) from exc
    chain = str(values["cert-chain.pem"])
    if not chain.endswith("\n"):
        chain += "\n"
    _check_plugin(cert, key, chain, str(values["root-cert.pem"]))
    return Authority(key, cert, chain, str(values["root-cert.pem"]))


def _check_plugin(cert: x509.Certificate, key: object, chain_pem: str, root_pem: str) -> None:
    """istiod's checks of plug-in certs: key matches, the cert is a CA, the chain verifies."""
    where = f"Secret {CACERTS} (namespace {ISTIO_SYSTEM})"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if key.public_key().public_bytes(pem, public) != cert.public_key().public_bytes(pem, public):  # type: ignore[attr-defined]
        raise ConfigError(f"{where}: ca-key.pem is not the key of ca-cert.pem; use the pair")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ConfigError(
            f"{where}: ca-cert.pem is not a CA certificate (BasicConstraints CA:TRUE is "
            "missing); sign workload certificates with an intermediate or root CA"
        )
    try:
        roots = x509.load_pem_x509_certificates(root_pem.encode())
        chain = x509.load_pem_x509_certificates(chain_pem.encode()) if chain_pem.strip() else []
    except ValueError as exc:
        raise ConfigError(f"{where}: cert-chain.pem or root-cert.pem is not PEM ({exc})") from exc
    root_der = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    current = cert
    for _ in range(10):
        if current.public_bytes(serialization.Encoding.DER) in root_der:
            return
        issuer = next(
            (c for c in [*chain, *roots] if c.subject == current.issuer and c is not current),
            None,
        )
        if issuer is None:
            break
        try:
            current.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            break
        if issuer.public_bytes(serialization.Encoding.DER) in root_der:
            return
        current = issuer
    raise ConfigError(
        f"{where}: ca-cert.pem does not chain to root-cert.pem (through cert-chain.pem); "
        "cert-chain.pem holds ca-cert.pem and its issuers up to the root"
    )


def find_cacerts(objects: list[dict]) -> dict | None:
    for o in objects:
        md = o.get("metadata") or {}
        if (
            o.get("kind") == "Secret"
            and md.get("name") == CACERTS
            and md.get("namespace") == ISTIO_SYSTEM
        ):
            return o
    return None


def secret_resources(chain_pem: str, key_pem: str, root_pem: str) -> dict[str, dict]:
    """The SDS secrets ``default`` and ``ROOTCA`` as Envoy JSON (pure)."""
    return {
        "ROOTCA": {
            "@type": SECRET_TYPE,
            "name": "ROOTCA",
            "validation_context": {"trusted_ca": {"inline_string": root_pem}},
        },
        "default": {
            "@type": SECRET_TYPE,
            "name": "default",
            "tls_certificate": {
                "certificate_chain": {"inline_string": chain_pem},
                "private_key": {"inline_string": key_pem},
            },
        },
    }


class MeshCA:
    """The CA of one state directory (thread-safe)."""

    def __init__(self, root: Path | str) -> None:
        self.dir = Path(root) / "pki"
        self._lock = threading.Lock()
        self._own: Authority | None = None
        self._certs: dict[tuple[str, str], tuple[str, str, dt.datetime]] = {}

    def own_authority(self) -> Authority:
        """The state directory's self-signed root, created on first use (key 0600)."""
        if self._own is None:
            key_file, cert_file = self.dir / "root-key.pem", self.dir / "root-cert.pem"
            if key_file.exists() and cert_file.exists():
                key = serialization.load_pem_private_key(key_file.read_bytes(), None)
                cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            else:
                self.dir.mkdir(parents=True, exist_ok=True)
                key, cert = new_root()
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(_key_pem(key))
                cert_file.write_text(_pem(cert))
            self._own = Authority(key, cert, "", _pem(cert))
        return self._own

    def authority(self, objects: list[dict]) -> Authority:
        secret = find_cacerts(objects)
        return plugin_authority(secret) if secret is not None else self.own_authority()

    def secrets(self, spiffe_id: str, objects: list[dict]) -> dict[str, dict]:
        """SDS secrets for a proxy with identity ``spiffe_id``."""
        with self._lock:
            ca = self.authority(objects)
            key = (ca.fingerprint, spiffe_id)
            found = self._certs.get(key)
            if found is None or found[2] - _now() < WORKLOAD_TTL / 2:
                found = self._certs[key] = workload_cert(ca, spiffe_id)
            if len(self._certs) > 4096:  # old CAs' and gone identities' certificates
                now = _now()
                self._certs = {k: v for k, v in self._certs.items() if v[2] > now}
            return secret_resources(found[0], found[1], ca.root_pem)

    def next_renewal(self) -> float:
        """Seconds until the first cached workload certificate reaches half its life (when
        the runtime must push again to rotate it); a day when none is cached."""
        with self._lock:
            if not self._certs:
                return 86400.0
            due = min(v[2] - WORKLOAD_TTL / 2 for v in self._certs.values())
        return max(0.0, (due - _now()).total_seconds())


class EphemeralCA(MeshCA):
    """A CA kept in memory only (a root per process): for translation without a state
    directory (dry runs, tests driving :func:`build_resources` directly)."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")

    def own_authority(self) -> Authority:
        if self._own is None:
            key, cert = new_root()
            self._own = Authority(key, cert, "", _pem(cert))
        return self._own


def with_secrets(
    resources: ProxyResources, proxy: Proxy, objects: list[dict], ca: MeshCA | None = None
) -> ProxyResources:
    """`resources` plus the proxy's SDS secrets, issued by `ca` (default: the process's
    in-memory CA)."""
    secrets = (ca or default_ca()).secrets(proxy.pod.spiffe_id, objects)
    return replace(resources, secrets=secrets)


_DEFAULT: EphemeralCA | None = None


def default_ca() -> MeshCA:
    """The process's in-memory CA (see :class:`EphemeralCA`)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = EphemeralCA()
    return _DEFAULT
