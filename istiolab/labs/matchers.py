"""Field matchers with normalisation: does a stored object say what the learner was asked for,
however they wrote it?

Equality is semantic, as the API server and Istio see the value, not as it was typed:
durations compare by length (``180s`` == ``3m``), numbers by value (``100`` == ``100.0`` ==
``"100"``), hosts by their fully qualified name (``reviews`` ==
``reviews.default.svc.cluster.local`` inside the object's namespace), and lists the API
treats as sets (hosts, gateways, methods, principals...) in any order. Expected mappings
are subsets: extra fields the learner set are fine.

Paths are dotted with list selectors: ``spec.http[0].route[1].weight``,
``spec.subsets[*].name`` (any element), ``spec.subsets[name=v1].labels.version`` (the element
whose ``name`` is ``v1``; the field may be a path: ``route[destination.subset=v3].weight``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from istiolab.durations import is_duration, nanoseconds

#: list fields whose order Istio and Kubernetes ignore
UNORDERED = frozenset(
    {
        "hosts", "gateways", "methods", "notMethods", "paths", "notPaths", "principals",
        "notPrincipals", "namespaces", "notNamespaces", "requestPrincipals", "ports",
        "notPorts", "values", "notValues", "exportTo", "audiences", "subjectAltNames",
        "ipBlocks", "notIpBlocks", "remoteIpBlocks", "addresses", "retryOn", "outputClaimToHeaders",
    }
)  # fmt: skip
HOST_FIELDS = frozenset({"host", "hosts"})
OPERATORS = ("equals", "not", "contains", "in", "exists", "gte", "gt", "lte", "lt", "matches")
_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_MISSING = object()


class PathError(ValueError):
    """A field path that cannot be parsed (a lab authoring error)."""


@dataclass(frozen=True)
class Step:
    key: str | None = None  # mapping key
    index: int | None = None  # [N]
    any: bool = False  # [*]
    where: tuple[str, str] | None = None  # [field=value]


def parse_path(path: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    pos = 0
    for m in _STEP.finditer(path):
        gap = path[pos : m.start()]
        if gap not in ("", ".") or (gap == "." and pos == 0) or (gap == "" and m.group(1) and pos):
            raise PathError(f"field path {path!r}: cannot read {gap or path[pos:]!r}")
        pos = m.end()
        key, selector = m.group(1), m.group(2)
        if key is not None:
            steps.append(Step(key=key))
        elif selector == "*":
            steps.append(Step(any=True))
        elif selector.lstrip("-").isdigit():
            steps.append(Step(index=int(selector)))
        elif "=" in selector:
            field, _, value = selector.partition("=")
            steps.append(Step(where=(field.strip(), value.strip())))
        else:
            raise PathError(f"field path {path!r}: [{selector}] is not [N], [*] or [field=value]")
    if not steps or path[pos:]:
        raise PathError(f"field path {path!r} is empty or ends badly")
    return tuple(steps)


def resolve(obj: Any, path: str) -> Iterator[tuple[Any, str]]:
    """Every value `path` reaches in `obj`, with the last mapping key on the way (for the
    normalisation rules). ``[*]`` and ``[field=value]`` can reach several."""

    def walk(value: Any, steps: tuple[Step, ...], key: str) -> Iterator[tuple[Any, str]]:
        if not steps:
            yield value, key
            return
        step, rest = steps[0], steps[1:]
        if step.key is not None:
            if isinstance(value, Mapping) and step.key in value:
                yield from walk(value[step.key], rest, step.key)
        elif isinstance(value, list):
            if step.index is not None:
                if -len(value) <= step.index < len(value):
                    yield from walk(value[step.index], rest, key)
            else:
                for item in value:
                    if step.where is not None:
                        field, want = step.where
                        found = [v for v, _ in walk(item, parse_path(field), key)]
                        if not any(scalar_equal(v, want) for v in found):
                            continue
                    yield from walk(item, rest, key)

    yield from walk(obj, parse_path(path), "")


# ------------------------------------------------------------------ normalisation


def fqdn(host: str, namespace: str) -> str:
    """A service short name as Istio reads it inside `namespace` (wildcards kept)."""
    if not isinstance(host, str) or "*" in host or host.endswith(".svc.cluster.local"):
        return host
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    return host


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def scalar_equal(measured: Any, expected: Any, *, key: str = "", namespace: str = "") -> bool:
    if measured is None or expected is None:
        return measured is expected
    if isinstance(expected, bool) or isinstance(measured, bool):
        return str(measured).lower() == str(expected).lower()
    if key in HOST_FIELDS and namespace and isinstance(measured, str):
        return fqdn(measured, namespace) == fqdn(str(expected), namespace)
    if is_duration(measured) or is_duration(expected):
        try:
            return nanoseconds(measured) == nanoseconds(expected)
        except ValueError:
            return False
    m, e = _number(measured), _number(expected)
    if m is not None and e is not None:
        return m == e
    return str(measured) == str(expected)


def equal(measured: Any, expected: Any, *, key: str = "", namespace: str = "") -> bool:
    """Semantic equality: expected mappings are subsets, set-like lists in any order."""
    if isinstance(expected, Mapping):
        return isinstance(measured, Mapping) and all(
            k in measured and equal(measured[k], v, key=str(k), namespace=namespace)
            for k, v in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(measured, list) or len(measured) != len(expected):
            return False
        if key in UNORDERED:
            left = list(measured)
            for e in expected:
                hit = next(
                    (i for i, m in enumerate(left) if equal(m, e, key=key, namespace=namespace)),
                    None,
                )
                if hit is None:
                    return False
                left.pop(hit)
            return True
        return all(
            equal(m, e, key=key, namespace=namespace)
            for m, e in zip(measured, expected, strict=True)
        )
    return scalar_equal(measured, expected, key=key, namespace=namespace)


def _compare(measured: Any, op: str, want: Any) -> bool:
    if is_duration(measured) or is_duration(want):
        try:
            m, w = float(nanoseconds(measured)), float(nanoseconds(want))
        except ValueError:
            return False
    else:
        m, w = _number(measured), _number(want)  # type: ignore[assignment]
        if m is None or w is None:
            return False
    return {"gte": m >= w, "gt": m > w, "lte": m <= w, "lt": m < w}[op]


def matches(values: list[tuple[Any, str]], spec: Any, namespace: str = "") -> bool:
    """Does any value a path reached satisfy `spec`: a plain expected value, or a mapping of
    operators (``{gte: 3}``, ``{contains: v2}``, ``{exists: false}``, ``{in: [a, b]}``...)."""
    if isinstance(spec, Mapping) and spec and set(spec) <= set(OPERATORS):
        return all(_operator(values, op, want, namespace) for op, want in spec.items())
    return any(equal(v, spec, key=k, namespace=namespace) for v, k in values)


def _operator(values: list[tuple[Any, str]], op: str, want: Any, namespace: str) -> bool:
    if op == "exists":
        return bool(values) == bool(want)
    if op == "in" and not values and isinstance(want, list) and None in want:
        return True  # null in the list: "not set" is one of the allowed values
    if op == "not":
        return not any(equal(v, want, key=k, namespace=namespace) for v, k in values)
    for v, k in values:
        if op == "equals" and equal(v, want, key=k, namespace=namespace):
            return True
        if op == "in" and any(equal(v, w, key=k, namespace=namespace) for w in want):
            return True
        if op == "contains":
            if isinstance(v, list) and any(equal(i, want, key=k, namespace=namespace) for i in v):
                return True
            if isinstance(v, str) and isinstance(want, str) and want in v:
                return True
        if op == "matches" and isinstance(v, str) and re.search(str(want), v):
            return True
        if op in ("gte", "gt", "lte", "lt") and _compare(v, op, want):
            return True
    return False


def describe(values: list[tuple[Any, str]]) -> str:
    """What a path measured, for the failure line."""
    if not values:
        return "<not set>"
    shown = [v for v, _ in values]
    return _short(shown[0] if len(shown) == 1 else shown)


def describe_spec(spec: Any) -> str:
    if isinstance(spec, Mapping) and spec and set(spec) <= set(OPERATORS):
        symbols = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "equals": "=="}
        return " and ".join(
            f"{symbols.get(op, op)} {_short(want)}"
            if op != "exists"
            else ("set" if want else "not set")
            for op, want in spec.items()
        )
    return _short(spec)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
