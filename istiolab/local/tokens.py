"""JWTs for RequestAuthentication labs: an RS256 key pair kept in the state directory
(``<state>/jwt/key.pem``, mode 0600), the JWK set to paste into a RequestAuthentication
(``jwks``), and signed tokens (the CLI's ``istiolab jwt issue`` / ``jwt jwks``).

Defaults follow Istio's demo token: issuer and subject ``testing@secure.istio.io``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from istiolab.manifests import jwks as _jwks
from istiolab.manifests.jwks import DEFAULT_ISSUER, DEFAULT_SUBJECT

__all__ = ["DEFAULT_ISSUER", "DEFAULT_SUBJECT", "issue", "jwk", "jwks", "load_key"]


def load_key(state_root: Path | str) -> rsa.RSAPrivateKey:
    """The state directory's signing key, created (RSA 2048, 0600) on first use."""
    path = Path(state_root) / "jwt" / "key.pem"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The signing key's JWK (manifests.jwks: the one JWK builder)."""
    return _jwks.jwk(key.public_key())


def jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return _jwks.jwks(key.public_key())


def issue(
    key: rsa.RSAPrivateKey,
    *,
    subject: str = DEFAULT_SUBJECT,
    issuer: str = DEFAULT_ISSUER,
    expires_in: int = 3600,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """An RS256 token; ``expires_in`` may be negative (an expired token, for labs)."""
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "iat": issued,
        "exp": issued + int(expires_in),
    }
    payload.update(claims or {})
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": jwk(key)["kid"]})
