"""The checks Istio's validation webhook makes beyond the schema: route weights sum to
100, percentages within 0..100, durations parse and are not negative, fields a route or
rule cannot do without, one-of fields set exactly once. Plus the few Kubernetes API server
rules a learner trips over (selector vs template labels, port ranges, port names).

Runs on objects whose structure already passed the schema walk, but stays defensive
about types so that it never raises on odd input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from istiolab.durations import EXAMPLES, is_duration, nanoseconds
from istiolab.manifests.validation import envoy_limits
from istiolab.manifests.validation._util import Problem, join, short

_STRING_MATCH = ("exact", "prefix", "regex")
_MS = 10**6
# Envoy's retry-on conditions Istio's webhook accepts in retries.retryOn (besides HTTP codes)
RETRY_ON = (
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
    "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal",
    "resource-exhausted", "unavailable",
)  # fmt: skip
HTTP_CODES = {str(int(s)) for s in HTTPStatus}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def duration(value: Any, path: str, out: list[Problem]) -> None:
    if value is None:
        return
    if not is_duration(value):
        out.append(
            Problem(
                path,
                f"{short(value)} is not a valid duration",
                f"use a non-negative duration such as {EXAMPLES}",
            )
        )


def istio_duration(value: Any, path: str, out: list[Problem]) -> None:
    """A duration Istio's webhook checks further: at least 1ms, to ms precision."""
    before = len(out)
    duration(value, path, out)
    if value is None or len(out) > before:
        return
    ns = nanoseconds(value)
    if ns < _MS:
        out.append(Problem(path, f"{short(value)} is shorter than 1ms", "Istio needs at least 1ms"))
    elif ns % _MS:
        out.append(
            Problem(
                path,
                f"{short(value)} is finer than 1ms",
                "Istio supports durations to ms precision only, e.g. 1500ms",
            )
        )


def _retries(retries: dict, path: str, out: list[Problem]) -> None:
    attempts = retries.get("attempts")
    non_negative(attempts, join(path, "attempts"), out)
    istio_duration(retries.get("perTryTimeout"), join(path, "perTryTimeout"), out)
    istio_duration(retries.get("backoff"), join(path, "backoff"), out)
    configured = [k for k in ("perTryTimeout", "retryOn", "retryRemoteLocalities") if k in retries]
    if attempts in (None, 0) and configured:
        out.append(
            Problem(
                join(path, "attempts"),
                f"retries are off (attempts {attempts or 0}) but {', '.join(configured)} "
                + ("are set" if len(configured) > 1 else "is set"),
                "set attempts to 1 or more, or remove the retry settings",
            )
        )
    retry_on = retries.get("retryOn")
    if isinstance(retry_on, str) and retry_on:
        for policy in retry_on.split(","):
            if policy not in RETRY_ON and policy not in HTTP_CODES:
                out.append(
                    Problem(
                        join(path, "retryOn"),
                        f"{policy!r} is not a valid retryOn policy",
                        "a comma-separated list, no spaces, of HTTP status codes and of "
                        + ", ".join(RETRY_ON),
                    )
                )


