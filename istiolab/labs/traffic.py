"""Traffic probes of the lab checks: one request (through the gateway, from a pod, as a
logged-in Bookinfo user, over TLS with SNI), a distribution of versions within a tolerance,
the traffic a proxy check runs first, and a short fortio-style load."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from istiolab.backends import Backend, HttpResult
from istiolab.durations import seconds
from istiolab.errors import IstiolabError
from istiolab.labs import matchers, observe
from istiolab.labs.checks import Check
from istiolab.labs.measure import Measure, as_spec, describe_expect, judge


class TrafficProbes:
    """Mixed into the Runner: needs ``backend``, ``base``, ``patience`` and ``_cookies``."""

    backend: Backend
    base: Path | None
    patience: float | None
    _cookies: dict[str, str]

    def send(self, p: Mapping[str, Any]) -> HttpResult:
        """One request as a check describes it (gateway or from a pod, logged in or not)."""
        headers = dict(p.get("headers") or {})
        if p.get("user"):
            headers["Cookie"] = self._login(str(p["user"]), p.get("host"))
        timeout = seconds(p.get("timeout", "30s"))
        method = str(p.get("method", "POST" if p.get("data") is not None else "GET")).upper()
        via = p.get("via", "gateway")
        if p.get("tls"):
            from istiolab.labs.https import gateway_https

            tls = p["tls"]
            return gateway_https(
                self.backend.gateway_https_url(),
                p.get("path", "/"),
                host=tls.get("sni") or p.get("host") or "",
                cafile=(self.base or Path(".")) / tls["ca"],
                method=method,
                headers=headers,
                timeout=timeout,
            )
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
        via = during.get("via", "gateway")
        if count > 1 and via != "gateway" and "url" in during and not during.get("user"):
            # from a pod: a fortio load inside it (on a cluster one exec, truly concurrent)
            self.backend.load(
                via,
                during["url"],
                count=count,
                concurrency=conc,
                method=str(during.get("method", "GET")).upper(),
                headers=during.get("headers"),
                data=during.get("data"),
            )
        else:
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
            matchers.matches([(codes.get(str(c), 0), "")], as_spec(want))
            for c, want in p["codes"].items()
        )
        return Measure(ok, expected, measured or "no responses")
