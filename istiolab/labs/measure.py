"""What a check measured, and how one HTTP response is judged against a check's ``expect``
(status, curl exit code, body, header, serving version, latency). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from istiolab.backends import HttpResult
from istiolab.durations import seconds
from istiolab.labs import observe


@dataclass(frozen=True)
class Measure:
    passed: bool
    expected: str
    measured: str


def as_spec(value: Any) -> Mapping[str, Any]:
    """A matcher spec: a mapping of operators, or a plain value meaning equals."""
    return value if isinstance(value, Mapping) else {"equals": value}


def lines_after(lines: list[str], before: list[str]) -> list[str]:
    """The lines of a log (possibly a tail) written after `before` was read."""
    if not before:
        return lines
    last = before[-1]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == last:
            return lines[i + 1 :]
    return lines  # the old tail scrolled away: everything is new


def describe_expect(expect: Mapping[str, Any]) -> str:
    parts = []
    for key, value in expect.items():
        if key == "latency":
            lo, hi = value.get("min"), value.get("max")
            parts.append(f"latency {lo or 0}..{hi or 'any'}")
        elif key == "header":
            parts += [f"header {k}: {v}" for k, v in value.items()]
        elif key == "not_body":
            parts.append(f"body without {value!r}")
        else:
            parts.append(f"{key} {value!r}" if isinstance(value, str) else f"{key} {value}")
    return ", ".join(parts)


def judge(r: HttpResult, expect: Mapping[str, Any]) -> tuple[bool, str]:
    """Does one response meet `expect`; and what it measured, for the failure line."""
    text = r.text
    status = f"status {r.status:03d}"
    if r.error:
        status += f" (curl exit {r.exit_code}: {r.detail or r.error})"
    measured = [status]
    ok = True
    if "status" in expect and r.status != int(expect["status"]):
        ok = False
    if "exit" in expect:
        ok = ok and r.exit_code == int(expect["exit"])
    if "body" in expect:
        wanted = expect["body"] if isinstance(expect["body"], list) else [expect["body"]]
        missing = [w for w in wanted if w not in text]
        if missing:
            ok = False
            measured.append(f"body without {missing[0]!r}: {_snippet(text)}")
    if "not_body" in expect and expect["not_body"] in text:
        ok = False
        measured.append(f"body contains {expect['not_body']!r}")
    for name, value in (expect.get("header") or {}).items():
        got = r.headers.get(name.lower())
        if got is None or (value != "*" and str(value) not in got):
            ok = False
            measured.append(f"header {name}: {got or '<absent>'}")
    if "version" in expect:
        version = observe.serving_version(text)
        measured.append(f"version {version}")
        ok = ok and version == expect["version"]
    if "latency" in expect:
        lo = seconds(expect["latency"].get("min", 0))
        hi = expect["latency"].get("max")
        measured.append(f"latency {r.elapsed:.2f}s")
        ok = ok and r.elapsed >= lo and (hi is None or r.elapsed <= seconds(hi))
    return ok, ", ".join(measured)


def _snippet(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")
