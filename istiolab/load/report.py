"""What a run leaves for people: the verdict table (Rich), a comparison of two runs, the
report directory (result JSON, fortio JSON, Locust's HTML report) and PNG plots drawn with
matplotlib: latency and codes over time per run, 503 share and p99 against users for a sweep.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from istiolab.load.convert import to_fortio
from istiolab.load.result import Result


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}ms"


def verdict_table(result: Result) -> Table:
    table = Table(
        title=f"{result.scenario or result.engine}: {result.requests} requests "
        f"in {result.duration:.2f}s ({result.rps:.1f} rps)"
    )
    for col in ("expectation", "scope", "measured", "verdict", "interval", "detail"):
        table.add_column(col)
    for e in result.expectations:
        style = "green" if e["verdict"] == "pass" else "bold red"
        table.add_row(
            e["expectation"],
            e["scope"],
            e["measured"],
            f"[{style}]{e['verdict']}[/]",
            e["interval"],
            e["detail"],
        )
    return table


def summary_table(result: Result) -> Table:
    """Fortio's "Code 200 : 17 (85.0 %)" facts, per request name and overall."""
    table = Table(title="requests")
    for col in ("name", "requests", "codes", "p50", "p90", "p99", "max"):
        table.add_column(col)
    rows = [*result.by_name.items(), ("overall", result.overall)]
    for name, s in rows:
        codes = (
            ", ".join(f"{c}: {k} ({100 * k / s.requests:.1f} %)" for c, k in s.codes.items())
            if s.requests
            else "-"
        )
        table.add_row(
            name,
            str(s.requests),
            codes,
            _ms(s.latency(50)),
            _ms(s.latency(90)),
            _ms(s.latency(99)),
            _ms(s.max),
        )
    if result.flags is not None:
        table.caption = "response flags: " + (
            ", ".join(f"{f}: {n}" for f, n in result.flags.items()) or "none logged"
        )
    return table


def failures(result: Result) -> list[str]:
    return [
        f"{e['expectation']} [{e['scope']}]: "
        + ("not measured" if e["value"] is None else f"measured {e['measured']}")
        + (f" ({e['detail']})" if e["detail"] else "")
        for e in result.expectations
        if e["verdict"] != "pass"
    ]


def compare_rows(a: Result, b: Result) -> list[tuple[str, str, str]]:
    """Before/after, row by row: rates, shares per code, percentiles, flags, counter deltas,
    verdicts (the `load compare` table and the console's compare page)."""

    def share(r: Result, code: int) -> str:
        n = r.overall.codes.get(code, 0)
        return f"{n / r.requests:.3f} ({n})" if r.requests else "-"

    rows = [("requests", str(a.requests), str(b.requests)), ("rps", f"{a.rps:.1f}", f"{b.rps:.1f}")]
    for code in sorted(set(a.overall.codes) | set(b.overall.codes)):
        rows.append((f"share({code})", share(a, code), share(b, code)))
    for p in (50.0, 90.0, 99.0):
        rows.append((f"p{p:g}", _ms(a.overall.latency(p)), _ms(b.overall.latency(p))))
    for flag in sorted(set(a.flags or {}) | set(b.flags or {})):
        rows.append(
            (f"flag({flag})", str((a.flags or {}).get(flag, 0)), str((b.flags or {}).get(flag, 0)))
        )
    da = {k: c.delta for s in a.counters.values() for k, c in s.items()}
    db = {k: c.delta for s in b.counters.values() for k, c in s.items()}
    for key in sorted(set(da) | set(db)):
        if da.get(key) or db.get(key):
            rows.append(
                (f"{key.rsplit('.', 1)[-1]} grew", str(da.get(key, 0)), str(db.get(key, 0)))
            )
    ea = {e["expectation"] + e["scope"]: e for e in a.expectations}
    eb = {e["expectation"] + e["scope"]: e for e in b.expectations}
    for key in list(dict.fromkeys([*ea, *eb])):
        e = ea.get(key) or eb[key]
        rows.append(
            (
                e["expectation"],
                ea[key]["verdict"] if key in ea else "-",
                eb[key]["verdict"] if key in eb else "-",
            )
        )
    return rows


