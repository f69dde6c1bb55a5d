"""What `istiolab lab` shows: a lab as data, the checks' Rich table or JSON, and the live
table of `check --watch` (re-run when the lab's objects change, and every 30 s)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import click

from istiolab.backends import Backend
from istiolab.commands.common import make_console
from istiolab.labs import format as labformat
from istiolab.labs.checks import CheckResult
from istiolab.labs.session import config_fingerprint

PASS, FAIL = "\N{CHECK MARK}", "\N{BALLOT X}"
Results = dict[int, list[CheckResult]]


def results_table(item: labformat.Lab, results: dict[int, list[CheckResult]]):
    from rich.table import Table

    t = Table(title=f"{item.name}: {item.title}", title_justify="left", show_lines=False)
    for col in ("TASK", "CHECK", "", "EXPECTED / MEASURED"):
        t.add_column(col, overflow="fold")
    for n, rs in results.items():
        for i, r in enumerate(rs):
            label = f"{n}. {item.task(n).title}" if i == 0 else ""
            if r.passed:
                t.add_row(label, f"{r.id}: {r.description}", f"[green]{PASS}[/green]", "")
            else:
                detail = f"expected {r.expected}\nmeasured {r.measured}"
                if r.hint:
                    detail += f"\n[yellow]hint:[/yellow] {r.hint}"
                t.add_row(label, f"{r.id}: {r.description}", f"[red]{FAIL}[/red]", detail)
    return t


def print_results(item, results, output) -> None:
    if output == "json":
        data = {
            "lab": item.name,
            "tasks": [
                {
                    "number": n,
                    "title": item.task(n).title,
                    "passed": all(r.passed for r in rs),
                    "checks": [r.to_dict() for r in rs],
                }
                for n, rs in results.items()
            ],
        }
        click.echo(json.dumps(data, indent=2))
        return
    make_console().print(results_table(item, results))


def watch(
    backend: Backend,
    item: labformat.Lab,
    check: Callable[[], Results],
    record: Callable[[Results], Sequence[int]],
    interval: float,
) -> None:
    """Re-run the checks when the config changes (and at least every 30 s), live."""
    from rich.live import Live

    last, last_run, results = None, 0.0, {}
    with Live(auto_refresh=False, console=make_console()) as live:
        try:
            while True:
                fp = config_fingerprint(backend, item)
                if fp != last or time.monotonic() - last_run > 30:
                    last, last_run = fp, time.monotonic()
                    results = check()
                    new = record(results)
                    table = results_table(item, results)
                    table.caption = (
                        f"watching (Ctrl-C to stop); last check {time.strftime('%H:%M:%S')}"
                        + (f"; task {', '.join(map(str, new))} passed!" if new else "")
                    )
                    live.update(table, refresh=True)
                    if all(r.passed for rs in results.values() for r in rs):
                        live.console.print(f"{PASS} every task of {item.name} passes")
                        return
                time.sleep(interval)
        except KeyboardInterrupt:
            return
