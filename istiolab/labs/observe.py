"""Reading what a mesh shows, as the lab checks need it: Bookinfo's serving version from the
productpage, httpbin's from its hostname, response flags in an Envoy access log, endpoint
health in Envoy's ``clusters`` answer, the workload certificate in a secrets config dump.

Pure functions on text; the runner fetches the text through the backend.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

_ACCESS_TEXT = re.compile(r'"[A-Z]+ \S* \S+" (\d{1,3}) (\S+)')
_POD_VERSION = re.compile(r"-(v\d+)(?:-|$)")


def serving_version(body: str) -> str:
    """Which version served a response: Bookinfo's productpage (v1 no stars, v2 black stars,
    v3 red stars; "error" when reviews were unavailable) or go-httpbin's ``/hostname``."""
    if "Book Reviews" in body or "Error fetching product reviews" in body:
        if "currently unavailable" in body or "Error fetching product reviews" in body:
            return "error"
        if 'color="red"' in body:
            return "v3"
        if 'color="black"' in body:
            return "v2"
        return "v1"
    try:
        data = json.loads(body)
    except ValueError:
        return "unknown"
    if isinstance(data, dict) and isinstance(data.get("hostname"), str):
        m = _POD_VERSION.search(data["hostname"])
        return m.group(1) if m else data["hostname"]
    return "unknown"


def response_flags(log: str) -> list[tuple[int, str]]:
    """(status, flag) for every access-log line, text (Istio's format) or JSON."""
    out: list[tuple[int, str]] = []
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                entry = json.loads(line)
                code = int(entry.get("response_code") or 0)
                flags = str(entry.get("response_flags") or "-")
            except (ValueError, TypeError):
                continue
        elif m := _ACCESS_TEXT.search(line):
            code, flags = int(m.group(1)), m.group(2)
        else:
            continue
        for flag in flags.split(","):
            out.append((code, flag))
    return out


@dataclass(frozen=True)
class Endpoint:
    cluster: str
    address: str
    healthy: bool
    ejected: bool


def endpoints(clusters_text: str, cluster: str) -> list[Endpoint]:
    """Endpoints of the clusters whose name contains `cluster`, from Envoy's /clusters."""
    flags: dict[tuple[str, str], str] = {}
    for line in clusters_text.splitlines():
        parts = line.split("::")
        if len(parts) >= 4 and parts[2] == "health_flags" and cluster in parts[0]:
            flags[(parts[0], parts[1])] = parts[3].strip()
    return [
        Endpoint(
            name,
            address,
            healthy=value == "healthy",
            ejected="failed_outlier_check" in value,
        )
        for (name, address), value in sorted(flags.items())
    ]


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    uris: tuple[str, ...]
    chain_issuers: tuple[str, ...]  # issuers up the presented chain


def workload_certificate(config_dump: str) -> CertInfo | None:
    """The ``default`` workload certificate from an Envoy config dump (secrets section)."""
    from cryptography import x509

    data = json.loads(config_dump)
    secrets = []
    for entry in data.get("configs", []):  # the whole dump, or ?resource= (one per secret)
        secrets += entry.get("dynamic_active_secrets", []) if "secret" not in entry else [entry]
    for secret in secrets:
        inner = secret.get("secret", {})
        if secret.get("name") != "default" or "tls_certificate" not in inner:
            continue
        chain = inner["tls_certificate"].get("certificate_chain", {})
        pem = chain.get("inline_string") or ""
        if not pem and chain.get("inline_bytes"):
            pem = base64.b64decode(chain["inline_bytes"]).decode()
        certs = x509.load_pem_x509_certificates(pem.encode()) if pem else []
        if not certs:
            return None
        leaf = certs[0]
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            uris = tuple(san.value.get_values_for_type(x509.UniformResourceIdentifier))
        except x509.ExtensionNotFound:
            uris = ()
        return CertInfo(
            subject=leaf.subject.rfc4514_string(),
            issuer=leaf.issuer.rfc4514_string(),
            uris=uris,
            chain_issuers=tuple(c.issuer.rfc4514_string() for c in certs),
        )
    return None