def compare_table(a: Result, b: Result, names: tuple[str, str] = ("A", "B")) -> Table:
    """Before/after as a table (see :func:`compare_rows`)."""
    table = Table(title=f"compare {names[0]} -> {names[1]}")
    for col in ("metric", names[0], names[1]):
        table.add_column(col)
    for row in compare_rows(a, b):
        table.add_row(*row)
    return table


RUNS = "load-runs"


def runs_dir(state_root: str | Path) -> Path:
    """Where every `istiolab load` run is recorded (the console lists them from here)."""
    return Path(state_root) / RUNS


def run_id(result: Result) -> str:
    """A sortable, readable folder name: ``20261130T184501-circuit-breaker``."""
    stamp = "".join(ch for ch in (result.started or "")[:19] if ch.isalnum()) or "run"
    return f"{stamp}-{result.scenario or result.engine}"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def write_report(directory: str | Path, result: Result, html: str = "") -> list[Path]:
    """result.json, fortio.json, report.html (Locust's), latency.png and codes.png."""
    out = _private_dir(Path(directory))
    written = [out / "result.json", out / "fortio.json"]
    _write(written[0], result.to_json())
    _write(written[1], json.dumps(to_fortio(result), indent=2) + "\n")
    if html:
        written.append(out / "report.html")
        _write(written[-1], html)
    written += plot_run(result, out)
    return written


def _save(fig, path: Path) -> None:
    """Write a figure readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        fig.savefig(out, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_run(result: Result, out: Path) -> list[Path]:
    """Latency (p50, p99) and status codes per second of the run."""
    if not result.timeline:
        return []
    plt = _pyplot()
    t = [row["t"] for row in result.timeline]
    fig, ax = plt.subplots(figsize=(8, 4))
    for key in ("p50", "p99"):
        ax.plot(t, [(row[key] or 0) * 1000 for row in result.timeline], marker="o", label=key)
    ax.set(
        xlabel="seconds into the run", ylabel="latency (ms)", title=f"{result.scenario}: latency"
    )
    ax.legend()
    ax.grid(alpha=0.3)
    latency = out / "latency.png"
    _save(fig, latency)
    codes = sorted({c for row in result.timeline for c in row["codes"]}, key=int)
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0] * len(t)
    for code in codes:
        values = [row["codes"].get(code, 0) for row in result.timeline]
        ax.bar(t, values, bottom=bottom, label=f"code {code}")
        bottom = [x + y for x, y in zip(bottom, values, strict=True)]
    ax.set(xlabel="seconds into the run", ylabel="requests", title=f"{result.scenario}: codes")
    ax.legend()
    path = out / "codes.png"
    _save(fig, path)
    return [latency, path]


def plot_sweep(points: Sequence[tuple[int, Result]], out: Path, code: int = 503) -> Path:
    """Share of ``code`` and p99 against concurrency: the breaker's knee."""
    plt = _pyplot()
    _private_dir(out)
    users = [u for u, _ in points]
    shares = [r.overall.codes.get(code, 0) / r.requests if r.requests else 0 for _, r in points]
    p99 = [(r.overall.latency(99) or 0) * 1000 for _, r in points]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(users, shares, marker="o", color="tab:red", label=f"share({code})")
    ax.set(xlabel="users (concurrency)", ylabel=f"share of {code}", ylim=(0, 1.05))
    ax2 = ax.twinx()
    ax2.plot(users, p99, marker="s", color="tab:blue", label="p99")
    ax2.set_ylabel("p99 (ms)")
    fig.legend(loc="upper left")
    ax.set_title(f"{points[0][1].scenario}: {code} share and p99 against users")
    path = out / "sweep.png"
    _save(fig, path)
    return path


def write_sweep(points: Sequence[tuple[int, Result]], directory: Path) -> list[Path]:
    """sweep.json (every run's result, by users) and sweep.png."""
    out = _private_dir(directory)
    data = out / "sweep.json"
    _write(data, json.dumps([{"users": n, **r.to_dict()} for n, r in points], indent=2) + "\n")
    return [data, plot_sweep(points, out)]
