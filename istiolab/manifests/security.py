"""Security presets: PeerAuthentication (mesh / namespace / workload), AuthorizationPolicy
(allow-nothing, deny-all, allow by service account and method, deny by source namespace)
and RequestAuthentication (JWT issuer with jwks or jwksUri).

    security_preset("peer-authentication", scope="mesh", mode="STRICT")
    security_preset("deny-namespace", namespace="bookinfo", from_namespace="bar")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.errors import ParameterError
from istiolab.manifests import _presets
from istiolab.manifests._base import ISTIO_SYSTEM, SECURITY, check_choice, check_name, obj
from istiolab.manifests.jwks import DEFAULT_ISSUER
from istiolab.names import MTLS_MODES

SCOPES = ("mesh", "namespace", "workload")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
TEST_JWKS_URI = "https://raw.githubusercontent.com/istio/istio/release-1.30/security/tools/jwt/samples/jwks.json"


def _selector(app: str | None) -> dict:
    return {"selector": {"matchLabels": {"app": check_name("app", app)}}} if app else {}


def _methods(methods: Iterable[str]) -> list[str]:
    values = [methods] if isinstance(methods, str) else list(methods)
    if not values or any(m not in HTTP_METHODS for m in values):
        raise ParameterError(
            "methods", tuple(values), "HTTP methods among " + ", ".join(HTTP_METHODS)
        )
    return values


def peer_authentication(
    namespace: str = "default",
    *,
    scope: str = "namespace",
    mode: str = "STRICT",
    app: str | None = None,
    name: str | None = None,
) -> list[dict]:
    """mTLS `mode` for the whole mesh (placed in istio-system), one namespace, or the
    workloads labelled app=`app` (scope "workload")."""
    check_choice("scope", scope, SCOPES)
    check_choice("mode", mode, MTLS_MODES)
    if scope == "workload" and not app:
        raise ParameterError("app", app, "the app label of the workload (scope 'workload')")
    if scope != "workload" and app:
        raise ParameterError("app", app, "only with scope 'workload'")
    where = ISTIO_SYSTEM if scope == "mesh" else namespace
    spec = {**_selector(app), "mtls": {"mode": mode}}
    default_name = f"{app}-mtls" if app else "default"
    return [
        obj(
            SECURITY,
            "PeerAuthentication",
            check_name("name", name or default_name),
            where,
            spec=spec,
        )
    ]


def allow_nothing(namespace: str = "default", *, app: str | None = None) -> list[dict]:
    """An ALLOW policy with no rules: nothing is allowed (in `namespace`, or for app=`app`)."""
    return [obj(SECURITY, "AuthorizationPolicy", "allow-nothing", namespace, spec=_selector(app))]


def deny_all(namespace: str = "default", *, app: str | None = None) -> list[dict]:
    """A DENY policy with one empty rule, which matches (and denies) every request."""
    spec = {**_selector(app), "action": "DENY", "rules": [{}]}
    return [obj(SECURITY, "AuthorizationPolicy", "deny-all", namespace, spec=spec)]


def allow_service_account(
    namespace: str = "default",
    *,
    app: str = "reviews",
    service_account: str = "bookinfo-productpage",
    source_namespace: str | None = None,
    methods: Iterable[str] = ("GET",),
    name: str | None = None,
) -> list[dict]:
    """Allow only `service_account` (of `source_namespace`, default the same namespace) to
    call app=`app` with `methods` (mTLS identities: cluster.local/ns/<ns>/sa/<sa>)."""
    check_name("service_account", service_account)
    src = check_name("source_namespace", source_namespace or namespace)
    principal = f"cluster.local/ns/{src}/sa/{service_account}"
    spec = {
        **_selector(app),
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": [principal]}}],
                "to": [{"operation": {"methods": _methods(methods)}}],
            }
        ],
    }
    policy_name = check_name("name", name or f"{app}-allow-{service_account}")
    return [obj(SECURITY, "AuthorizationPolicy", policy_name, namespace, spec=spec)]


def deny_namespace(
    namespace: str = "default",
    *,
    from_namespace: str = "bar",
    methods: Iterable[str] = ("POST",),
    app: str | None = None,
    name: str = "authdenypolicy",
) -> list[dict]:
    """DENY `methods` requests coming from `from_namespace` (the seeds' DENY POST from bar)."""
    spec = {
        **_selector(app),
        "action": "DENY",
        "rules": [
            {
                "from": [
                    {"source": {"namespaces": [check_name("from_namespace", from_namespace)]}}
                ],
                "to": [{"operation": {"methods": _methods(methods)}}],
            }
        ],
    }
    return [obj(SECURITY, "AuthorizationPolicy", check_name("name", name), namespace, spec=spec)]


def request_authentication(
    namespace: str = "default",
    *,
    issuer: str = DEFAULT_ISSUER,
    jwks_uri: str | None = None,
    jwks: Mapping[str, Any] | str | None = None,
    selector: Mapping[str, str] | None = None,
    require: bool = False,
    name: str = "jwt",
) -> list[dict]:
    """Validate JWTs from `issuer` against `jwks` (a JWK set, dict or JSON) or `jwks_uri`
    (at most one; Istio's test JWKS URL when neither is given) for the workloads matching
    `selector` (e.g. {"istio": "ingressgateway"} in istio-system). `require=True` adds an
    AuthorizationPolicy that rejects requests without a valid token (requestPrincipals "*")."""
    if not isinstance(issuer, str) or not issuer:
        raise ParameterError("issuer", issuer, "the token issuer (the `iss` claim), non-empty")
    if jwks_uri is not None and jwks is not None:
        raise ParameterError("jwks", jwks, "only one of jwks (a JWK set) or jwks_uri (a URL)")
    if jwks is None and jwks_uri is None:
        jwks_uri = TEST_JWKS_URI
    rule: dict[str, Any] = {"issuer": issuer}
    if jwks_uri is not None:
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ParameterError("jwks_uri", jwks_uri, "an http(s):// URL of a JWK set")
        rule["jwksUri"] = jwks_uri
    else:
        rule["jwks"] = _jwks_text(jwks)
    sel = {"selector": {"matchLabels": _labels(selector)}} if selector else {}
    out = [
        obj(
            SECURITY,
            "RequestAuthentication",
            check_name("name", name),
            namespace,
            spec={**sel, "jwtRules": [rule]},
        )
    ]
    if require:
        spec = {
            **sel,
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}],
        }
        out.append(obj(SECURITY, "AuthorizationPolicy", f"{name}-required", namespace, spec=spec))
    return out


def _jwks_text(jwks: Mapping[str, Any] | str | None) -> str:
    try:
        data = json.loads(jwks) if isinstance(jwks, str) else dict(jwks or {})
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise ParameterError("jwks", jwks, 'a JWK set: {"keys": [...]} with at least one key')
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _labels(selector: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(selector, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in selector.items()
    ):
        raise ParameterError("selector", selector, "a mapping of label names to values")
    return dict(selector)


PRESETS: dict[str, _presets.Preset] = {
    "peer-authentication": peer_authentication,
    "allow-nothing": allow_nothing,
    "deny-all": deny_all,
    "allow-service-account": allow_service_account,
    "deny-namespace": deny_namespace,
    "request-authentication": request_authentication,
}
SECURITY_PRESETS: tuple[str, ...] = tuple(PRESETS)


def security_preset(name: str, *, namespace: str = "default", **params: Any) -> list[dict]:
    """Build the security preset `name` (one of SECURITY_PRESETS) with its `params`."""
    return _presets.run("security", PRESETS, name, namespace, params)