def percent(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 100:
        out.append(Problem(path, f"{value} is outside 0..100", "a percentage from 0 to 100"))


def non_negative(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        out.append(Problem(path, f"{value} is negative", "use 0 or a positive number"))


def required(parent: dict, key: str, path: str, out: list[Problem]) -> None:
    if parent.get(key) in (None, "", [], {}):
        out.append(Problem(join(path, key), "required field is missing or empty"))


def one_of(parent: Any, keys: tuple[str, ...], path: str, out: list[Problem]) -> None:
    if not isinstance(parent, dict):
        return
    present = [k for k in keys if parent.get(k) is not None]
    if len(present) != 1:
        out.append(
            Problem(
                path,
                f"exactly one of {', '.join(keys)} must be set"
                + (f" (found {', '.join(present)})" if present else ""),
            )
        )


# --- VirtualService ---------------------------------------------------------------------


def _routes(routes: Any, path: str, out: list[Problem]) -> None:
    routes = _list(routes)
    weights = []
    for i, r in enumerate(routes):
        r = _dict(r)
        rp = join(path, i)
        required(r, "destination", rp, out)
        dest = _dict(r.get("destination"))
        if dest:
            required(dest, "host", join(rp, "destination"), out)
        w = r.get("weight")
        non_negative(w, join(rp, "weight"), out)
        weights.append(w if isinstance(w, int) and not isinstance(w, bool) else 0)
    if len(routes) > 1 and sum(weights) != 100:
        out.append(
            Problem(
                path,
                f"route weights sum to {sum(weights)}, not 100",
                "make the weights of the destinations of one route add up to 100",
            )
        )


def _string_match(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, dict):
        one_of(value, _STRING_MATCH, path, out)
        if "regex" in value:
            envoy_limits.regex(value["regex"], join(path, "regex"), out)


def _http_route(route: dict, path: str, out: list[Problem]) -> None:
    if not any(route.get(k) for k in ("route", "redirect", "directResponse", "delegate")):
        out.append(Problem(path, "an http route needs route, redirect, directResponse or delegate"))
    if route.get("route"):
        _routes(route["route"], join(path, "route"), out)
    for i, m in enumerate(_list(route.get("match"))):
        mp = join(join(path, "match"), i)
        m = _dict(m)
        for key in ("uri", "scheme", "method", "authority"):
            _string_match(m.get(key), join(mp, key), out)
        for key in ("headers", "queryParams", "withoutHeaders"):
            for name, sm in _dict(m.get(key)).items():
                if sm not in ({}, None):  # an empty match tests presence only
                    _string_match(sm, join(join(mp, key), name), out)
    fault = _dict(route.get("fault"))
    fp = join(path, "fault")
    if "delay" in fault:
        delay = _dict(fault["delay"])
        dp = join(fp, "delay")
        one_of(delay, ("fixedDelay", "exponentialDelay"), dp, out)
        istio_duration(delay.get("fixedDelay"), join(dp, "fixedDelay"), out)
        if delay.get("exponentialDelay") is not None:
            out.append(
                Problem(join(dp, "exponentialDelay"), "is not supported yet", "use fixedDelay")
            )
        percent(_dict(delay.get("percentage")).get("value"), join(dp, "percentage.value"), out)
        percent(delay.get("percent"), join(dp, "percent"), out)
    if "abort" in fault:
        abort = _dict(fault["abort"])
        ap = join(fp, "abort")
        one_of(abort, ("httpStatus", "grpcStatus", "http2Error"), ap, out)
        status = abort.get("httpStatus")
        if isinstance(status, int) and not 200 <= status <= 599:
            out.append(
                Problem(join(ap, "httpStatus"), f"{status} is not an HTTP status", "200..599")
            )
        percent(_dict(abort.get("percentage")).get("value"), join(ap, "percentage.value"), out)
        percent(abort.get("percent"), join(ap, "percent"), out)
    if fault and not ({"delay", "abort"} & set(fault)):
        out.append(Problem(fp, "a fault needs a delay or an abort"))
    istio_duration(route.get("timeout"), join(path, "timeout"), out)
    retries = _dict(route.get("retries"))
    if retries:
        _retries(retries, join(path, "retries"), out)
    if route.get("mirror") is not None:
        required(_dict(route["mirror"]), "host", join(path, "mirror"), out)
    percent(
        _dict(route.get("mirrorPercentage")).get("value"), join(path, "mirrorPercentage.value"), out
    )
    for i, mp in enumerate(_list(route.get("mirrors"))):
        percent(_dict(_dict(mp).get("percentage")).get("value"), join(path, f"mirrors[{i}]"), out)
    cors = _dict(route.get("corsPolicy"))
    for i, origin in enumerate(_list(cors.get("allowOrigins"))):
        _string_match(origin, join(join(path, "corsPolicy.allowOrigins"), i), out)


def virtual_service(spec: dict, out: list[Problem]) -> None:
    required(spec, "hosts", "spec", out)
    if not any(spec.get(k) for k in ("http", "tcp", "tls")):
        out.append(Problem("spec", "a VirtualService needs at least one http, tcp or tls route"))
    for i, route in enumerate(_list(spec.get("http"))):
        if isinstance(route, dict):
            _http_route(route, f"spec.http[{i}]", out)
    for proto in ("tcp", "tls"):
        for i, route in enumerate(_list(spec.get(proto))):
            route = _dict(route)
            p = f"spec.{proto}[{i}]"
            required(route, "route", p, out)
            _routes(route.get("route"), join(p, "route"), out)


# --- DestinationRule ----------------------------------------------------------------------


def _traffic_policy(policy: Any, path: str, out: list[Problem]) -> None:
    policy = _dict(policy)
    pool = _dict(policy.get("connectionPool"))
    for section in ("tcp", "http"):
        for key, value in _dict(pool.get(section)).items():
            if key in ("connectTimeout", "idleTimeout"):
                istio_duration(value, join(path, f"connectionPool.{section}.{key}"), out)
            elif key == "maxConnectionDuration":
                duration(value, join(path, f"connectionPool.{section}.{key}"), out)
            else:
                non_negative(value, join(path, f"connectionPool.{section}.{key}"), out)
    keepalive = _dict(_dict(pool.get("tcp")).get("tcpKeepalive"))
    for key in ("time", "interval"):
        duration(keepalive.get(key), join(path, f"connectionPool.tcp.tcpKeepalive.{key}"), out)
    od = _dict(policy.get("outlierDetection"))
    op = join(path, "outlierDetection")
    for key in ("interval", "baseEjectionTime"):
        istio_duration(od.get(key), join(op, key), out)
    for key in (
        "consecutive5xxErrors",
        "consecutiveGatewayErrors",
        "consecutiveLocalOriginFailures",
    ):
        non_negative(od.get(key), join(op, key), out)
    for key in ("maxEjectionPercent", "minHealthPercent"):
        percent(od.get(key), join(op, key), out)
    tls = _dict(policy.get("tls"))
    if tls.get("mode") == "MUTUAL" and not tls.get("credentialName"):
        for key in ("clientCertificate", "privateKey"):
            required(tls, key, join(path, "tls"), out)
    for i, pls in enumerate(_list(policy.get("portLevelSettings"))):
        pls = _dict(pls)
        pp = join(path, f"portLevelSettings[{i}]")
        required(pls, "port", pp, out)
        _traffic_policy({k: v for k, v in pls.items() if k != "port"}, pp, out)


def destination_rule(spec: dict, out: list[Problem]) -> None:
    required(spec, "host", "spec", out)
    _traffic_policy(spec.get("trafficPolicy"), "spec.trafficPolicy", out)
    names: set[str] = set()
    for i, subset in enumerate(_list(spec.get("subsets"))):
        subset = _dict(subset)
        sp = f"spec.subsets[{i}]"
        required(subset, "name", sp, out)
        name = subset.get("name")
        if isinstance(name, str):
            if name in names:
                out.append(Problem(join(sp, "name"), f"duplicate subset name {name!r}"))
            names.add(name)
        _traffic_policy(subset.get("trafficPolicy"), join(sp, "trafficPolicy"), out)


# --- the rest ----------------------------------------------------------------------------


def gateway(spec: dict, out: list[Problem]) -> None:
    required(spec, "servers", "spec", out)
    for i, server in enumerate(_list(spec.get("servers"))):
        server = _dict(server)
        sp = f"spec.servers[{i}]"
        required(server, "port", sp, out)
        required(server, "hosts", sp, out)
        port = _dict(server.get("port"))
        if port:
            required(port, "number", join(sp, "port"), out)
            required(port, "protocol", join(sp, "port"), out)
            number = port.get("number")
            if isinstance(number, int) and not 1 <= number <= 65535:
                out.append(Problem(join(sp, "port.number"), f"{number} is not a port", "1..65535"))
            if str(port.get("protocol", "")).upper() in ("HTTPS", "TLS") and not server.get("tls"):
                out.append(
                    Problem(
                        join(sp, "tls"),
                        f"a {port['protocol']} server needs TLS settings",
                        "add tls: {mode: SIMPLE, credentialName: <secret>}",
                    )
                )


def service_entry(spec: dict, out: list[Problem]) -> None:
    required(spec, "hosts", "spec", out)
    for i, port in enumerate(_list(spec.get("ports"))):
        number = _dict(port).get("number")
        if isinstance(number, int) and not 1 <= number <= 65535:
            out.append(Problem(f"spec.ports[{i}].number", f"{number} is not a port", "1..65535"))


def peer_authentication(spec: dict, out: list[Problem]) -> None:
    if spec.get("portLevelMtls") and not spec.get("selector"):
        out.append(
            Problem(
                "spec.portLevelMtls",
                "port-level mTLS needs a workload selector",
                "add spec.selector",
            )
        )


def authorization_policy(spec: dict, out: list[Problem]) -> None:
    if spec.get("action") == "CUSTOM" and not spec.get("provider"):
        required(spec, "provider", "spec", out)
    for i, rule in enumerate(_list(spec.get("rules"))):
        for j, to in enumerate(_list(_dict(rule).get("to"))):
            for port in _list(_dict(_dict(to).get("operation")).get("ports")):
                if not (isinstance(port, str) and port.isdigit() and 1 <= int(port) <= 65535):
                    out.append(
                        Problem(
                            f"spec.rules[{i}].to[{j}].operation.ports",
                            f"{short(port)} is not a port",
                            "'1'..'65535'",
                        )
                    )


def request_authentication(spec: dict, out: list[Problem]) -> None:
    for i, rule in enumerate(_list(spec.get("jwtRules"))):
        rule = _dict(rule)
        rp = f"spec.jwtRules[{i}]"
        required(rule, "issuer", rp, out)
        if rule.get("jwks") and rule.get("jwksUri"):
            out.append(Problem(rp, "set only one of jwks and jwksUri"))
        if rule.get("jwks") is not None:
            envoy_limits.jwks(rule["jwks"], join(rp, "jwks"), out)
        duration(rule.get("timeout"), join(rp, "timeout"), out)


CHECKS: dict[str, Callable[[dict, list[Problem]], None]] = {
    "VirtualService": virtual_service,
    "DestinationRule": destination_rule,
    "Gateway": gateway,
    "ServiceEntry": service_entry,
    "PeerAuthentication": peer_authentication,
    "AuthorizationPolicy": authorization_policy,
    "RequestAuthentication": request_authentication,
}


def _run(checks: dict[str, Callable[[dict, list[Problem]], None]], doc: dict) -> list[Problem]:
    """The problems the check for `doc`'s kind finds in its spec (none for other kinds)."""
    checker = checks.get(doc.get("kind", ""))
    spec = doc.get("spec")
    if checker is None or not isinstance(spec, dict):
        return []
    out: list[Problem] = []
    checker(spec, out)
    return out


def check(doc: dict) -> list[Problem]:
    return _run(CHECKS, doc)


# --- Kubernetes API server rules the schema cannot express --------------------------------


def _port_range(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        out.append(Problem(path, f"{value} is not a port", "1..65535"))


def kube_service(spec: dict, out: list[Problem]) -> None:
    names: set[str] = set()
    ports = _list(spec.get("ports"))
    for i, port in enumerate(ports):
        port = _dict(port)
        pp = f"spec.ports[{i}]"
        _port_range(port.get("port"), join(pp, "port"), out)
        _port_range(port.get("targetPort"), join(pp, "targetPort"), out)
        name = port.get("name")
        if len(ports) > 1 and not name:
            out.append(Problem(join(pp, "name"), "ports must be named when there are several"))
        if isinstance(name, str) and name in names:
            out.append(Problem(join(pp, "name"), f"duplicate port name {name!r}"))
        names.add(name)


_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def kube_workload(spec: dict, out: list[Problem]) -> None:
    envoy_limits.replicas(spec.get("replicas"), "spec.replicas", out)
    pod = _dict(_dict(spec.get("template")).get("spec"))
    for field in ("serviceAccountName", "serviceAccount"):
        account = pod.get(field)
        if account is not None and (
            not isinstance(account, str) or len(account) > 253 or not _SUBDOMAIN.match(account)
        ):
            out.append(
                Problem(
                    f"spec.template.spec.{field}",
                    f"{short(account)} is not a valid service account name",
                    "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.' (it forms "
                    "the SPIFFE identity spiffe://cluster.local/ns/<ns>/sa/<name>)",
                )
            )
    selector = _dict(_dict(spec.get("selector")).get("matchLabels"))
    labels = _dict(_dict(_dict(spec.get("template")).get("metadata")).get("labels"))
    mismatched = {k: v for k, v in selector.items() if labels.get(k) != v}
    if mismatched:
        out.append(
            Problem(
                "spec.template.metadata.labels",
                "selector does not match template labels",
                "the pod labels must include "
                + ", ".join(f"{k}={v}" for k, v in mismatched.items()),
            )
        )
    for i, container in enumerate(
        _list(_dict(_dict(spec.get("template")).get("spec")).get("containers"))
    ):
        for j, port in enumerate(_list(_dict(container).get("ports"))):
            _port_range(
                _dict(port).get("containerPort"),
                f"spec.template.spec.containers[{i}].ports[{j}].containerPort",
                out,
            )


KUBE_CHECKS: dict[str, Callable[[dict, list[Problem]], None]] = {
    "Service": kube_service,
    "Deployment": kube_workload,
    "StatefulSet": kube_workload,
    "DaemonSet": kube_workload,
    "ReplicaSet": kube_workload,
}


def check_kube(doc: dict) -> list[Problem]:
    out = _run(KUBE_CHECKS, doc)
    if doc.get("kind") == "Secret":
        envoy_limits.secret_data(doc.get("data"), "data", out)
    return out
