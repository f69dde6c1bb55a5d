"""AuthorizationPolicy -> Envoy RBAC HTTP filters (pure).

Selection, as Istio's: policies in the root namespace (``istio-system``) apply to every
workload (or those their ``selector`` matches), policies in a workload's namespace to it
(or those their selector matches). Evaluation: one RBAC filter per action, in Istio's
order AUDIT (action LOG: marks, never blocks), DENY, ALLOW; with no ALLOW policy every
request not denied is allowed; with ALLOW policies a request must match one of their
rules; a policy with no rules (``spec: {}``) allows nothing; a DENY policy with no rules
denies nothing. CUSTOM is refused at apply time (``security.check_objects``).

Fields -> Envoy: ``source.principals`` -> ``authenticated.principal_name`` on the peer
certificate's URI SAN (``spiffe://`` + principal; ``*`` prefix/suffix wildcards),
``namespaces`` -> a regex ``.*/ns/<ns>/.*`` on it, ``ipBlocks`` -> ``direct_remote_ip``,
``remoteIpBlocks`` -> ``remote_ip``, ``requestPrincipals`` -> the JWT payload that
jwt_authn writes to metadata (``iss/sub``); ``operation.hosts`` -> ``:authority``,
``methods`` -> ``:method``, ``paths`` -> ``url_path``, ``ports`` -> ``destination_port``;
``not*`` fields -> ``not_id``/``not_rule``; ``when`` keys ``request.headers[h]``,
``source.ip``, ``remote.ip``, ``source.namespace``, ``source.principal``,
``request.auth.principal|audiences|presenter|claims[c]...``, ``destination.ip``,
``destination.port``, ``connection.sni``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from istiolab.local.model import ISTIO_SYSTEM, Proxy
from istiolab.local.translate.common import labels_match, meta

RBAC = "envoy.filters.http.rbac"
RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
JWT_FILTER = "envoy.filters.http.jwt_authn"
PAYLOAD_KEY = "payload"  # jwt_authn payload_in_metadata (see jwt.py)
ACTIONS = ("ALLOW", "DENY", "AUDIT")


def selected(objects: list[dict], proxy: Proxy) -> list[dict]:
    """The policies of a kind that apply to ``proxy`` (root namespace first, store order)."""
    pod = proxy.pod
    out = []
    for root in (True, False):
        for obj in objects:
            ns = meta(obj)[1]
            if (ns == ISTIO_SYSTEM) != root or (not root and ns != pod.namespace):
                continue
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
            if selector and not labels_match(selector, pod.labels):
                continue
            out.append(obj)
    return out


# -- string matchers ---------------------------------------------------------------------


def _pattern(value: str, *, prefix: str = "", ignore_case: bool = False) -> dict:
    """Istio's string pattern (exact, ``x*`` prefix, ``*x`` suffix, ``*`` presence)."""
    v = str(value)
    if v == "*":
        out: dict = {"safe_regex": {"regex": ".+"}}
        return out
    if v.endswith("*"):
        out = {"prefix": prefix + v[:-1]}
    elif v.startswith("*"):
        out = {"suffix": v[1:]}
    else:
        out = {"exact": prefix + v}
    if ignore_case:
        out["ignore_case"] = True
    return out


def _or_perm(items: list[dict]) -> dict:
    return items[0] if len(items) == 1 else {"or_rules": {"rules": items}}


def _or_princ(items: list[dict]) -> dict:
    return items[0] if len(items) == 1 else {"or_ids": {"ids": items}}


def _header(name: str, matcher: dict) -> dict:
    return {"header": {"name": name, "string_match": matcher}}


def _principal_name(matcher: dict) -> dict:
    return {"authenticated": {"principal_name": matcher}}


def _spiffe(principal: str) -> dict:
    if principal == "*":
        return _principal_name({"safe_regex": {"regex": ".+"}})
    if principal.startswith("*"):
        return _principal_name({"suffix": principal[1:]})
    return _principal_name(_pattern(principal, prefix="spiffe://"))


def _namespace(ns: str) -> dict:
    if ns == "*":
        return _principal_name({"safe_regex": {"regex": ".*/ns/.+/.*"}})
    return _principal_name({"safe_regex": {"regex": f".*/ns/{re.escape(ns)}/.*"}})


def _cidr(block: str) -> dict:
    ip, _, length = str(block).partition("/")
    return {"address_prefix": ip, "prefix_len": int(length or (128 if ":" in ip else 32))}


def _metadata(path: list[str], value: dict) -> dict:
    return {
        "metadata": {
            "filter": JWT_FILTER,
            "path": [{"key": k} for k in [PAYLOAD_KEY, *path]],
            "value": value,
        }
    }


def _claim(path: list[str], v: str) -> dict:
    """A claim equal to ``v`` or, for a list claim, holding ``v``."""
    matcher = _pattern(v)
    return {
        "or_ids": {
            "ids": [
                _metadata(path, {"string_match": matcher}),
                _metadata(path, {"list_match": {"one_of": {"string_match": matcher}}}),
            ]
        }
    }


