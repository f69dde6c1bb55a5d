"""Proxy probes of the lab checks, read through the backend's Envoy admin and logs: a
counter's change, a response flag in the access log, endpoint health, the workload
certificate."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from istiolab.backends import Backend
from istiolab.labs import matchers, observe
from istiolab.labs.checks import Check
from istiolab.labs.measure import Measure, lines_after
from istiolab.names import PROXY_CONTAINER

LOG_FLUSH = 3.0  # seconds an access-log line may take to appear (Envoy's flush interval)
SECRETS_DUMP = "config_dump?resource=dynamic_active_secrets"


class ProxyProbes:
    """Mixed into the Runner: needs ``backend`` and the traffic probes' ``_during``."""

    backend: Backend

    def _during(self, p: Mapping[str, Any]) -> None:  # provided by TrafficProbes
        raise NotImplementedError

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
        before = self.backend.logs(p["workload"], PROXY_CONTAINER).splitlines()
        self._during(p)
        deadline, delay = time.monotonic() + LOG_FLUSH, 0.1
        while True:  # Envoy writes access logs in batches: give the lines a moment to land
            lines = self.backend.logs(p["workload"], PROXY_CONTAINER).splitlines()
            recent = lines_after(lines, before) if p.get("during") else lines
            flags = Counter(flag for _, flag in observe.response_flags("\n".join(recent)))
            if flags[p["flag"]] or not p.get("during") or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
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
