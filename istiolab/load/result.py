"""The one result format of a load run (documented in loadtests/README.md).

Every engine ends here: a Locust run of ``istiolab load`` (built from its samples), fortio's
``-json``, h2load's summary and Nighthawk's fortio-compatible JSON (see
:mod:`istiolab.load.convert`). Expectations are evaluated on a :class:`Result` only, so all
of them are judged the same way. Pure data, no I/O beyond ``to_json``/``from_json``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from istiolab.errors import ConfigError
from istiolab.load.intervals import bucket_percentile, mean_stddev, percentile

FORMAT = "istiolab.load/v1"
PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
NO_RESPONSE = -1  # fortio's code for a request that got no HTTP response (socket error)
UNKNOWN_CLASS = 0  # "not 2xx" in Nighthawk's fortio output: the code is not known

# histogram bucket ends in seconds: the R10 series (10 steps per decade, 25 % apart) from
# 10 us to 100 s
R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)
BUCKET_ENDS = (*(round(m * 10.0**e, 9) for e in range(-5, 2) for m in R10), 100.0)


@dataclass(frozen=True)
class Sample:
    """One request as the load generator saw it."""

    at: float  # seconds since the run started (when the request was sent)
    name: str  # the request's name (Locust's), e.g. "GET /get"
    code: int  # HTTP status, NO_RESPONSE without a response
    latency: float  # seconds
    error: str = ""  # reset, refused, timeout ... when code is NO_RESPONSE


@dataclass
class Slice:
    """What is known of a set of requests: all of them, or one request name's."""

    requests: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    percentiles: dict[float, float] = field(default_factory=dict)  # p -> seconds
    histogram: list[tuple[float, float, int]] = field(default_factory=list)  # (start, end, n)
    mean: float | None = None
    stddev: float | None = None
    min: float | None = None
    max: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    exact_codes: bool = True  # False when only classes are known (h2load's "2xx")
    values: tuple[float, ...] | None = None  # every latency, while the samples are at hand

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> Slice:
        samples = list(samples)
        lat = [s.latency for s in samples]
        mean, sd = mean_stddev(lat)
        return cls(
            requests=len(samples),
            codes=dict(sorted(Counter(s.code for s in samples).items())),
            percentiles={p: percentile(lat, p) for p in PERCENTILES} if lat else {},
            histogram=buckets_of(lat),
            mean=mean if lat else None,
            stddev=sd if lat else None,
            min=min(lat) if lat else None,
            max=max(lat) if lat else None,
            errors=dict(Counter(s.error for s in samples if s.error)),
            values=tuple(lat),
        )

    def latency(self, p: float) -> float | None:
        """The p-th percentile in seconds: exact from the samples or as recorded, else
        estimated from the histogram (within the recorded min and max)."""
        if self.values:
            return percentile(self.values, p)
        if p in self.percentiles:
            return self.percentiles[p]
        if self.histogram:
            estimate = bucket_percentile(self.histogram, p)
            low = self.min if self.min is not None else estimate
            high = self.max if self.max is not None else estimate
            return min(max(estimate, low), high)
        return None

    def to_dict(self) -> dict[str, Any]:
        n = self.requests
        return {
            "requests": n,
            "codes": {
                str(c): {"count": k, "share": round(k / n, 6) if n else 0.0}
                for c, k in self.codes.items()
            },
            "exact_codes": self.exact_codes,
            "errors": self.errors,
            "latency": {
                "unit": "s",
                "mean": self.mean,
                "stddev": self.stddev,
                "min": self.min,
                "max": self.max,
                "percentiles": {f"{p:g}": v for p, v in self.percentiles.items()},
                "histogram": [{"start": a, "end": b, "count": c} for a, b, c in self.histogram],
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Slice:
        lat = d.get("latency") or {}
        return cls(
            requests=int(d["requests"]),
            codes={int(c): int(v["count"]) for c, v in (d.get("codes") or {}).items()},
            percentiles={float(p): float(v) for p, v in (lat.get("percentiles") or {}).items()},
            histogram=[(h["start"], h["end"], int(h["count"])) for h in lat.get("histogram", [])],
            mean=lat.get("mean"),
            stddev=lat.get("stddev"),
            min=lat.get("min"),
            max=lat.get("max"),
            errors=dict(d.get("errors") or {}),
            exact_codes=bool(d.get("exact_codes", True)),
        )


def buckets_of(values: list[float]) -> list[tuple[float, float, int]]:
    """Non-empty ``(start, end, count)`` buckets of latencies (seconds)."""
    counts: Counter[int] = Counter()
    for v in values:
        counts[next((i for i, end in enumerate(BUCKET_ENDS) if v <= end), len(BUCKET_ENDS))] += 1
    out = []
    for i in sorted(counts):
        start = BUCKET_ENDS[i - 1] if i > 0 else 0.0
        end = BUCKET_ENDS[i] if i < len(BUCKET_ENDS) else max(values)
        out.append((start, end, counts[i]))
    return out


@dataclass(frozen=True)
class CounterDelta:
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass
class Result:
    """One run, whatever produced it."""

    engine: str  # locust | fortio | h2load | nighthawk
    duration: float  # seconds
    overall: Slice
    by_name: dict[str, Slice] = field(default_factory=dict)
    target: str = ""
    source: str = ""  # the workload the load left from ("" = outside the mesh)
    scenario: str = ""
    started: str = ""  # ISO 8601
    users: int = 0
    flags: dict[str, int] | None = None  # access-log response flags -> count (None: unread)
    counters: dict[str, dict[str, CounterDelta]] = field(default_factory=dict)  # proxy->stat
    timeline: list[dict[str, Any]] = field(default_factory=list)  # one entry per second
    expectations: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    aborted: str = ""  # why the run stopped early, if it did

    @property
    def requests(self) -> int:
        return self.overall.requests

    @property
    def rps(self) -> float:
        return self.overall.requests / self.duration if self.duration > 0 else 0.0

    @property
    def passed(self) -> bool | None:
        if not self.expectations:
            return None
        return all(e["verdict"] == "pass" for e in self.expectations)

    @classmethod
    def from_samples(cls, samples: list[Sample], duration: float, **kw: Any) -> Result:
        names: dict[str, list[Sample]] = defaultdict(list)
        for s in samples:
            names[s.name].append(s)
        return cls(
            overall=Slice.of(samples),
            by_name={n: Slice.of(v) for n, v in sorted(names.items())},
            duration=duration,
            timeline=timeline_of(samples),
            **kw,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "engine": self.engine,
            "scenario": self.scenario,
            "target": self.target,
            "source": self.source,
            "started": self.started,
            "users": self.users,
            "duration": round(self.duration, 6),
            "requests": self.requests,
            "rps": round(self.rps, 3),
            "overall": self.overall.to_dict(),
            "by_name": {n: s.to_dict() for n, s in self.by_name.items()},
            "flags": self.flags,
            "counters": {
                proxy: {
                    k: {"before": c.before, "after": c.after, "delta": c.delta}
                    for k, c in stats.items()
                }
                for proxy, stats in self.counters.items()
            },
            "timeline": self.timeline,
            "expectations": self.expectations,
            "passed": self.passed,
            "attempts": self.attempts,
            "aborted": self.aborted,
            "environment": self.environment,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<result>") -> Result:
        if d.get("format") != FORMAT:
            raise ConfigError(
                f"{source}: format={d.get('format')!r} is not {FORMAT!r} "
                "(convert fortio, h2load or Nighthawk output with `istiolab load verdict`)"
            )
        try:
            return cls(
                engine=d["engine"],
                duration=float(d["duration"]),
                overall=Slice.from_dict(d["overall"]),
                by_name={n: Slice.from_dict(s) for n, s in (d.get("by_name") or {}).items()},
                target=d.get("target", ""),
                source=d.get("source", ""),
                scenario=d.get("scenario", ""),
                started=d.get("started", ""),
                users=int(d.get("users", 0)),
                flags=d.get("flags"),
                counters={
                    proxy: {k: CounterDelta(v["before"], v["after"]) for k, v in stats.items()}
                    for proxy, stats in (d.get("counters") or {}).items()
                },
                timeline=list(d.get("timeline") or []),
                expectations=list(d.get("expectations") or []),
                environment=dict(d.get("environment") or {}),
                attempts=int(d.get("attempts", 1)),
                aborted=d.get("aborted", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: not a valid {FORMAT} result ({exc!r})") from None


def timeline_of(samples: list[Sample]) -> list[dict[str, Any]]:
    """Per whole second of the run: requests, codes, p50 and p99 (seconds)."""
    seconds: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        seconds[int(s.at)].append(s)
    out = []
    for t in range(max(seconds) + 1 if seconds else 0):
        batch = seconds.get(t, [])
        lat = [s.latency for s in batch]
        out.append(
            {
                "t": t,
                "requests": len(batch),
                "codes": {str(c): k for c, k in sorted(Counter(s.code for s in batch).items())},
                "p50": percentile(lat, 50) if lat else None,
                "p99": percentile(lat, 99) if lat else None,
            }
        )
    return out
