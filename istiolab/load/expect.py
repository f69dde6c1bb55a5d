"""The expectation language of load scenarios: parse and judge lines such as

    share(503) between 0.2 and 0.8            (tolerance 99%, retries 2)
    flag(UO) == count(503)
    stat(upstream_rq_pending_overflow) grew == count(503)
    stat(outlier_detection.ejections_enforced_total) grew == 0
    p99 < 250ms
    each: share(5xx) == 0                      # every request name on its own
    in "GET /productpage": p50 < 1s            # one request name

Values: ``requests``, ``rps``, ``duration``, ``mean``, ``min``, ``max``, ``pNN`` (``p50``,
``p99``, ``p99.9``: seconds), ``share(C)`` and ``count(C)`` for a code ``503``, a class
``5xx`` or ``error`` (no HTTP response), ``flag(F)`` (access-log entries carrying response
flag F), ``stat(NAME)`` (an Envoy counter after the run, summed over the proxies read) and
``stat(NAME) grew`` (its exact increase during the run). Numbers take ``us``, ``ms``, ``s``
or ``%``; ``+ - * /`` and parentheses combine them. Comparisons: ``< <= > >= == !=`` and
``between A and B`` (inclusive).

Options in trailing parentheses: ``tolerance 99%`` judges a share with its Wilson interval at
that confidence (it fails only when the whole interval is on the wrong side), ``retries N``
allows N fresh runs while it fails, ``abort after 10s`` stops a run early once it has failed
for that long. Without ``tolerance`` a comparison is exact. Every verdict states the interval
it used. Pure: parsing and judging a :class:`~istiolab.load.result.Result`, no I/O.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from istiolab.errors import ConfigError
from istiolab.load.intervals import wilson
from istiolab.load.result import NO_RESPONSE, UNKNOWN_CLASS, Result, Slice

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": lambda a, b: abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b)),
    "!=": lambda a, b: abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)),
}
UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "%": 0.01}
NAMES = ("requests", "rps", "duration", "mean", "min", "max")
FUNCS = ("share", "count", "flag", "stat")

TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?)(?P<unit>us|µs|ms|s\b|%)?
    | (?P<op><=|>=|==|!=|<|>|[-+*/(),:])
    | (?P<str>"[^"]*")
    | (?P<word>[A-Za-z_][\w.|]*)
    )""",
    re.X,
)


class ExpectationError(ConfigError):
    """An expectation that does not parse: names the text, the position and the fix."""


class Unmeasured(Exception):
    """A value the result does not hold (h2load has no p99, a run without access logs)."""


@dataclass(frozen=True)
class Value:
    """One side of a comparison: how to compute it from a slice of a result."""

    text: str
    compute: Callable[[Result, Slice], float]
    share_of: str | None = None  # set for share(C): the code spec, for intervals
    kind: str = "number"  # number | seconds | share


@dataclass(frozen=True)
class Expectation:
    text: str
    scope: str  # "" overall, "each", or a request name
    left: Value
    op: str  # a COMPARE key or "between"
    right: tuple[Value, ...]
    tolerance: float | None = None  # confidence in percent
    retries: int = 0
    abort_after: float | None = None  # seconds

    @property
    def statistical(self) -> bool:
        return self.tolerance is not None


@dataclass
class Verdict:
    expectation: str
    scope: str  # "overall" or the request name
    measured: str
    passed: bool
    interval: str = "exact"
    detail: str = ""
    value: float | None = None

    def to_dict(self) -> dict:
        return {
            "expectation": self.expectation,
            "scope": self.scope,
            "measured": self.measured,
            "value": self.value,
            "verdict": "pass" if self.passed else "fail",
            "interval": self.interval,
            "detail": self.detail,
        }