def _request_principal(value: str) -> dict:
    if value == "*":
        return _metadata([], {"present_match": True})
    iss, sep, sub = value.rpartition("/")
    if not sep:
        return _metadata(["iss"], {"string_match": _pattern(value)})
    ids = []
    if iss and iss != "*":
        ids.append(_metadata(["iss"], {"string_match": _pattern(iss)}))
    if sub and sub != "*":
        ids.append(_metadata(["sub"], {"string_match": _pattern(sub)}))
    if not ids:
        return _metadata([], {"present_match": True})
    return ids[0] if len(ids) == 1 else {"and_ids": {"ids": ids}}


# -- rule pieces -------------------------------------------------------------------------

SOURCE_FIELDS: dict[str, Callable[[str], dict]] = {
    "principals": _spiffe,
    "namespaces": _namespace,
    "ipBlocks": lambda v: {"direct_remote_ip": _cidr(v)},
    "remoteIpBlocks": lambda v: {"remote_ip": _cidr(v)},
    "requestPrincipals": _request_principal,
}


def _path(v: str) -> dict:
    return {"url_path": {"path": _pattern(v)}}


OPERATION_FIELDS: dict[str, Callable[[str], dict]] = {
    "hosts": lambda v: _or_perm(
        [
            _header(":authority", _pattern(v, ignore_case=True)),
            _header(":authority", {"prefix": f"{v}:", "ignore_case": True}),
        ]
        if "*" not in v
        else [_header(":authority", _pattern(v, ignore_case=True))]
    ),
    "methods": lambda v: _header(":method", {"exact": v}),
    "paths": _path,
    "ports": lambda v: {"destination_port": int(v)},
}


def _source(src: Mapping) -> dict:
    ids: list[dict] = []
    for field, build in SOURCE_FIELDS.items():
        if src.get(field):
            ids.append(_or_princ([build(v) for v in src[field]]))
        neg = "not" + field[0].upper() + field[1:]
        if src.get(neg):
            ids.append({"not_id": _or_princ([build(v) for v in src[neg]])})
    if not ids:
        return {"any": True}
    return ids[0] if len(ids) == 1 else {"and_ids": {"ids": ids}}


def _operation(op: Mapping) -> dict:
    rules: list[dict] = []
    for field, build in OPERATION_FIELDS.items():
        if op.get(field):
            rules.append(_or_perm([build(str(v)) for v in op[field]]))
        neg = "not" + field[0].upper() + field[1:]
        if op.get(neg):
            rules.append({"not_rule": _or_perm([build(str(v)) for v in op[neg]])})
    if not rules:
        return {"any": True}
    return rules[0] if len(rules) == 1 else {"and_rules": {"rules": rules}}


_BRACKETS = re.compile(r"\[([^\]]*)\]")


def condition(key: str, values: list[str]) -> tuple[str, dict]:
    """("principal" | "permission", matcher) for one ``when`` key and its values."""
    base = key.split("[", 1)[0]
    args = _BRACKETS.findall(key)
    if base == "request.headers" and args:
        return "permission", _or_perm([_header(args[0], _pattern(v)) for v in values])
    if base == "source.ip":
        return "principal", _or_princ([{"direct_remote_ip": _cidr(v)} for v in values])
    if base == "remote.ip":
        return "principal", _or_princ([{"remote_ip": _cidr(v)} for v in values])
    if base == "source.namespace":
        return "principal", _or_princ([_namespace(v) for v in values])
    if base == "source.principal":
        return "principal", _or_princ([_spiffe(v) for v in values])
    if base == "request.auth.principal":
        return "principal", _or_princ([_request_principal(v) for v in values])
    if base == "request.auth.audiences":
        return "principal", _or_princ([_claim(["aud"], v) for v in values])
    if base == "request.auth.presenter":
        return "principal", _or_princ([_claim(["azp"], v) for v in values])
    if base == "request.auth.claims" and args:
        return "principal", _or_princ([_claim(args, v) for v in values])
    if base == "destination.ip":
        return "permission", _or_perm([{"destination_ip": _cidr(v)} for v in values])
    if base == "destination.port":
        return "permission", _or_perm([{"destination_port": int(v)} for v in values])
    if base == "connection.sni":
        return "permission", _or_perm([{"requested_server_name": _pattern(v)} for v in values])
    raise ValueError(f"unsupported AuthorizationPolicy condition key {key!r}")


CONDITION_KEYS = (
    "request.headers[<name>]",
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "request.auth.claims[<claim>]",
    "destination.ip",
    "destination.port",
    "connection.sni",
)


