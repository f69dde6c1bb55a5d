"""Measuring checks on a mesh, through :class:`istiolab.backends.Backend` only (so every check
runs on the local mesh and on a cluster alike).

A check is retried while it fails, with backoff, up to its patience (``wait``, else the
type's default): config reaches Envoy asynchronously and traffic shares are statistics. A
failure reports what was expected, what was measured and the hint for that state.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from istiolab.backends import Backend
from istiolab.errors import IstiolabError
from istiolab.labs import matchers
from istiolab.labs.checks import Check, CheckResult
from istiolab.labs.format import Lab, Task
from istiolab.labs.measure import Measure, as_spec, describe_expect
from istiolab.labs.proxies import ProxyProbes
from istiolab.labs.telemetry import TelemetryProbes
from istiolab.labs.traffic import TrafficProbes

# seconds a failing check of each type is retried by default, after the proxies have the
# config (run_lab waits for that first): a little for traffic, more for ejections and certs
PATIENCE = {"request": 0.5, "endpoints": 3.0, "certificate": 5.0, "object": 0.0, "graph": 5.0}
ISTIO_KINDS = (
    "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar",
    "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication",
)  # fmt: skip


class Runner(TrafficProbes, ProxyProbes, TelemetryProbes):
    """Runs checks against one backend. ``patience`` overrides every check's retry budget
    (the self-test uses 0 on the start state and a long one on the solution)."""

    def __init__(
        self, backend: Backend, *, patience: float | None = None, base: Path | None = None
    ) -> None:
        self.backend = backend
        self.patience = patience
        self.base = base  # the lab folder: files a check names (a CA) are relative to it
        self._cookies: dict[str, str] = {}

    # ---------------------------------------------------------------- tasks
    def run_task(self, task: Task) -> list[CheckResult]:
        return [self.run(check) for check in task.checks]

    def run_lab(self, lab: Lab, tasks: Sequence[int] | None = None) -> dict[int, list[CheckResult]]:
        self.base = lab.path
        numbers = tasks or [t.number for t in lab.tasks]
        # judge what the proxies will serve; a NACKed config shows in the checks anyway
        with contextlib.suppress(IstiolabError):
            self.backend.wait_converged(timeout=10.0)
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
            except NotImplementedError as exc:
                m = Measure(False, _expected_of(check), f"not available: {exc}")
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
            spec = as_spec(p["containers"])
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


# ------------------------------------------------------------------ helpers


def _for_host(obj: Mapping, host: str, namespace: str) -> bool:
    spec = obj.get("spec") or {}
    hosts = spec.get("hosts") or ([spec["host"]] if spec.get("host") else [])
    return any(matchers.scalar_equal(h, host, key="host", namespace=namespace) for h in hosts)


def _expected_of(check: Check) -> str:
    if check.type == "request":
        return describe_expect(check.params["expect"])
    return check.description