# ---------------------------------------------------------------- parsing
@dataclass
class _Parser:
    text: str
    source: str
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    pos: int = 0

    def fail(self, why: str, fix: str) -> ExpectationError:
        at = self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.text)
        return ExpectationError(f"{self.source}: {self.text!r} at column {at + 1}: {why} ({fix})")

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None, what: str | None = None) -> tuple[str, str, int]:
        if self.pos >= len(self.tokens):
            wanted = what or (repr(expected) if expected else "more")
            raise self.fail("unexpected end", f"expected {wanted}")
        tok = self.tokens[self.pos]
        if expected is not None and tok[1] != expected:
            raise self.fail(f"found {tok[1]!r}", f"expected {expected!r}")
        self.pos += 1
        return tok

    def expr(self) -> Value:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            left = _combine(left, op, self.term())
        return left

    def term(self) -> Value:
        left = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            left = _combine(left, op, self.factor())
        return left

    def factor(self) -> Value:
        kind, tok, _ = self.take(what="a value")
        if tok == "(":
            inner = self.expr()
            self.take(")")
            return Value(f"({inner.text})", inner.compute, kind=inner.kind)
        if tok == "-":
            inner = self.factor()
            return Value(f"-{inner.text}", lambda r, s: -inner.compute(r, s), kind=inner.kind)
        if kind == "num":
            number, unit = _number(tok)
            return Value(tok, lambda r, s: number, kind="seconds" if unit in UNITS else "number")
        if kind != "word":
            self.pos -= 1
            raise self.fail(f"{tok!r} is not a value", "a number, a name or share(503)")
        if tok in FUNCS:
            self.take("(")
            arg = []
            while self.peek() not in (")", None):
                arg.append(self.take()[1])
            self.take(")")
            value = _function(tok, "".join(arg), self)
            if tok == "stat" and self.peek() == "grew":
                self.take()
                name = "".join(arg)
                return Value(f"stat({name}) grew", lambda r, s: _stat(r, name, grew=True))
            return value
        if tok in NAMES:
            return Value(tok, _NAMED[tok], kind="seconds" if tok in SECOND_NAMES else "number")
        found = re.fullmatch(r"p(\d+(?:\.\d+)?)", tok)
        if found:
            p = float(found.group(1))
            if not 0 < p <= 100:
                self.pos -= 1
                raise self.fail(f"{tok} is not a percentile", "p50, p90, p99, p99.9")
            return Value(tok, lambda r, s: _latency(s, p), kind="seconds")
        self.pos -= 1
        raise self.fail(
            f"unknown name {tok!r}",
            f"one of {', '.join(NAMES)}, pNN, {', '.join(f + '(...)' for f in FUNCS)}",
        )


SECOND_NAMES = ("duration", "mean", "min", "max")
LAZY_COUNTER = re.compile(r"(^|\.)upstream_rq_[1-5](xx|\d\d)$")


def _number(tok: str) -> tuple[float, str]:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(us|µs|ms|s|%)?", tok)
    assert found
    unit = found.group(2) or ""
    return float(found.group(1)) * UNITS.get(unit, 1.0), unit


def _combine(a: Value, op: str, b: Value) -> Value:
    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op]

    def compute(r: Result, s: Slice) -> float:
        x, y = a.compute(r, s), b.compute(r, s)
        if op == "/" and y == 0:
            raise Unmeasured(f"{b.text} is 0 (division)")
        return fn(x, y)

    kind = a.kind if a.kind == b.kind else "number"
    return Value(f"{a.text} {op} {b.text}", compute, kind=kind)


def _code_matcher(spec: str, parser: _Parser) -> Callable[[int], bool]:
    if re.fullmatch(r"\d{3}", spec):
        return lambda c: c == int(spec)
    if re.fullmatch(r"[1-5]xx", spec):
        return lambda c: c // 100 == int(spec[0])
    if spec in ("error", "-1"):
        return lambda c: c == NO_RESPONSE
    parser.pos -= 2
    raise parser.fail(f"{spec!r} is not a status code", "503, 5xx or error (no response)")


def _function(name: str, arg: str, parser: _Parser) -> Value:
    if not arg:
        parser.pos -= 1
        raise parser.fail(
            f"{name}() needs an argument",
            f"{name}(503)" if name in ("share", "count") else f"{name}(NAME)",
        )
    if name in ("share", "count"):
        match = _code_matcher(arg, parser)

        def count(r: Result, s: Slice) -> float:
            if not s.exact_codes and re.fullmatch(r"\d{3}", arg):
                raise Unmeasured(f"{r.engine} reports status classes only, not {arg}")
            if s.codes.get(UNKNOWN_CLASS) and arg != "2xx":
                raise Unmeasured(f"{r.engine} reports 2xx only; the other codes are unknown")
            return float(sum(k for c, k in s.codes.items() if match(c)))

        if name == "count":
            return Value(f"count({arg})", count)

        def share(r: Result, s: Slice) -> float:
            if not s.requests:
                raise Unmeasured("no requests")
            return count(r, s) / s.requests

        return Value(f"share({arg})", share, share_of=arg, kind="share")
    if name == "flag":
        return Value(f"flag({arg})", lambda r, s: _flag(r, arg))
    return Value(f"stat({arg})", lambda r, s: _stat(r, arg, grew=False))


