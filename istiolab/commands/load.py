"""`istiolab load`: run a load scenario and judge it; `load verdict` judges any tool's output;
`load compare` puts two runs side by side; `load list` shows the scenarios."""

from __future__ import annotations

import re
from pathlib import Path

import click

from istiolab.commands.common import context_option, open_backend, state_dir_option
from istiolab.errors import CheckFailed, ConfigError, ParameterError

SUBCOMMANDS = ("verdict", "compare", "list")


class LoadGroup(click.Group):
    """`load SCENARIO ...` runs a scenario; `load verdict|compare|list` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in SUBCOMMANDS and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["run", *SUBCOMMANDS]


@click.group(cls=LoadGroup)
def load() -> None:
    """Load tests that prove resilience: `istiolab load SCENARIO [options]` (see `load run
    --help`), `load verdict FILE --expect EXPR`, `load compare A.json B.json`, `load list`."""


def parse_duration(value: str | None) -> float | None:
    if value is None:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", value.strip())
    if not m:
        raise ParameterError("--duration", value, "a duration like 30s, 2m or 45")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def parse_sweep(value: str) -> list[int]:
    m = re.fullmatch(r"users=(\d+)\.\.(\d+)", value) or re.fullmatch(r"users=([\d,]+)()", value)
    if not m:
        raise ParameterError("--sweep", value, "users=A..B or users=1,2,4,8")
    if m.group(2):
        low, high = int(m.group(1)), int(m.group(2))
        if not 1 <= low <= high <= 256:
            raise ParameterError("--sweep", value, "1 <= A <= B <= 256")
        return list(range(low, high + 1))
    return [int(x) for x in m.group(1).split(",") if x]


@load.command("run")
@click.argument("scenario")
@click.option("--from", "source", default=None, help="WORKLOAD[.NS] to send from (its sidecar).")
@click.option("--users", "-u", type=click.IntRange(min=1), default=None, help="Concurrent users.")
@click.option("--spawn-rate", "-r", type=click.FloatRange(min=0.1), default=None, help="Users/s.")
@click.option("--requests", "-n", type=click.IntRange(min=1), default=None, help="Stop after N.")
@click.option("--duration", "-t", default=None, help="Stop after this long (30s, 2m).")
@click.option("--target", default=None, help="Base URL (default: the scenario's TARGET).")
@context_option
@click.option(
    "--report",
    "report_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write result.json, fortio.json, report.html and PNG plots here.",
)
@click.option("--seed", type=int, default=None, help="Seed the users' random choices.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "locust", "fortio"]),
    default="auto",
    show_default=True,
    help="fortio: the load made by the fortio pod itself (needs --from, --requests); auto: "
    "fortio for --from a pod of a cluster (--context), else Locust.",
)
@click.option("--rate", type=click.FloatRange(min=0.1), default=None, help="Fixed arrivals/s.")
@click.option("--sweep", default=None, help="users=1..8: one run per concurrency, plotted.")
@click.option("--find-max-rps", is_flag=True, help="Highest rate that keeps the expectations.")
@click.option("--expect", "extra", multiple=True, help="An extra expectation (repeatable).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "fortio"]),
    default="table",
    help="json: the result format (loadtests/README.md); fortio: fortio's -json shape.",
)
@state_dir_option
def run_cmd(
    scenario: str,
    source: str | None,
    users: int | None,
    spawn_rate: float | None,
    requests: int | None,
    duration: str | None,
    target: str | None,
    context: str | None,
    report_dir: str | None,
    seed: int | None,
    engine: str,
    rate: float | None,
    sweep: str | None,
    find_max_rps: bool,
    extra: tuple[str, ...],
    output: str,
    state_dir: str | None,
) -> None:
    """Run SCENARIO (loadtests/NAME.py) and judge its expectations: exit 0, or 1 naming each
    failed expectation with its measured value."""
    if requests is not None and duration is not None:
        raise click.UsageError("give --requests or --duration, not both")
    # Locust first: it monkey-patches the process for gevent before the backend connects
    from istiolab.load import runner as load_runner
    from istiolab.load import scenario as scenarios
    from istiolab.load.expect import parse

    sc = scenarios.load(scenario)
    sc.expectations += [parse(x, "--expect") for x in extra]
    plan = load_runner.plan_for(
        sc,
        source=source,
        users=users,
        spawn_rate=spawn_rate,
        requests=requests,
        duration=parse_duration(duration),
        target=target,
        seed=seed,
        rate=rate,
    )
    backend = open_backend(context, state_dir)
    plan = load_runner.resolve(plan, backend)
    if sweep:
        _sweep(sc, plan, backend, parse_sweep(sweep), report_dir, output)
        return
    if find_max_rps:
        _find_max(sc, plan, backend, output)
        return
    from istiolab.load.live import LiveView

    with LiveView(plan, quiet=output != "table") as view:
        attempt, earlier = load_runner.run(
            sc,
            plan,
            backend,
            view.callbacks(),
            html=True,
            engine=load_runner.engine_for(engine, plan, backend),
        )
    _finish(attempt.result, report_dir, attempt.html, output, len(earlier), state_dir, True)


def _finish(
    result,
    report_dir: str | None,
    html: str,
    output: str,
    retried: int,
    state_dir: str | None = None,
    record: bool = False,
) -> None:
    from rich.console import Console

    from istiolab.load import report

    console = Console(stderr=output != "table")
    if output == "json":
        click.echo(result.to_json(), nl=False)
    elif output == "fortio":
        import json

        from istiolab.load.convert import to_fortio

        click.echo(json.dumps(to_fortio(result), indent=2))
    else:
        console.print(report.summary_table(result))
        console.print(report.verdict_table(result))
        if retried:
            console.print(
                f"{retried} earlier attempt(s) failed a statistical expectation and were retried"
            )
        if result.aborted:
            console.print(f"[red]aborted early: {result.aborted}[/]")
    from istiolab.local.state import resolve_state_dir

    # every run is recorded in the state directory (the console lists them); --report copies
    folders = [Path(report_dir)] if report_dir else []
    if record:
        folders.append(report.runs_dir(resolve_state_dir(state_dir)) / report.run_id(result))
    for folder in folders:
        paths = report.write_report(folder, result, html)
        console.print("report: " + ", ".join(str(p) for p in paths))
    failed = report.failures(result)
    if failed:
        n = len(result.expectations)
        raise CheckFailed(f"{len(failed)} of {n} expectation(s) failed: " + "; ".join(failed))


def _sweep(sc, plan, backend, users: list[int], report_dir: str | None, output: str) -> None:
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from istiolab.load import report
    from istiolab.load import runner as load_runner

    points = []
    table = Table(title=f"{sc.name}: sweep over users")
    for col in ("users", "requests", "share(503)", "p50", "p99", "verdict"):
        table.add_column(col)
    for n in users:
        attempt = load_runner.run_once(sc, replace(plan, users=n), backend)
        r = attempt.result
        points.append((n, r))
        share = r.overall.codes.get(503, 0) / r.requests if r.requests else 0.0
        p50, p99 = r.overall.latency(50) or 0, r.overall.latency(99) or 0
        verdict = {True: "pass", False: "fail", None: "-"}[r.passed]
        table.add_row(
            str(n),
            str(r.requests),
            f"{share:.3f}",
            f"{p50 * 1000:.2f}ms",
            f"{p99 * 1000:.2f}ms",
            verdict,
        )
    Console(stderr=output != "table").print(table)
    if report_dir:
        written = report.write_sweep(points, Path(report_dir))
        Console(stderr=output != "table").print("sweep: " + ", ".join(str(p) for p in written))
    if output != "table":
        import json

        click.echo(
            json.dumps({"sweep": [{"users": n, **r.to_dict()} for n, r in points]}, indent=2)
        )


def _find_max(sc, plan, backend, output: str) -> None:
    from dataclasses import replace

    from istiolab.load import runner as load_runner
    from istiolab.load.search import find_max_rps

    if plan.requests is None and (plan.duration or 0) > 10:
        plan = replace(plan, duration=5.0)

    def trial(rate: float) -> bool:
        """The expectations hold AND the offered rate was reached (within 10 %)."""
        attempt = load_runner.run_once(sc, replace(plan, rate=rate, lockstep=False), backend)
        r = attempt.result
        kept = r.rps >= 0.9 * rate
        ok = bool(r.passed) and kept
        why = "" if kept else f" (below 90 % of the offered rate: {plan.users} users too few?)"
        verdict = "pass" if ok else "fail" + why
        click.echo(f"{rate:g} rps offered: {r.rps:.1f} rps measured, {verdict}", err=True)
        return ok

    found = find_max_rps(trial)
    if output != "table":
        import json

        click.echo(
            json.dumps({"passed": found.passed, "failed": found.failed, "trials": found.trials})
        )
    else:
        click.echo(found.describe())


@load.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--expect", "expectations", multiple=True, required=True, help="Repeatable.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["istiolab", "fortio", "nighthawk", "h2load"]),
    default=None,
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "fortio"]),
    default="table",
    help="json: the result format (loadtests/README.md); fortio: fortio's -json shape.",
)
def verdict(file: str, expectations: tuple[str, ...], fmt: str | None, output: str) -> None:
    """Judge FILE (istiolab's, fortio's or Nighthawk's JSON, h2load's summary; '-' = stdin)."""
    import sys

    from istiolab.load import convert
    from istiolab.load.expect import judge_all, parse

    text = sys.stdin.read() if file == "-" else _read(file)
    result = convert.load(text, file, fmt)
    judge_all([parse(x, "--expect") for x in expectations], result)
    _finish(result, None, "", output, 0)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


@load.command()
@click.argument("before", type=click.Path(dir_okay=False))
@click.argument("after", type=click.Path(dir_okay=False))
def compare(before: str, after: str) -> None:
    """BEFORE and AFTER side by side (e.g. without and with a DestinationRule)."""
    from rich.console import Console

    from istiolab.load import convert, report

    a, b = convert.load(_read(before), before), convert.load(_read(after), after)
    Console().print(report.compare_table(a, b, (Path(before).name, Path(after).name)))


@load.command("list")
def list_cmd() -> None:
    """The scenarios in loadtests/."""
    from istiolab.load.scenario import available

    for name in available():
        click.echo(name)
