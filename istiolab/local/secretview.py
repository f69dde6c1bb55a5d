"""``istiolab proxy-config secrets``: the SDS secrets an Envoy holds, shaped like
``istioctl proxy-config secret`` (RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER,
NOT AFTER, NOT BEFORE). Pure: input is Envoy's admin ``/config_dump`` JSON."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any

from cryptography import x509

SECRETS_DUMP = "type.googleapis.com/envoy.admin.v3.SecretsConfigDump"
HEADERS = [
    "RESOURCE NAME",
    "TYPE",
    "STATUS",
    "VALID CERT",
    "SERIAL NUMBER",
    "NOT AFTER",
    "NOT BEFORE",
]


def secrets(dump: Mapping[str, Any]) -> list[dict]:
    """The active and warming dynamic secrets of a config dump (with their status)."""
    out = []
    for c in dump.get("configs", []):
        if c.get("@type") != SECRETS_DUMP:
            continue
        for key, status in (
            ("dynamic_active_secrets", "ACTIVE"),
            ("dynamic_warming_secrets", "WARMING"),
        ):
            for s in c.get(key, []):
                out.append({**s, "status": status})
    return out


def _pem(source: Mapping[str, Any]) -> bytes:
    if "inline_bytes" in source:
        return base64.b64decode(source["inline_bytes"])
    return str(source.get("inline_string", "")).encode()


def _row(name: str, kind: str, status: str, pem: bytes) -> list[str]:
    try:
        cert = x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        return [name, kind, status, "false", "-", "-", "-"]
    now = dt.datetime.now(dt.UTC)
    valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    return [
        name,
        kind,
        status,
        str(valid).lower(),
        format(cert.serial_number, "x"),
        cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]


def secret_rows(dump: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = []
    for s in secrets(dump):
        secret = s.get("secret") or {}
        name = str(s.get("name") or secret.get("name", ""))
        if "tls_certificate" in secret:
            chain = (secret["tls_certificate"] or {}).get("certificate_chain") or {}
            rows.append(_row(name, "Cert Chain", s["status"], _pem(chain)))
        elif "validation_context" in secret:
            ca = (secret["validation_context"] or {}).get("trusted_ca") or {}
            rows.append(_row(name, "CA", s["status"], _pem(ca)))
    return HEADERS, sorted(rows)