def _flag(r: Result, flag: str) -> float:
    if r.flags is None:
        raise Unmeasured("no access log was read for this run")
    return float(sum(n for flags, n in r.flags.items() if flag in flags.split(",")))


def _stat(r: Result, name: str, grew: bool) -> float:
    found = []
    for stats in r.counters.values():
        # `cluster.X.NAME`, not also `cluster.X.external.NAME` (a narrower copy of it)
        prefixes = {k[: -len(name)] for k in stats if k == name or k.endswith("." + name)}
        found += [
            stats[p + name]
            for p in prefixes
            if not any(q != p and p.startswith(q) for q in prefixes)
        ]
    read = sum(len(s) for s in r.counters.values())
    if not found and read and LAZY_COUNTER.search(name):
        return 0.0  # Envoy creates a per-code counter at the first such response
    if not found:
        raise Unmeasured(f"no Envoy counter named *.{name} among the {read} read")
    return float(sum(c.delta if grew else c.after for c in found))


def _latency(s: Slice, p: float) -> float:
    value = s.latency(p)
    if value is None:
        raise Unmeasured(f"p{p:g} is not in this result")
    return value


def _optional(value: float | None, what: str) -> float:
    if value is None:
        raise Unmeasured(f"{what} is not in this result")
    return value


_NAMED: dict[str, Callable[[Result, Slice], float]] = {
    "requests": lambda r, s: float(s.requests),
    "rps": lambda r, s: s.requests / r.duration if r.duration > 0 else 0.0,
    "duration": lambda r, s: r.duration,
    "mean": lambda r, s: _optional(s.mean, "the mean latency"),
    "min": lambda r, s: _optional(s.min, "the minimum latency"),
    "max": lambda r, s: _optional(s.max, "the maximum latency"),
}


def parse(text: str, source: str = "expectation") -> Expectation:
    """One expectation line (a trailing ``# comment`` is ignored)."""
    line = text.split("#", 1)[0].strip()
    options = ""
    opt = re.search(r"\(([a-z][^()]*)\)\s*$", line)
    if opt and re.match(r"(tolerance|retries|abort)\b", opt.group(1)):
        options, line = opt.group(1), line[: opt.start()].rstrip()
    p = _Parser(line, source)
    index = 0
    while index < len(line):
        found = TOKEN.match(line, index)
        if not found or found.end() == index:
            p.tokens.append(("?", line[index:].strip(), index))
            p.pos = len(p.tokens) - 1
            raise p.fail(f"cannot read {line[index:].strip()!r}", "see loadtests/README.md")
        kind = found.lastgroup if found.lastgroup != "unit" else "num"
        tok = found.group(0).strip()
        if tok:
            p.tokens.append(
                (
                    kind or "",
                    tok,
                    found.start() + len(found.group(0)) - len(found.group(0).lstrip()),
                )
            )
        index = found.end()
    if not p.tokens:
        raise ExpectationError(f"{source}: empty expectation (write e.g. 'share(5xx) == 0')")
    scope = ""
    if p.peek() == "each" and len(p.tokens) > 1 and p.tokens[1][1] == ":":
        p.pos = 2
        scope = "each"
    elif p.peek() == "in":
        p.take()
        kind, tok, _ = p.take(what="a quoted request name")
        if kind != "str":
            p.pos -= 1
            raise p.fail("the request name must be quoted", 'in "GET /get": ...')
        scope = tok[1:-1]
        p.take(":")
    left = p.expr()
    op = p.peek()
    if op == "between":
        p.take()
        low = p.expr()
        p.take("and")
        right: tuple[Value, ...] = (low, p.expr())
    elif op in COMPARE:
        p.take()
        right = (p.expr(),)
    else:
        raise p.fail(
            f"found {op!r}" if op else "no comparison",
            "use <, <=, >, >=, ==, != or between A and B",
        )
    if p.peek() is not None:
        raise p.fail(f"unexpected {p.peek()!r}", "one comparison per line")
    tolerance, retries, abort = _options(options, text, source)
    if tolerance is not None and left.share_of is None:
        raise ExpectationError(
            f"{source}: {text!r}: tolerance applies to a share (share(503) ...), not {left.text}"
        )
    return Expectation(
        " ".join(text.split("#", 1)[0].split()), scope, left, op, right, tolerance, retries, abort
    )


