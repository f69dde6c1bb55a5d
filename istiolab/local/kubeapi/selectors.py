"""Label and field selectors as the API server parses them (``kubectl get -l``,
``--field-selector``, and the ``metadata.name`` selector ``kubectl wait`` sends)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from istiolab.local.kubeapi.status import bad_request

Predicate = Callable[[Mapping[str, Any]], bool]
_TERM = re.compile(
    r"\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p for p in [*parts, cur] if p.strip()]


def label_selector(text: str | None) -> Predicate:
    """``app=reviews,version!=v1``, ``app in (a,b)``, ``!canary``, ``version``."""
    tests: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split(text or ""):
        m = _TERM.match(term)
        if not m:
            raise bad_request(f"unable to parse requirement: invalid label selector {term!r}")
        key, op, value, setop = m["key"], m["op"], m["value"], m["setop"]
        if m["neg"]:
            tests.append(lambda labels, k=key: k not in labels)
        elif op in ("=", "=="):
            tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif op == "!=":
            tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif setop:
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            if setop == "in":
                tests.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                tests.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        else:
            tests.append(lambda labels, k=key: k in labels)

    def match(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in tests)

    return match


def _field(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    return "" if cur is None else str(cur)


def field_selector(text: str | None) -> Predicate:
    """``metadata.name=x``, ``metadata.namespace!=kube-system``, ``status.phase=Running``."""
    tests: list[Predicate] = []
    for term in _split(text or ""):
        m = re.match(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid field selector {term!r}")
        path, op, value = m.groups()
        if op == "!=":
            tests.append(lambda o, p=path, v=value: _field(o, p) != v)
        else:
            tests.append(lambda o, p=path, v=value: _field(o, p) == v)
    return lambda obj: all(t(obj) for t in tests)
