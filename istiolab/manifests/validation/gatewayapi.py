"""The Kubernetes Gateway API's schema (gateway.networking.k8s.io), as Istio 1.30 serves it.

No maintained PyPI package ships Gateway API models, so this is a field table compiled from
the CRDs' facts (Gateway API v1.4: standard channel GatewayClass, Gateway, HTTPRoute,
GRPCRoute at v1 (and v1beta1), ReferenceGrant at v1beta1; experimental TCPRoute and TLSRoute
at v1alpha2 (TLSRoute also v1alpha3)). Unknown fields, missing required fields, wrong types
and values outside an enum are reported with the field path, like the API server's
strict field validation and the CRDs' OpenAPI checks.

Table notation: a model is a dict ``{field: (type, required)}``; a type is ``"str"``,
``"int"``, ``"bool"``, ``"any"``, a model, ``[type]`` (a list) or a frozenset (an enum).
"""

from __future__ import annotations

from typing import Any

from istiolab.manifests.validation._util import Problem, did_you_mean

GROUP = "gateway.networking.k8s.io"
STANDARD = ("v1", "v1beta1")
VERSIONS: dict[str, tuple[str, ...]] = {
    "GatewayClass": STANDARD,
    "Gateway": STANDARD,
    "HTTPRoute": STANDARD,
    "GRPCRoute": ("v1",),
    "ReferenceGrant": ("v1beta1", "v1alpha2"),
    "TCPRoute": ("v1alpha2",),
    "TLSRoute": ("v1alpha2", "v1alpha3"),
}

_S = ("str", False)
_I = ("int", False)
PARENT_REF = {
    "group": _S,
    "kind": _S,
    "namespace": _S,
    "name": ("str", True),
    "sectionName": _S,
    "port": _I,
}
OBJECT_REF = {"group": _S, "kind": _S, "namespace": _S, "name": ("str", True)}
BACKEND_REF = {**OBJECT_REF, "port": _I, "weight": _I, "filters": (["any"], False)}
MIRROR_REF = {**OBJECT_REF, "port": _I}
HEADER = {"name": ("str", True), "value": ("str", True)}
HEADER_MODIFIER = {"set": ([HEADER], False), "add": ([HEADER], False), "remove": (["str"], False)}
PATH_MODIFIER = {
    "type": (frozenset({"ReplaceFullPath", "ReplacePrefixMatch"}), True),
    "replaceFullPath": _S,
    "replacePrefixMatch": _S,
}
MATCH_TYPES = frozenset({"Exact", "RegularExpression"})
HTTP_FILTER = {
    "type": (
        frozenset(
            {
                "RequestHeaderModifier",
                "ResponseHeaderModifier",
                "RequestRedirect",
                "URLRewrite",
                "RequestMirror",
                "ExtensionRef",
                "CORS",
            }
        ),
        True,
    ),
    "requestHeaderModifier": (HEADER_MODIFIER, False),
    "responseHeaderModifier": (HEADER_MODIFIER, False),
    "requestRedirect": (
        {
            "scheme": (frozenset({"http", "https"}), False),
            "hostname": _S,
            "path": (PATH_MODIFIER, False),
            "port": _I,
            "statusCode": (frozenset({301, 302, 303, 307, 308}), False),
        },
        False,
    ),
    "urlRewrite": ({"hostname": _S, "path": (PATH_MODIFIER, False)}, False),
    "requestMirror": (
        {
            "backendRef": (MIRROR_REF, True),
            "percent": _I,
            "fraction": ({"numerator": ("int", True), "denominator": _I}, False),
        },
        False,
    ),
    "extensionRef": (OBJECT_REF, False),
    "cors": ("any", False),
}
HTTP_MATCH = {
    "path": (
        {
            "type": (frozenset({"Exact", "PathPrefix", "RegularExpression"}), False),
            "value": _S,
        },
        False,
    ),
    "headers": ([{"type": (MATCH_TYPES, False), **HEADER}], False),
    "queryParams": ([{"type": (MATCH_TYPES, False), **HEADER}], False),
    "method": (
        frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}),
        False,
    ),
}
HTTP_RULE = {
    "name": _S,
    "matches": ([HTTP_MATCH], False),
    "filters": ([HTTP_FILTER], False),
    "backendRefs": ([BACKEND_REF], False),
    "timeouts": ({"request": _S, "backendRequest": _S}, False),
    "retry": ({"codes": (["int"], False), "attempts": _I, "backoff": _S}, False),
    "sessionPersistence": ("any", False),
}
GRPC_RULE = {
    "name": _S,
    "matches": (
        [
            {
                "method": (
                    {
                        "type": (MATCH_TYPES, False),
                        "service": _S,
                        "method": _S,
                    },
                    False,
                ),
                "headers": ([{"type": (MATCH_TYPES, False), **HEADER}], False),
            }
        ],
        False,
    ),
    "filters": ([HTTP_FILTER], False),
    "backendRefs": ([BACKEND_REF], False),
    "sessionPersistence": ("any", False),
}
L4_RULE = {"name": _S, "backendRefs": ([BACKEND_REF], False)}
ROUTE_COMMON = {"parentRefs": ([PARENT_REF], False), "hostnames": (["str"], False)}
LISTENER = {
    "name": ("str", True),
    "hostname": _S,
    "port": ("int", True),
    "protocol": (frozenset({"HTTP", "HTTPS", "TLS", "TCP", "UDP"}), True),
    "tls": (
        {
            "mode": (frozenset({"Terminate", "Passthrough"}), False),
            "certificateRefs": ([OBJECT_REF], False),
            "options": ({"*": _S}, False),
            "frontendValidation": ("any", False),
        },
        False,
    ),
    "allowedRoutes": (
        {
            "namespaces": (
                {
                    "from": (frozenset({"All", "Same", "Selector"}), False),
                    "selector": ("any", False),
                },
                False,
            ),
            "kinds": ([{"group": _S, "kind": ("str", True)}], False),
        },
        False,
    ),
}
SPECS: dict[str, dict] = {
    "GatewayClass": {
        "controllerName": ("str", True),
        "parametersRef": ("any", False),
        "description": _S,
    },
    "Gateway": {
        "gatewayClassName": ("str", True),
        "listeners": ([LISTENER], True),
        "addresses": ([{"type": _S, "value": ("str", True)}], False),
        "infrastructure": ("any", False),
    },
    "HTTPRoute": {**ROUTE_COMMON, "rules": ([HTTP_RULE], False)},
    "GRPCRoute": {**ROUTE_COMMON, "rules": ([GRPC_RULE], False)},
    "TCPRoute": {"parentRefs": ([PARENT_REF], False), "rules": ([L4_RULE], True)},
    "TLSRoute": {**ROUTE_COMMON, "rules": ([L4_RULE], True)},
    "ReferenceGrant": {
        "from": (
            [{"group": ("str", True), "kind": ("str", True), "namespace": ("str", True)}],
            True,
        ),
        "to": ([{"group": ("str", True), "kind": ("str", True), "name": _S}], True),
    },
}


