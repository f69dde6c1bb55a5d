"""RequestAuthentication -> Envoy's jwt_authn HTTP filter (pure).

Each ``jwtRules`` entry of the policies selecting a proxy (same selection as
AuthorizationPolicy) becomes a provider: ``issuer``, ``audiences``, ``jwks`` (inline;
a ``jwksUri`` is fetched by the control plane and inlined as istiod does, see
istiolab.local.jwksfetch; when that failed, a key set no token verifies against),
``forwardOriginalToken`` -> ``forward``, ``outputPayloadToHeader``
-> ``forward_payload_header``, ``fromHeaders``/``fromParams`` -> token locations (Istio's
default: ``Authorization: Bearer``). Every provider writes the verified payload to the
request's dynamic metadata (``envoy.filters.http.jwt_authn`` / ``payload``), which the
RBAC filter reads for ``requestPrincipals`` and ``request.auth.claims``.

Istio semantics: one requirement "any provider, or no token at all" for every path, so a
request without a token passes (until an AuthorizationPolicy asks for a request principal)
and a request with an invalid token gets 401 (``Jwt verification fails``, ``Jwt is
expired``).
"""

from __future__ import annotations

import json

from istiolab.local.translate.common import meta
from istiolab.local.translate.security.rbac import PAYLOAD_KEY

JWT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
# What istiod inlines when it could not fetch a rule's jwksUri: a public key whose private
# half nobody holds, so a request carrying a token is rejected (401, "Jwks doesn't have key
# to match kid or alg from Jwt") and a request without one passes, as on a cluster.
UNREACHABLE_KID = "istiolab-jwks-unavailable"
UNREACHABLE_JWKS = json.dumps(
    {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": UNREACHABLE_KID,
                "e": "AQAB",
                "n": "pN15riR0TlzKHo36kN2WisIi0q_6Ed0b9ybMyIZiPc50o7vOzuC35hiW5Rlkm00veN4DhZerW9e"
                "knKlOYPPJNBcvSP8yfThAe9n2BTBQXiqA5NurfWbfNzo0LO_BMvDy_F-18lhH6AJEZRwlFKJpOW4r17nI"
                "FMBNxuGvQCtGEujJrK9T46IA7eGC_93aX-NMkGBYVEA-a8h8uPyIwYGulb6xSp0BbK9pVQ10RpV_AmGMQ"
                "Y8P1s52gNiiSiqnHRQ-nTF_jS_LS_dqH6hsHqDfd_8uRrtM9QVnSawlQpLN1iTnY5anXEm_7LFkX1-bYa"
                "Qc9rhtM15TlVpfn2_G9lg4dw",
            }
        ]
    },
    separators=(",", ":"),
)


def provider(rule: dict) -> dict:
    out: dict = {
        "issuer": str(rule.get("issuer", "")),
        "forward": bool(rule.get("forwardOriginalToken", False)),
        "payload_in_metadata": PAYLOAD_KEY,
    }
    if rule.get("audiences"):
        out["audiences"] = [str(a) for a in rule["audiences"]]
    # jwksUri: the control plane fetches the key set and inlines it, as istiod does
    # (istiolab.local.jwksfetch puts it in ``jwks``); unresolved, no token can verify
    out["local_jwks"] = {"inline_string": str(rule.get("jwks") or UNREACHABLE_JWKS)}
    if rule.get("outputPayloadToHeader"):
        out["forward_payload_header"] = str(rule["outputPayloadToHeader"])
    headers = [
        {"name": str(h["name"]), **({"value_prefix": str(h["prefix"])} if h.get("prefix") else {})}
        for h in rule.get("fromHeaders") or []
    ]
    params = [str(p) for p in rule.get("fromParams") or []]
    if not headers and not params:
        headers = [{"name": "Authorization", "value_prefix": "Bearer "}]
        params = ["access_token"]
    if headers:
        out["from_headers"] = headers
    if params:
        out["from_params"] = params
    return out


def jwt_config(policies: list[dict]) -> tuple[dict, dict[str, dict]]:
    """(the jwt_authn filter config, extra clusters: none, every key set is inline). With no
    RequestAuthentication the config has no providers and checks nothing."""
    providers: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    for policy in policies:
        name, ns = meta(policy)
        for i, rule in enumerate((policy.get("spec") or {}).get("jwtRules") or []):
            providers[f"origins-{ns}-{name}-{i}"] = provider(rule)
    if not providers:
        return {"@type": JWT_TYPE}, {}
    requirements = [{"provider_name": p} for p in sorted(providers)] + [{"allow_missing": {}}]
    config = {
        "@type": JWT_TYPE,
        "providers": providers,
        "rules": [
            {"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": requirements}}}
        ],
        "bypass_cors_preflight": True,
    }
    return config, clusters
