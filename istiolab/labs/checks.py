"""The check vocabulary, as data: what each check type takes, what it means, and the
results a check produces. Checks are parsed and validated here (pure); the backend adapter
(:mod:`istiolab.labs.runner`) measures them.

Every check has an ``id``, a one-line ``description``, a ``hint`` (a text, or a mapping from a
regular expression on the measured value to the hint for that state, ``"*"`` the default),
``initially: fail|pass`` (what the self-test expects on the start state) and its type's
parameters below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from istiolab.errors import ConfigError

# parameter -> (python types, one-line meaning); "!" marks a required parameter
_REQUEST = {
    "via": (str, "gateway (from outside the mesh) or WORKLOAD[.NS] to send from (default gateway)"),
    "url": (str, "the URL from a pod (http://httpbin.foo:8000/ip)"),
    "path": (str, "the path through the gateway (/productpage)"),
    "host": (str, "the Host header through the gateway"),
    "method": (str, "HTTP method (GET)"),
    "headers": (dict, "request headers"),
    "data": (str, "request body"),
    "user": (str, "log in to Bookinfo's productpage as this user first (jason)"),
    "timeout": ((int, float, str), "per-request timeout (30s)"),
    "tls": (dict, "HTTPS to the gateway's port 443: {ca: FILE in the lab, sni: HOST}"),
}
_EXPECT = (dict, "status, exit, body, not_body, header, version, latency {min, max}")
_DISTRIBUTION = {
    "distribution": (dict, "expected share per serving version, percent ({v1: 50, v3: 50})"),
    "requests": (int, "requests per try (500, the Gateway API conformance rule)"),
    "tolerance": ((int, float), "allowed deviation in percentage points (5)"),
    "tries": (int, "how many tries before failing (10)"),
    "concurrency": (int, "parallel requests (4)"),
}
_DURING = (
    dict,
    "a request (fields of a request check, plus count, concurrency and settle: a pause "
    "after it) run before measuring",
)

TYPES: dict[str, dict[str, tuple[Any, str]]] = {
    "object": {
        "kind!": (str, "the kind (VirtualService, vs, DestinationRule ...)"),
        "name": (str, "the object's name (default: any object that matches)"),
        "namespace": (str, "its namespace (default)"),
        "host": (str, "only objects for this host (spec.host or spec.hosts)"),
        "fields": (dict, "field path -> expected value or {operator: value}"),
        "absent": (bool, "pass when no such object exists"),
    },
    "pods": {
        "app!": (str, "the pods' app label (or Deployment name)"),
        "namespace": (str, "their namespace (default)"),
        "containers": ((int, dict), "containers per pod: 2 once the sidecar is injected (2/2)"),
        "sidecar": (bool, "every pod has (true) or lacks (false) the istio-proxy container"),
    },
    "analyze": {
        "namespace": (str, "report only this namespace"),
        "code": (str, "an IST code that must be reported (IST0102)"),
        "absent": (bool, "pass when the code (or any error, without code) is NOT reported"),
    },
    "validates": {
        "kinds": (list, "the kinds whose stored objects must validate (default: Istio kinds)"),
        "namespace": (str, "the namespace (default: all)"),
    },
    "request": {**_REQUEST, "expect!": _EXPECT, "count": (int, "requests that must all pass")},
    "distribution": {**_REQUEST, **_DISTRIBUTION},
    "stat": {
        "workload!": (str, "WORKLOAD[.NS] of the proxy (istio-ingressgateway.istio-system)"),
        "stat!": (str, "a regular expression on Envoy stat names (summed)"),
        "during": _DURING,
        "change": ((dict, int), "expected change of the sum during the check ({gte: 1})"),
        "value": ((dict, int), "expected value of the sum ({gte: 1})"),
    },
    "log": {
        "workload!": (str, "WORKLOAD[.NS] whose istio-proxy access log is read"),
        "flag!": (str, "an Envoy response flag that must appear (UO UF DI FI URX NR ...)"),
        "during": _DURING,
        "absent": (bool, "pass when the flag does NOT appear"),
    },
    "endpoints": {
        "workload!": (str, "WORKLOAD[.NS] of the proxy"),
        "cluster!": (str, "a substring of the cluster name (outbound|9080||ratings)"),
        "during": _DURING,
        "healthy": ((int, dict), "how many endpoints are healthy"),
        "ejected": ((int, dict), "how many are ejected by outlier detection"),
    },
    "certificate": {
        "workload!": (str, "WORKLOAD[.NS] of the proxy"),
        "issuer": (str, "text the issuing CA's subject contains"),
        "spiffe": (str, "the SPIFFE id the certificate names"),
    },
    "load": {
        "via!": (str, "WORKLOAD[.NS] the load runs from (fortio)"),
        "url!": (str, "the URL"),
        "requests": (int, "requests (fortio -n, 30)"),
        "concurrency": (int, "connections (fortio -c, 3)"),
        "headers": (dict, "request headers"),
        "codes!": (dict, "status code -> expected count or {gte: N} ({503: {gte: 1}})"),
    },
    "metric": {
        "metric": (str, "an Istio standard metric (istio_requests_total)"),
        "labels": (dict, "label -> value the series must have (reporter: destination)"),
        "during": _DURING,
        "window": ((int, float, str), "without during: the growth over this window (60s)"),
        "change": ((dict, int), "expected growth of the sum ({gte: 1}, the default)"),
        "settle": ((int, float, str), "how long the metrics may take to arrive (8s)"),
    },
    "graph": {
        "nodes": (list, "nodes that must be drawn: 'reviews v3', 'reviews', 'svc/reviews'"),
        "edges": (list, "edges that must be drawn: 'productpage v1 -> reviews v3'"),
        "namespace": (str, "only edges touching this namespace"),
        "window": ((int, float, str), "the graph of the traffic in this window (60s)"),
        "during": _DURING,
        "settle": ((int, float, str), "how long the metrics may take to arrive (8s)"),
    },
    "trace": {
        "services!": (list, "services a trace passes through, in order (productpage, reviews)"),
        "count": (int, "at least this many such traces (1)"),
        "during": _DURING,
        "settle": ((int, float, str), "how long the spans may take to arrive (8s)"),
    },
    "loadrun": {
        "scenario!": (str, "a loadtests/ scenario (circuit-breaker)"),
        "from": (str, "WORKLOAD[.NS] whose sidecar sends (--from)"),
        "users": (int, "concurrent users (--users)"),
        "requests": (int, "stop after N requests (--requests)"),
        "duration": (str, "stop after this long (--duration 10s)"),
        "seed": (int, "seed the users' random choices (--seed)"),
        "engine": (str, "locust or fortio (--engine)"),
        "expect": (list, "extra expectations (--expect)"),
    },
}
DESCRIPTIONS = {
    "object": "a stored object exists / is absent / has these fields (normalised)",
    "pods": "a workload's pods: containers (1/1 -> 2/2) and sidecar, all ready",
    "analyze": "`istiolab analyze` reports (or does not report) a code",
    "validates": "the stored objects pass the Kubernetes and Istio schemas",
    "request": "one request (gateway or from a pod): status, exit code, body, header, version",
    "distribution": "N requests split across versions within a tolerance, retried",
    "stat": "an Envoy counter's value or its change during the check",
    "log": "a response flag in a proxy's access log (UO UF DI FI URX NR ...)",
    "endpoints": "a proxy's endpoints of a cluster: healthy / ejected",
    "certificate": "the certificate a proxy presents: issuer, SPIFFE id",
    "load": "a short load run (fortio -c C -n N) and its status codes",
    "metric": "an Istio standard metric's growth for some labels (Prometheus' increase)",
    "graph": "the service graph (Kiali's versioned-app graph) has these nodes and edges",
    "trace": "traces through these services, in order",
    "loadrun": "an `istiolab load` scenario run whose expectations all pass",
}
COMMON = ("id", "type", "description", "hint", "initially", "wait")
EXPECT_KEYS = ("status", "exit", "body", "not_body", "header", "version", "latency")
RESPONSE_FLAGS = ("UO", "UF", "UH", "UT", "URX", "NR", "DI", "FI", "DC", "LR", "UC", "RL", "UAEX")


@dataclass(frozen=True)
class Check:
    id: str
    type: str
    description: str
    params: Mapping[str, Any]
    hint: str | Mapping[str, str] = ""
    initially: str = "fail"  # what the self-test expects on the start state: fail | pass
    wait: float = 0.0  # seconds to keep retrying a failing check (beyond the type's own)

    def hint_for(self, measured: str) -> str:
        """The hint for the state measured: the first pattern that matches, else ``*``."""
        if isinstance(self.hint, str):
            return self.hint
        for pattern, text in self.hint.items():
            if pattern != "*" and re.search(pattern, measured):
                return text
        return self.hint.get("*", "")


@dataclass(frozen=True)
class CheckResult:
    id: str
    description: str
    passed: bool
    expected: str = ""
    measured: str = ""
    hint: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "passed": self.passed,
            "expected": self.expected,
            "measured": self.measured,
            "hint": self.hint if not self.passed else "",
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Problems:
    """Collects authoring errors as ``file: field: message`` lines."""

    source: str
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.source}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            more = f" (+{len(self.lines) - 1} more)" if len(self.lines) > 1 else ""
            raise ConfigError(self.lines[0] + more)


def _typed(value: Any, types: Any) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _type_names(types: Any) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", int: "an integer", float: "a number", dict: "a mapping"}
    names |= {list: "a list", bool: "true or false"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def parse_check(raw: Any, where: str, problems: Problems) -> Check | None:
    """One check from its YAML mapping; authoring errors go to `problems` (file, field)."""
    before = len(problems.lines)
    if not isinstance(raw, Mapping):
        problems.add(where, f"a check is a mapping with id, type, description; got {raw!r}")
        return None
    kind = raw.get("type")
    if kind not in TYPES:
        problems.add(f"{where}.type", f"{kind!r} is not a check type; one of {', '.join(TYPES)}")
        return None
    schema = {k.rstrip("!"): v for k, v in TYPES[kind].items()}
    for key in ("id", "description"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.add(f"{where}.{key}", "required: a non-empty string")
    for key, value in raw.items():
        if key in COMMON:
            continue
        if key not in schema:
            allowed = ", ".join(sorted(schema))
            problems.add(f"{where}.{key}", f"unknown field for a {kind} check; allowed: {allowed}")
        elif not _typed(value, schema[key][0]):
            problems.add(f"{where}.{key}", f"{value!r} is not {_type_names(schema[key][0])}")
    for key in TYPES[kind]:
        if key.endswith("!") and key[:-1] not in raw:
            name = key[:-1]
            problems.add(f"{where}.{name}", f"required for a {kind} check: {schema[name][1]}")
    initially = raw.get("initially", "fail")
    if initially not in ("fail", "pass"):
        problems.add(f"{where}.initially", f"{initially!r}: one of fail, pass")
    hint = raw.get("hint", "")
    if not isinstance(hint, str | Mapping):
        problems.add(f"{where}.hint", "a text, or a mapping pattern -> text ('*' the default)")
    if isinstance(raw.get("expect"), Mapping):
        for key in raw["expect"]:
            if key not in EXPECT_KEYS:
                problems.add(f"{where}.expect.{key}", f"unknown; allowed: {', '.join(EXPECT_KEYS)}")
    if kind == "log" and raw.get("flag") not in RESPONSE_FLAGS:
        problems.add(f"{where}.flag", f"{raw.get('flag')!r}: one of {', '.join(RESPONSE_FLAGS)}")
    if kind == "graph" and not raw.get("nodes") and not raw.get("edges"):
        problems.add(where, "a graph check needs nodes or edges")
    edges = raw.get("edges") if kind == "graph" and isinstance(raw.get("edges"), list) else []
    for i, edge in enumerate(edges):
        if not isinstance(edge, str) or "->" not in edge:
            problems.add(f"{where}.edges[{i}]", f"{edge!r}: an edge is 'A -> B'")
    if kind == "loadrun" and raw.get("engine", "locust") not in ("locust", "fortio"):
        problems.add(f"{where}.engine", f"{raw.get('engine')!r}: one of locust, fortio")
    if kind == "request" and "url" not in raw and "path" not in raw:
        problems.add(where, "a request check needs path (through the gateway) or url (from a pod)")
    wait = raw.get("wait", 0)
    if not isinstance(wait, int | float) or isinstance(wait, bool) or wait < 0:
        problems.add(f"{where}.wait", f"{wait!r}: a non-negative number of seconds")
    if len(problems.lines) > before:
        return None
    params = {k: v for k, v in raw.items() if k not in COMMON}
    return Check(
        id=str(raw["id"]),
        type=kind,
        description=str(raw["description"]).strip(),
        params=params,
        hint=hint,
        initially=initially,
        wait=float(wait),
    )