def is_gateway_api(api_version: str) -> bool:
    return api_version.split("/", 1)[0] == GROUP


def kinds() -> list[str]:
    return sorted(VERSIONS)


def api_problem(api_version: str, kind: str) -> Problem | None:
    version = api_version.partition("/")[2]
    if kind not in VERSIONS:
        hint = did_you_mean(kind, list(VERSIONS))
        listed = f"kinds of {GROUP}: " + ", ".join(kinds())
        return Problem(
            "kind", f"unknown apiVersion/kind {api_version}/{kind}", f"{hint} {listed}".strip()
        )
    if version not in VERSIONS[kind]:
        served = ", ".join(f"{GROUP}/{v}" for v in VERSIONS[kind])
        return Problem("apiVersion", f"{kind} is not served at {api_version}", f"use {served}")
    return None


def check(doc: dict) -> list[Problem]:
    """Schema problems of one Gateway API object (apiVersion and kind already known)."""
    problem = api_problem(doc["apiVersion"], doc["kind"])
    if problem:
        return [problem]
    allowed = {"apiVersion", "kind", "metadata", "spec", "status"}
    out = [
        Problem(k, "unknown field", did_you_mean(k, sorted(allowed)) or "")
        for k in doc
        if k not in allowed
    ]
    spec = doc.get("spec")
    if spec is None:
        return [*out, Problem("spec", "required field is missing")]
    return out + _check(spec, SPECS[doc["kind"]], "spec")


def _type_name(t: Any) -> str:
    if isinstance(t, frozenset):
        return "one of " + ", ".join(sorted(str(v) for v in t))
    if isinstance(t, list):
        return "a list"
    if isinstance(t, dict):
        return "a mapping"
    return {"str": "a string", "int": "an integer", "bool": "a boolean"}.get(t, "a value")


def _check(value: Any, t: Any, path: str) -> list[Problem]:
    if t == "any":
        return []
    if isinstance(t, frozenset):
        if value not in t:
            hint = did_you_mean(str(value), sorted(str(v) for v in t)) or ""
            return [Problem(path, f"{value!r} is not {_type_name(t)}", hint)]
        return []
    if t == "str":
        ok = isinstance(value, str)
    elif t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif t == "bool":
        ok = isinstance(value, bool)
    elif isinstance(t, list):
        if not isinstance(value, list):
            return [Problem(path, f"expected a list, got {type(value).__name__}")]
        out: list[Problem] = []
        for i, item in enumerate(value):
            out += _check(item, t[0], f"{path}[{i}]")
        return out
    else:
        if not isinstance(value, dict):
            return [Problem(path, f"expected a mapping, got {type(value).__name__}")]
        if "*" in t:  # a map of strings
            return []
        out = []
        for key, item in value.items():
            if key not in t:
                hint = did_you_mean(str(key), list(t)) or f"known fields: {', '.join(t)}"
                out.append(Problem(f"{path}.{key}", "unknown field", hint))
                continue
            out += _check(item, t[key][0], f"{path}.{key}")
        for key, (_, required) in t.items():
            if required and key not in value:
                out.append(Problem(f"{path}.{key}", "required field is missing"))
        return out
    if not ok:
        return [Problem(path, f"{value!r} is not {_type_name(t)}")]
    return []
