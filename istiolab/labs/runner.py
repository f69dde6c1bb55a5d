"""Measuring checks on a mesh, through :class:`istiolab.backends.Backend` only (so every check
runs on the local mesh and on a cluster alike).

A check is retried while it fails, with backoff, up to its patience (``wait``, else the
type's default): config reaches Envoy asynchronously and traffic shares are statistics. A
failure reports what was expected, what was measured and the hint for that state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from istiolab.backends import Backend, HttpResult
from istiolab.durations import seconds
from istiolab.errors import IstiolabError
from istiolab.labs import matchers, observe
from istiolab.labs.checks import Check, CheckResult
from istiolab.labs.format import Lab, Task

# seconds a failing check of each type is retried by default (config propagation, ejection)
PATIENCE = {"request": 2.0, "endpoints": 3.0, "certificate": 5.0, "object": 0.0}
ISTIO_KINDS = (
    "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar",
    "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication",
)  # fmt: skip


SECRETS_DUMP = "config_dump?resource=dynamic_active_secrets"


@dataclass(frozen=True)
class Measure:
    passed: bool
    expected: str
    measured: str


class Runner:
    """Runs checks against one backend. ``patience`` overrides every check's retry budget
    (the self-test uses 0 on the start state and a long one on the solution)."""

    def __init__(self, backend: Backend, *, patience: float | None = None) -> None:
        self.backend = backend
        self.patience = patience
        self._cookies: dict[str, str] = {}

    # ---------------------------------------------------------------- tasks
    def run_task(self, task: Task) -> list[CheckResult]:
        return [self.run(check) for check in task.checks]

    def run_lab(self, lab: Lab, tasks: Sequence[int] | None = None) -> dict[int, list[CheckResult]]:
        numbers = tasks or [t.number for t in lab.tasks]
        return {n: self.run_task(lab.task(n)) for n in numbers}

    # ---------------------------------------------------------------- one check
    def run(self, check: Check) -> CheckResult:
        began = time.monotonic()
        patience = self.patience
        if patience is None:
            patience = check.wait or PATIENCE.get(check.type, 0.0)
        deadline = began + patience
        delay = 0.2
        measure_fn: Callable[[Check], Measure] = getattr(self, f"_{check.type}")
        while True:
            try:
                m = measure_fn(check)
            except IstiolabError as exc:
                m = Measure(False, _expected_of(check), f"error: {exc}")
            if m.passed or time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        return CheckResult(
            id=check.id,
            description=check.description,
            passed=m.passed,
            expected=m.expected,
            measured=m.measured,
            hint="" if m.passed else check.hint_for(m.measured),
            seconds=time.monotonic() - began,
        )

    # ---------------------------------------------------------------- objects
    def _object(self, check: Check) -> Measure:
        p = check.params
        ns = p.get("namespace", "default")
        items = self.backend.get(p["kind"], None, ns)
        if p.get("name"):
            items = [o for o in items if o.get("metadata", {}).get("name") == p["name"]]
        if p.get("host"):
            items = [o for o in items if _for_host(o, p["host"], ns)]
        what = f"{p['kind']}{'/' + p['name'] if p.get('name') else ''} in {ns}"
        if p.get("host"):
            what += f" for host {p['host']}"
        if p.get("absent"):
            names = [o["metadata"]["name"] for o in items]
            found = f"found {', '.join(names)}" if items else "none"
            return Measure(not items, f"no {what}", found)
        if not items:
            return Measure(False, f"a {what}", "no such object")
        fields: Mapping[str, Any] = p.get("fields") or {}
        best: tuple[int, str] | None = None
        for obj in items:
            misses = []
            for path, spec in fields.items():
                values = list(matchers.resolve(obj, path))
                if not matchers.matches(values, spec, ns):
                    misses.append(
                        f"{path}: {matchers.describe(values)} (want {matchers.describe_spec(spec)})"
                    )
            if not misses:
                return Measure(True, what, obj["metadata"]["name"])
            line = f"{obj['metadata']['name']}: " + "; ".join(misses)
            if best is None or len(misses) < best[0]:
                best = (len(misses), line)
        expected = "; ".join(f"{k} = {matchers.describe_spec(v)}" for k, v in fields.items())
        return Measure(False, expected, best[1] if best else "")

    def _pods(self, check: Check) -> Measure:
        p = check.params
        ns = p.get("namespace", "default")
        pods = [x for x in self.backend.pods(ns) if p["app"] in (x.app, x.workload)]
        wants = []
        if "containers" in p:
            wants.append(f"{matchers.describe_spec(p['containers'])} containers")
        if "sidecar" in p:
            wants.append("a sidecar" if p["sidecar"] else "no sidecar")
        expected = f"{p['app']} pods in {ns}: ready, " + ", ".join(wants)
        if not pods:
            return Measure(False, expected, "no pods")
        ok = all(x.ready for x in pods)
        if "containers" in p:
            spec = _spec(p["containers"])
            ok = ok and all(matchers.matches([(len(x.containers), "")], spec) for x in pods)
        if "sidecar" in p:
            ok = ok and all(x.sidecar == p["sidecar"] for x in pods)
        measured = ", ".join(
            f"{x.name} {sum([x.ready]) * len(x.containers)}/{len(x.containers)}"
            f" ({' '.join(x.containers)})"
            for x in pods
        )
        return Measure(ok, expected, measured)

    # ---------------------------------------------------------------- static
    def _analyze(self, check: Check) -> Measure:
        p = check.params
        findings = self.backend.analyze(p.get("namespace"))
        if p.get("code"):
            hits = [f for f in findings if f["code"] == p["code"]]
            shown = "; ".join(f"{f['code']} {f['resource']}" for f in hits) or "not reported"
            if p.get("absent"):
                return Measure(not hits, f"{p['code']} not reported", shown)
            return Measure(bool(hits), f"{p['code']} reported", shown)
        errors = [f for f in findings if f["level"] == "Error"]
        shown = "; ".join(f"{f['code']} {f['message']}" for f in errors) or "no errors"
        return Measure(not errors, "no analysis errors", shown)

    def _validates(self, check: Check) -> Measure:
        from istiolab.manifests.validation import check_objects

        p = check.params
        ns = p.get("namespace")
        objects = [o for k in p.get("kinds", ISTIO_KINDS) for o in self.backend.get(k, None, ns)]
        findings = check_objects(objects, "<stored>")
        shown = "; ".join(str(f) for f in findings[:3]) or f"{len(objects)} objects valid"
        return Measure(not findings, "every object validates", shown)

    # ---------------------------------------------------------------- traffic
    def send(self, p: Mapping[str, Any]) -> HttpResult:
        """One request as a check describes it (gateway or from a pod, logged in or not)."""
        headers = dict(p.get("headers") or {})
        if p.get("user"):
            headers["Cookie"] = self._login(str(p["user"]), p.get("host"))
        timeout = seconds(p.get("timeout", "30s"))
        method = str(p.get("method", "POST" if p.get("data") is not None else "GET")).upper()
        via = p.get("via", "gateway")
        if via == "gateway":
            return self.backend.gateway_request(
                p.get("path", "/"),
                host=p.get("host"),
                method=method,
                headers=headers,
                data=p.get("data"),
                timeout=timeout,
            )
        return self.backend.request(
            via, p["url"], method=method, headers=headers, data=p.get("data"), timeout=timeout
        )

    def _login(self, user: str, host: str | None) -> str:
        if user not in self._cookies:
            r = self.backend.gateway_request(
                "/login",
                host=host,
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data=urlencode({"username": user, "passwd": "password"}),
            )
            cookie = r.headers.get("set-cookie", "")
            if r.status != 302 or not cookie:
                raise IstiolabError(f"logging in as {user} answered {r.status}, not 302")
            self._cookies[user] = cookie.split(";", 1)[0]
        return self._cookies[user]

    def _request(self, check: Check) -> Measure:
        p = check.params
        expect: Mapping[str, Any] = p["expect"]
        count = int(p.get("count", 1))
        expected = describe_expect(expect)
        for _ in range(count):
            r = self.send(p)
            ok, measured = judge(r, expect)
            if not ok:
                return Measure(False, expected, measured)
        return Measure(True, expected, measured)

    def _distribution(self, check: Check) -> Measure:
        p = check.params
        want: Mapping[str, float] = {str(k): float(v) for k, v in p["distribution"].items()}
        n = int(p.get("requests", 500))
        tolerance = float(p.get("tolerance", 5))
        tries = 1 if self.patience == 0 else int(p.get("tries", 10))
        expected = ", ".join(f"{v} {share:g}% ±{tolerance:g}" for v, share in want.items())
        measured = ""
        for _ in range(tries):
            seen = self.spread(p, n, int(p.get("concurrency", 4)))
            shares = {v: 100.0 * c / n for v, c in seen.items()}
            measured = ", ".join(f"{v} {s:.1f}%" for v, s in sorted(shares.items()))
            if all(abs(shares.get(v, 0.0) - w) <= tolerance for v, w in want.items()) and all(
                v in want for v in shares
            ):
                return Measure(True, expected, measured)
        return Measure(False, expected, f"{measured} (best of {tries} tries of {n})")

    def spread(self, p: Mapping[str, Any], n: int, concurrency: int) -> Counter:
        def one(_: int) -> str:
            r = self.send(p)
            if r.status != 200:
                return f"status {r.status or r.error}"
            return observe.serving_version(r.text)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return Counter(pool.map(one, range(n)))

    def _during(self, p: Mapping[str, Any]) -> None:
        during = p.get("during")
        if not during:
            return
        count, conc = int(during.get("count", 1)), int(during.get("concurrency", 1))
        with ThreadPoolExecutor(max_workers=max(1, conc)) as pool:
            list(pool.map(lambda _: self.send(during), range(count)))
        if during.get("settle"):  # let the mesh react (an ejection expiring) before measuring
            time.sleep(seconds(during["settle"]))

    def _load(self, check: Check) -> Measure:
        p = check.params
        n, conc = int(p.get("requests", 30)), int(p.get("concurrency", 3))
        result = self.backend.load(
            p["via"], p["url"], count=n, concurrency=conc, qps=None, headers=p.get("headers")
        )
        codes = {str(k): v for k, v in result.codes.items()}
        measured = " ".join(f"Code {c} : {k}" for c, k in sorted(codes.items()))
        expected = ", ".join(f"Code {c} {matchers.describe_spec(s)}" for c, s in p["codes"].items())
        ok = all(
            matchers.matches([(codes.get(str(c), 0), "")], _spec(s)) for c, s in p["codes"].items()
        )
        return Measure(ok, expected, measured or "no responses")

    # ---------------------------------------------------------------- proxies
    def _sum(self, workload: str, regex: str) -> int:
        return sum(self.backend.proxy_stats(workload, regex).values())

    def _stat(self, check: Check) -> Measure:
        p = check.params
        before = self._sum(p["workload"], p["stat"])
        self._during(p)
        after = self._sum(p["workload"], p["stat"]) if p.get("during") else before
        if "change" in p:
            spec = p["change"] if isinstance(p["change"], Mapping) else {"equals": p["change"]}
            ok = matchers.matches([(after - before, "")], spec)
            return Measure(
                ok,
                f"{p['stat']} change {matchers.describe_spec(spec)}",
                f"{before} -> {after} (change {after - before})",
            )
        spec = p.get("value", {"gte": 1})
        spec = spec if isinstance(spec, Mapping) else {"equals": spec}
        return Measure(
            matchers.matches([(after, "")], spec),
            f"{p['stat']} {matchers.describe_spec(spec)}",
            str(after),
        )

    def _log(self, check: Check) -> Measure:
        p = check.params
        before = self.backend.logs(p["workload"], "istio-proxy").splitlines()
        self._during(p)
        lines = self.backend.logs(p["workload"], "istio-proxy").splitlines()
        recent = _after(lines, before) if p.get("during") else lines
        flags = Counter(flag for _, flag in observe.response_flags("\n".join(recent)))
        seen = ", ".join(f"{f} x{n}" for f, n in sorted(flags.items())) or "no access-log lines"
        if p.get("absent"):
            return Measure(flags[p["flag"]] == 0, f"no {p['flag']} in the access log", seen)
        return Measure(flags[p["flag"]] > 0, f"{p['flag']} in the access log", seen)

    def _endpoints(self, check: Check) -> Measure:
        p = check.params
        self._during(p)
        eps = observe.endpoints(self.backend.proxy_admin(p["workload"], "clusters"), p["cluster"])
        counts = {"healthy": sum(e.healthy for e in eps), "ejected": sum(e.ejected for e in eps)}
        ok, wants = True, []
        for key in ("healthy", "ejected"):
            if key in p:
                spec = p[key] if isinstance(p[key], Mapping) else {"equals": p[key]}
                ok = ok and matchers.matches([(counts[key], "")], spec)
                wants.append(f"{key} {matchers.describe_spec(spec)}")
        measured = f"healthy {counts['healthy']}, ejected {counts['ejected']} of {len(eps)}"
        return Measure(ok and bool(eps), ", ".join(wants), measured)

    def _certificate(self, check: Check) -> Measure:
        p = check.params
        dump = self.backend.proxy_admin(p["workload"], SECRETS_DUMP)
        cert = observe.workload_certificate(dump)
        wants = []
        if p.get("issuer"):
            wants.append(f"issuer contains {p['issuer']!r}")
        if p.get("spiffe"):
            wants.append(f"SPIFFE id {p['spiffe']}")
        if cert is None:
            return Measure(False, ", ".join(wants), "no workload certificate")
        ok = (not p.get("issuer") or p["issuer"] in cert.issuer) and (
            not p.get("spiffe") or p["spiffe"] in cert.uris
        )
        return Measure(ok, ", ".join(wants), f"issuer {cert.issuer}; {', '.join(cert.uris)}")


# ------------------------------------------------------------------ helpers


def _after(lines: list[str], before: list[str]) -> list[str]:
    """The lines of a log (possibly a tail) written after `before` was read."""
    if not before:
        return lines
    last = before[-1]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == last:
            return lines[i + 1 :]
    return lines  # the old tail scrolled away: everything is new


def _spec(value: Any) -> Mapping[str, Any]:
    """A matcher spec: a mapping of operators, or a plain value meaning equals."""
    return value if isinstance(value, Mapping) else {"equals": value}


def _for_host(obj: Mapping, host: str, namespace: str) -> bool:
    spec = obj.get("spec") or {}
    hosts = spec.get("hosts") or ([spec["host"]] if spec.get("host") else [])
    return any(matchers.scalar_equal(h, host, key="host", namespace=namespace) for h in hosts)


def _expected_of(check: Check) -> str:
    if check.type == "request":
        return describe_expect(check.params["expect"])
    return check.description


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
