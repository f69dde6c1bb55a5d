"""RequestAuthentication -> Envoy's jwt_authn HTTP filter (pure).

Each ``jwtRules`` entry of the policies selecting a proxy (same selection as
AuthorizationPolicy) becomes a provider: ``issuer``, ``audiences``, ``jwks`` (inline) or
``jwksUri`` (fetched by Envoy through a static cluster ``jwks|<host>|<port>``; locally it
must be a loopback URL), ``forwardOriginalToken`` -> ``forward``, ``outputPayloadToHeader``
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

import ipaddress
from urllib.parse import urlsplit

from istiolab.local.translate.common import meta, socket_address
from istiolab.local.translate.security.rbac import PAYLOAD_KEY

JWT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


def loopback_uri(uri: str) -> tuple[str, str, int] | None:
    """(scheme, IP, port) of a loopback http(s) URL; None for anything else."""
    try:
        split = urlsplit(uri)
        port = split.port
    except ValueError:
        return None
    if split.scheme not in ("http", "https") or not split.hostname:
        return None
    host = split.hostname
    ip = "127.0.0.1" if host == "localhost" else host
    try:
        if not ipaddress.ip_address(ip).is_loopback:
            return None
    except ValueError:
        return None
    return split.scheme, ip, port or (443 if split.scheme == "https" else 80)


def jwks_cluster_name(uri: str) -> str:
    parsed = loopback_uri(uri)
    assert parsed is not None
    return f"jwks|{parsed[1]}|{parsed[2]}"


def jwks_cluster(uri: str) -> dict:
    scheme, ip, port = loopback_uri(uri)  # type: ignore[misc]
    name = jwks_cluster_name(uri)
    cluster: dict = {
        "@type": CLUSTER_TYPE,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(ip, port)}}]}],
        },
    }
    if scheme == "https":
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": UPSTREAM_TLS, "sni": urlsplit(uri).hostname},
        }
    return cluster


def provider(rule: dict) -> dict:
    out: dict = {
        "issuer": str(rule.get("issuer", "")),
        "forward": bool(rule.get("forwardOriginalToken", False)),
        "payload_in_metadata": PAYLOAD_KEY,
    }
    if rule.get("audiences"):
        out["audiences"] = [str(a) for a in rule["audiences"]]
    if rule.get("jwks"):
        out["local_jwks"] = {"inline_string": str(rule["jwks"])}
    else:
        uri = str(rule.get("jwksUri", ""))
        out["remote_jwks"] = {
            "http_uri": {"uri": uri, "cluster": jwks_cluster_name(uri), "timeout": "5s"},
            "cache_duration": "300s",
        }
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
    """(the jwt_authn filter config, the clusters its remote JWKS need). With no
    RequestAuthentication the config has no providers and checks nothing."""
    providers: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    for policy in policies:
        name, ns = meta(policy)
        for i, rule in enumerate((policy.get("spec") or {}).get("jwtRules") or []):
            providers[f"origins-{ns}-{name}-{i}"] = provider(rule)
            if not rule.get("jwks") and rule.get("jwksUri"):
                cluster = jwks_cluster(str(rule["jwksUri"]))
                clusters[cluster["name"]] = cluster
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