def rule_policy(rule: Mapping) -> dict:
    """One AuthorizationPolicy rule -> an Envoy RBAC Policy."""
    froms = [_source((f or {}).get("source") or {}) for f in rule.get("from") or []]
    tos = [_operation((t or {}).get("operation") or {}) for t in rule.get("to") or []]
    principals: list[dict] = [_or_princ(froms)] if froms else []
    permissions: list[dict] = [_or_perm(tos)] if tos else []
    for cond in rule.get("when") or []:
        key = str(cond.get("key", ""))
        for field, negate in (("values", False), ("notValues", True)):
            if not cond.get(field):
                continue
            where, matcher = condition(key, [str(v) for v in cond[field]])
            if negate:
                matcher = {"not_id": matcher} if where == "principal" else {"not_rule": matcher}
            (principals if where == "principal" else permissions).append(matcher)
    if not principals:
        principals = [{"any": True}]
    if not permissions:
        permissions = [{"any": True}]
    p = principals[0] if len(principals) == 1 else {"and_ids": {"ids": principals}}
    q = permissions[0] if len(permissions) == 1 else {"and_rules": {"rules": permissions}}
    return {"permissions": [q], "principals": [p]}


def rbac_configs(policies: list[dict]) -> dict[str, dict]:
    """One RBAC filter config per action (``audit``, ``deny``, ``allow``, the order of the
    filters) for the policies applying to one proxy. An action no policy uses gets a
    config without ``rules``, which enforces nothing; so does DENY with no rules at all."""
    by_action: dict[str, dict[str, dict]] = {a: {} for a in ACTIONS}
    present: set[str] = set()
    for policy in policies:
        spec = policy.get("spec") or {}
        action = str(spec.get("action") or "ALLOW").upper()
        if action not in ACTIONS:
            continue
        present.add(action)
        name, ns = meta(policy)
        for i, rule in enumerate(spec.get("rules") or []):
            by_action[action][f"ns[{ns}]-policy[{name}]-rule[{i}]"] = rule_policy(rule or {})
    out: dict[str, dict] = {}
    for action in ("AUDIT", "DENY", "ALLOW"):
        config: dict = {"@type": RBAC_TYPE}
        if action in present and (action == "ALLOW" or by_action[action]):
            envoy_action = "LOG" if action == "AUDIT" else action
            config["rules"] = {"action": envoy_action, "policies": by_action[action]}
        out[action.lower()] = config
    return out


# -- TCP ports: the network RBAC filter ----------------------------------------------------

NETWORK_RBAC = "envoy.filters.network.rbac"
NETWORK_RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
HTTP_ONLY_SOURCE = ("requestPrincipals", "notRequestPrincipals")
HTTP_ONLY_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
HTTP_ONLY_KEYS = ("request.headers", "request.auth.")


def _http_only_condition(cond: Mapping) -> bool:
    return str(cond.get("key", "")).startswith(HTTP_ONLY_KEYS)


def tcp_rule(rule: Mapping, action: str) -> dict | None:
    """A rule as Istio applies it to TCP traffic: HTTP-only fields (methods, paths, hosts,
    requestPrincipals, request.* conditions) cannot match a TCP connection, so an ALLOW or
    AUDIT rule using them is dropped, and a DENY rule drops them (it denies more)."""
    froms = [dict((f or {}).get("source") or {}) for f in rule.get("from") or []]
    tos = [dict((t or {}).get("operation") or {}) for t in rule.get("to") or []]
    when = [dict(c or {}) for c in rule.get("when") or []]
    http = (
        any(k in f for f in froms for k in HTTP_ONLY_SOURCE)
        or any(k in t for t in tos for k in HTTP_ONLY_OPERATION)
        or any(_http_only_condition(c) for c in when)
    )
    if not http:
        return dict(rule)
    if action != "DENY":
        return None
    out: dict = {}
    froms = [{k: v for k, v in f.items() if k not in HTTP_ONLY_SOURCE} for f in froms]
    tos = [{k: v for k, v in t.items() if k not in HTTP_ONLY_OPERATION} for t in tos]
    if any(froms):
        out["from"] = [{"source": f} for f in froms if f]
    if any(tos):
        out["to"] = [{"operation": t} for t in tos if t]
    kept = [c for c in when if not _http_only_condition(c)]
    if kept:
        out["when"] = kept
    return out


def network_rbac_filters(policies: list[dict], stat_prefix: str) -> list[dict]:
    """Network RBAC filters (DENY, then ALLOW) for a TCP port of one proxy; none when no
    policy applies, ALLOW with no matching rule when only HTTP rules allow."""
    by_action: dict[str, dict[str, dict]] = {"DENY": {}, "ALLOW": {}}
    present: set[str] = set()
    for policy in policies:
        spec = policy.get("spec") or {}
        action = str(spec.get("action") or "ALLOW").upper()
        if action not in by_action:
            continue
        present.add(action)
        name, ns = meta(policy)
        for i, rule in enumerate(spec.get("rules") or []):
            tcp = tcp_rule(rule or {}, action)
            if tcp is not None:
                by_action[action][f"ns[{ns}]-policy[{name}]-rule[{i}]"] = rule_policy(tcp)
    out = []
    for action in ("DENY", "ALLOW"):
        if action not in present or (action == "DENY" and not by_action[action]):
            continue
        config = {
            "@type": NETWORK_RBAC_TYPE,
            "stat_prefix": stat_prefix,
            "rules": {"action": action, "policies": by_action[action]},
        }
        out.append({"name": NETWORK_RBAC, "typed_config": config})
    return out