def _options(options: str, text: str, source: str) -> tuple[float | None, int, float | None]:
    tolerance = abort = None
    retries = 0
    for part in filter(None, (o.strip() for o in options.split(","))):
        if m := re.fullmatch(r"tolerance (\d+(?:\.\d+)?)%", part):
            tolerance = float(m.group(1))
            from istiolab.load.intervals import z_for

            try:
                z_for(tolerance)
            except ValueError as exc:
                raise ExpectationError(f"{source}: {text!r}: {exc}") from None
        elif m := re.fullmatch(r"retries (\d+)", part):
            retries = int(m.group(1))
        elif m := re.fullmatch(r"abort after (\d+(?:\.\d+)?)(ms|s)", part):
            abort = float(m.group(1)) * UNITS[m.group(2)]
        else:
            raise ExpectationError(
                f"{source}: {text!r}: unknown option {part!r} "
                "(tolerance 99%, retries N, abort after 10s)"
            )
    return tolerance, retries, abort


def parse_all(lines: Iterable[str], source: str = "expectations") -> list[Expectation]:
    """Every non-blank, non-comment line of ``lines`` (a string splits on newlines)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    out = []
    for i, line in enumerate(lines, 1):
        if line.split("#", 1)[0].strip():
            out.append(
                parse(line, f"{source} line {i}" if i > 1 or source != "expectation" else source)
            )
    return out


# ---------------------------------------------------------------- judging
def _show(v: float, kind: str) -> str:
    if kind == "seconds":
        return f"{v * 1000:.3g}ms" if v < 1 else f"{v:.4g}s"
    if kind == "share":
        return f"{v:.3f}"
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.4g}"


def judge_slice(e: Expectation, result: Result, s: Slice, scope: str) -> Verdict:
    """One expectation on one slice of a result."""
    try:
        left = e.left.compute(result, s)
        bounds = [v.compute(result, s) for v in e.right]
    except Unmeasured as why:
        return Verdict(e.text, scope, "not measured", False, "-", str(why))
    measured = _show(left, e.left.kind)
    low = high = left
    interval = "exact"
    if e.left.share_of is not None:
        hits = round(left * s.requests)
        measured += f" ({hits}/{s.requests})"
        if e.tolerance is not None:
            low, high = wilson(hits, s.requests, e.tolerance)
            interval = f"Wilson {e.tolerance:g}% [{low:.3f}, {high:.3f}]"
    if e.op == "between":
        a, b = bounds
        passed = high >= a and low <= b  # the interval meets [a, b]
        detail = "" if passed else f"outside [{_show(a, e.left.kind)}, {_show(b, e.left.kind)}]"
    elif e.tolerance is not None:
        # fail only when the whole interval is on the wrong side
        (b,) = bounds
        passed = any(COMPARE[e.op](x, b) for x in (low, high)) or (
            e.op in ("==",) and low <= b <= high
        )
        detail = "" if passed else f"wanted {e.op} {_show(b, e.left.kind)}"
    else:
        (b,) = bounds
        passed = COMPARE[e.op](left, b)
        detail = "" if passed else f"wanted {e.op} {_show(b, e.right[0].kind)}"
    return Verdict(e.text, scope, measured, passed, interval, detail, left)


def judge(e: Expectation, result: Result) -> list[Verdict]:
    """An expectation's verdicts: one overall, one for a named request, or one per name."""
    if e.scope == "each":
        if not result.by_name:
            return [Verdict(e.text, "each", "not measured", False, "-", "no request names")]
        return [judge_slice(e, result, s, name) for name, s in result.by_name.items()]
    if e.scope:
        s = result.by_name.get(e.scope)
        if s is None:
            known = ", ".join(result.by_name) or "none"
            return [Verdict(e.text, e.scope, "not measured", False, "-", f"names: {known}")]
        return [judge_slice(e, result, s, e.scope)]
    return [judge_slice(e, result, result.overall, "overall")]


def judge_all(expectations: Iterable[Expectation], result: Result) -> list[Verdict]:
    """Judge every expectation and record the verdicts in ``result.expectations``."""
    verdicts = [v for e in expectations for v in judge(e, result)]
    result.expectations = [v.to_dict() for v in verdicts]
    return verdicts
