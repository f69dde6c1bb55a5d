"""JWT facts every part of istiolab shares (pure): the one default issuer and subject (Istio's
demo token, ``testing@secure.istio.io``) and the one way a JWK set is built from an RSA public
key (RS256, ``kid`` = the RFC 7638 thumbprint). Used by the local mesh's ``istiolab jwt``
(istiolab.local.tokens), the RequestAuthentication builders (manifests.security) and the
Pulumi MeshSecurity component, so a token issued by one verifies against the others' keys."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_ISSUER = "testing@secure.istio.io"
DEFAULT_SUBJECT = "testing@secure.istio.io"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The JWK of an RSA public key (RS256, ``use: sig``, ``kid`` its thumbprint)."""
    numbers = public_key.public_numbers()
    body = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    thumb = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    kid = base64.urlsafe_b64encode(thumb.digest()).rstrip(b"=").decode()
    return {**body, "alg": "RS256", "use": "sig", "kid": kid}


def jwks(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """A JWK set holding one RSA public key."""
    return {"keys": [jwk(public_key)]}


def jwks_from_public_pem(pem: str) -> dict[str, Any]:
    """A JWK set from a PEM public key (what pulumi-tls exports); RSA only."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the JWT signing key must be RSA")
    return jwks(key)
