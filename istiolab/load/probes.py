"""What a run reads from the mesh around the load, through :class:`istiolab.backends.Backend`:
Envoy counters before and after (exact deltas) and the access-log response flags of the
run's own requests (recognised by their User-Agent, ``istiolab-load/<run id>``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass

from istiolab.backends import Backend
from istiolab.load.result import CounterDelta

GATEWAY = "istio-ingressgateway.istio-system"
# Istio's TEXT access-log format: "[time] "GET /p HTTP/1.1" 503 UO details ..."
TEXT_LINE = re.compile(r'^\[[^\]]*\] "[^"]*" (\d{3}|-|0) (\S+) ')


def read_counters(backend: Backend, proxy: str, regex: str | None) -> dict[str, int]:
    """Counters of one proxy (gauges and counters; histograms skipped), filtered."""
    return backend.proxy_stats(proxy, regex)


def deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, CounterDelta]:
    return {k: CounterDelta(before.get(k, 0), v) for k, v in sorted(after.items())}


def parse_flags(log: str, tag: str) -> Counter[str]:
    """Response flags (``UO``, ``URX``, ``-``) of the access-log entries whose User-Agent
    carries ``tag``; TEXT and JSON formats."""
    flags: Counter[str] = Counter()
    for line in log.splitlines():
        if tag not in line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if tag in str(entry.get("user_agent", "")):
                flags[str(entry.get("response_flags") or "-")] += 1
            continue
        m = TEXT_LINE.match(line)
        if m:
            flags[m.group(2)] += 1
    return flags


@dataclass
class Watch:
    """Counters and access log of the proxies a run goes through, read before and after."""

    backend: Backend
    proxies: list[str]
    regex: str | None
    tag: str
    before: dict[str, dict[str, int]] | None = None
    baseline: Counter[str] | None = None  # entries with the tag before the run

    def start(self) -> None:
        self.before = {p: read_counters(self.backend, p, self.regex) for p in self.proxies}
        self.baseline = self._logged()

    def _logged(self) -> Counter[str]:
        return parse_flags(self.backend.logs(self.proxies[0], "istio-proxy"), self.tag)

    def counters(self) -> dict[str, dict[str, CounterDelta]]:
        assert self.before is not None
        return {
            p: deltas(self.before[p], read_counters(self.backend, p, self.regex))
            for p in self.proxies
        }

    def flags(self, expected: int, timeout: float = 10.0) -> dict[str, int]:
        """The flags of this run's entries in the first proxy's access log (those logged since
        :meth:`start`), once ``expected`` entries are there (Envoy flushes access logs about
        every second) or at ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            flags = self._logged() - (self.baseline or Counter())
            if sum(flags.values()) >= expected or time.monotonic() >= deadline:
                return dict(sorted(flags.items()))
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
