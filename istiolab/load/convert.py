"""Other load generators' output in the one result format, and fortio's JSON out of it.

- fortio ``-json FILE`` (``fortio load -json -``): ``DurationHistogram`` (Count, Min, Max, Avg,
  StdDev, ``Data`` buckets with Start/End/Percent/Count in seconds, ``Percentiles``),
  ``RetCodes`` per status code (-1 for socket errors), ``ActualDuration`` in nanoseconds.
- Nighthawk ``--output-format fortio`` (same shape; 64-bit numbers may be JSON strings;
  ``RetCodes`` holds only ``"200"``: the count of 2xx, so other codes are known as "not 2xx").
- h2load's text summary (``finished in``, ``requests:``, ``status codes:`` per class,
  ``time for request:`` min/max/mean/sd): codes are classes only and no percentiles exist,
  which an expectation that needs them reports as "not measured".

Pure: text in, :class:`~istiolab.load.result.Result` out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from istiolab.errors import ConfigError
from istiolab.load.result import FORMAT, NO_RESPONSE, UNKNOWN_CLASS, Result, Slice

FORMATS = ("istiolab", "fortio", "nighthawk", "h2load")


def detect(text: str) -> str:
    """Which tool wrote ``text``: one of FORMATS."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return "unknown"
        if data.get("format") == FORMAT:
            return "istiolab"
        if "DurationHistogram" in data or "RetCodes" in data:
            # fortio writes its socket and call accounting; Nighthawk's transform does not
            return "fortio" if {"SocketCount", "Exactly"} & set(data) else "nighthawk"
        return "unknown"
    if re.search(r"^finished in [\d.]+\w+, [\d.]+ req/s", text, re.M) and "requests:" in text:
        return "h2load"
    return "unknown"


def load(text: str, source: str = "<input>", fmt: str | None = None) -> Result:
    """Read any supported output (format detected unless ``fmt`` is given)."""
    fmt = fmt or detect(text)
    if fmt == "istiolab":
        return Result.from_dict(json.loads(text), source)
    if fmt in ("fortio", "nighthawk"):
        try:
            return from_fortio(json.loads(text), engine=fmt)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{source}: not {fmt}'s JSON output ({exc!r})") from None
    if fmt == "h2load":
        return from_h2load(text, source)
    raise ConfigError(
        f"{source}: cannot tell which tool wrote it (expected istiolab's JSON, fortio -json, "
        "Nighthawk --output-format fortio or h2load's summary; name it with --format)"
    )


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


def from_fortio(d: dict[str, Any], engine: str = "fortio") -> Result:
    """fortio's (or Nighthawk's fortio-compatible) JSON."""
    h = d.get("DurationHistogram") or {}
    count = _int(h.get("Count"))
    codes: dict[int, int] = {int(c): _int(n) for c, n in (d.get("RetCodes") or {}).items()}
    exact = engine == "fortio"
    if not exact:
        known = sum(codes.values())
        if count > known:
            codes[UNKNOWN_CLASS] = count - known
    histogram = [
        (float(b["Start"]), float(b["End"]), _int(b["Count"]))
        for b in h.get("Data") or []
        if _int(b.get("Count"))
    ]
    percentiles = {float(p["Percentile"]): float(p["Value"]) for p in h.get("Percentiles") or []}
    ns = float(d.get("ActualDuration") or 0)
    overall = Slice(
        requests=count,
        codes=dict(sorted(codes.items())),
        percentiles=percentiles,
        histogram=histogram,
        mean=_float(h.get("Avg")),
        stddev=_float(h.get("StdDev")),
        min=_float(h.get("Min")),
        max=_float(h.get("Max")),
        exact_codes=exact,
    )
    url = d.get("URL", "")
    return Result(
        engine=engine,
        duration=ns / 1e9,
        overall=overall,
        by_name={url or "all": overall} if url else {},
        target=url,
        started=str(d.get("StartTime", "")),
        users=_int(d.get("NumThreads")),
        environment={"tool_version": str(d.get("Version", ""))},
    )


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def from_h2load(text: str, source: str = "<h2load>") -> Result:
    """h2load's summary (what ``h2load -n10 -c3 URL`` prints)."""
    try:
        finished = re.search(r"^finished in ([\d.]+(?:us|ms|s)), ([\d.]+) req/s", text, re.M)
        reqs = re.search(
            r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
            r"(\d+) failed, (\d+) errored, (\d+) timeout",
            text,
            re.M,
        )
        classes = re.search(
            r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M
        )
        if not (finished and reqs and classes):
            raise ValueError("missing 'finished in', 'requests:' or 'status codes:' line")
        done, errored = int(reqs.group(3)), int(reqs.group(6))
        codes = {100 * (i + 2): int(n) for i, n in enumerate(classes.groups()) if int(n)}
        if errored:
            codes[NO_RESPONSE] = errored
        timing = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
        lo = hi = mean = sd = None
        if timing:
            lo, hi, mean, sd = (_seconds(t) for t in timing.groups())
        url = re.search(r"^(?:h2load|starting benchmark).*?(https?://\S+)", text, re.M)
        overall = Slice(
            requests=done,
            codes=dict(sorted(codes.items())),
            mean=mean,
            stddev=sd,
            min=lo,
            max=hi,
            exact_codes=False,
        )
        return Result(
            engine="h2load",
            duration=_seconds(finished.group(1)),
            overall=overall,
            target=url.group(1) if url else "",
        )
    except ValueError as exc:
        raise ConfigError(f"{source}: not h2load's summary ({exc})") from None


def to_fortio(result: Result, version: str = "") -> dict[str, Any]:
    """fortio's ``-json`` shape of a result, so fortio's report UI and tools read it."""
    s = result.overall
    total = sum(c for _, _, c in s.histogram) or 1
    seen = 0
    data = []
    for start, end, count in s.histogram:
        seen += count
        data.append({"Start": start, "End": end, "Percent": 100.0 * seen / total, "Count": count})
    return {
        "RunType": "HTTP",
        "Labels": result.scenario,
        "StartTime": result.started,
        "RequestedQPS": "max",
        "RequestedDuration": f"exactly {s.requests} calls",
        "ActualQPS": result.rps,
        "ActualDuration": int(result.duration * 1e9),
        "NumThreads": result.users,
        "Version": version,
        "DurationHistogram": {
            "Count": s.requests,
            "Min": s.min or 0.0,
            "Max": s.max or 0.0,
            "Sum": (s.mean or 0.0) * s.requests,
            "Avg": s.mean or 0.0,
            "StdDev": s.stddev or 0.0,
            "Data": data,
            "Percentiles": [{"Percentile": p, "Value": v} for p, v in s.percentiles.items()],
        },
        "Exactly": s.requests,
        "RetCodes": {str(c): n for c, n in s.codes.items()},
        "URL": result.target,
        "SocketCount": result.users,
    }
