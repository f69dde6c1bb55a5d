"""`istiolab lab`: guided exercises checked on the local mesh or a cluster (``--context``).

Thin edge over :mod:`istiolab.labs`: the format and checks are there, the mesh is reached
through :func:`istiolab.backends.open_backend`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from istiolab.commands import labview
from istiolab.commands.common import make_console, state_dir_option
from istiolab.commands.labview import FAIL, PASS
from istiolab.errors import CheckFailed, NotFoundError
from istiolab.labs import format as labformat
from istiolab.labs.checks import CheckResult
from istiolab.labs.progress import Progress


def _options(f: Callable) -> Callable:
    f = click.option(
        "--context",
        envvar="ISTIOLAB_CONTEXT",
        default=None,
        help="A kubeconfig context (a cluster, or the local mesh's own API); default: local.",
    )(f)
    f = click.option(
        "--labs-dir",
        envvar=labformat.LABS_DIR_ENV,
        type=click.Path(file_okay=False),
        default=None,
        help="The folder of NN-slug lab folders (default: the labs shipped with istiolab).",
    )(f)
    return state_dir_option(f)


def _output(f: Callable) -> Callable:
    return click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")(f)


class Ctx:
    """What a lab subcommand needs: the library, the state dir, the backend (opened lazily)."""

    def __init__(self, context: str | None, labs_dir: str | None, state_dir: str | None) -> None:
        from istiolab.local.state import resolve_state_dir

        self.context = context
        self.root = labformat.labs_root(labs_dir)
        self.state_dir = Path(resolve_state_dir(state_dir))
        self.progress = Progress.in_state_dir(self.state_dir)
        self.backend_name = context or "local"
        self._state_option = state_dir
        self._backend = None

    @property
    def backend(self):
        if self._backend is None:
            from istiolab.backends import open_backend

            backend = open_backend(self.context, self._state_option)
            if self.context is None:
                backend.running()  # a lab needs a live mesh: say how to start it, at once
            self._backend = backend
        return self._backend

    def lab(self, name: str | None) -> labformat.Lab:
        if name:
            return labformat.find_lab(self.root, name)
        active = self.progress.active(self.backend_name)
        if not active:
            raise NotFoundError(
                "no lab is active; start one with `istiolab lab start NAME` "
                "(see `istiolab lab list`)"
            )
        return labformat.find_lab(self.root, active)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


def _ctx(context: str | None, labs_dir: str | None, state_dir: str | None) -> Ctx:
    ctx = Ctx(context, labs_dir, state_dir)
    click.get_current_context().call_on_close(ctx.close)
    return ctx


@click.group()
def lab() -> None:
    """Guided exercises: list, show, start, check [--watch], hint, solve, reset, progress."""


@lab.command("list")
@_options
@_output
def list_labs(context, labs_dir, state_dir, output) -> None:
    """Every lab with its progress."""
    c = _ctx(context, labs_dir, state_dir)
    rows = c.progress.rows(c.backend_name, labformat.load_library(c.root))
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    t = Table(title=f"labs ({c.root})", title_justify="left")
    for col in ("NAME", "TITLE", "MIN", "PROGRESS"):
        t.add_column(col)
    for r in rows:
        mark = f" {PASS}" if r["completed"] else ""
        t.add_row(r["name"], r["title"], str(r["minutes"]), f"{r['passed']}/{r['tasks']}{mark}")
    make_console().print(t)


@lab.command()
@click.argument("name")
@_options
@_output
def show(name, context, labs_dir, state_dir, output) -> None:
    """A lab's goal, source, environment and task instructions."""
    item = _ctx(context, labs_dir, state_dir).lab(name)
    if output == "json":
        click.echo(json.dumps(labformat.lab_dict(item), indent=2))
        return
    from rich.markdown import Markdown

    console = make_console()
    console.print(f"[bold]{item.title}[/bold] ({item.name}, about {item.minutes} min)")
    console.print(f"Goal: {item.goal}\nFollows: {item.source}")
    if item.requires:
        console.print(f"Requires: {', '.join(item.requires)}")
    for task in item.tasks:
        console.rule(f"Task {task.number}: {task.title}")
        console.print(Markdown(task.instructions))
        for check in task.checks:
            console.print(f"  check [cyan]{check.id}[/cyan]: {check.description}")


@lab.command()
@click.argument("name")
@_options
def start(name, context, labs_dir, state_dir) -> None:
    """Bring up the lab's samples and apply its start state (a clean slate)."""
    from istiolab.labs import session

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    with make_console().status(f"starting {item.name} on {c.backend_name}"):
        session.start(c.backend, item)
    c.progress.start(c.backend_name, item.name)
    click.echo(f"lab {item.name} started on {c.backend_name}: {item.title}")
    click.echo(f"task 1: {item.tasks[0].title}  (istiolab lab show {item.name}; lab check)")


@lab.command()
@click.option("--lab", "name", default=None, help="The lab (default: the active one).")
@click.option("--task", type=int, default=None, help="Only this task.")
@click.option("--watch", is_flag=True, help="Re-check whenever the config changes.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Watch poll, s.")
@_options
@_output
@click.pass_context
def check(ctx, name, task, watch, interval, context, labs_dir, state_dir, output) -> None:
    """Run the checks; each failure shows expected, measured and a hint (exit 1)."""
    from istiolab.labs.runner import Runner

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    numbers = [task] if task else [t.number for t in item.tasks]
    for n in numbers:
        item.task(n)
    runner = Runner(c.backend)
    if watch:
        labview.watch(
            c.backend,
            item,
            lambda: runner.run_lab(item, numbers),
            lambda results: _record(c, item, results),
            interval,
        )
        return
    results = runner.run_lab(item, numbers)
    _record(c, item, results)
    labview.print_results(item, results, output)
    if any(not r.passed for rs in results.values() for r in rs):
        ctx.exit(1)


def _record(c: Ctx, item: labformat.Lab, results: dict[int, list[CheckResult]]) -> list[int]:
    from istiolab.labs.session import summary

    passed, _ = summary(results)
    return c.progress.record(c.backend_name, item.name, passed, len(item.tasks))


@lab.command()
@click.option("--lab", "name", default=None, help="The lab (default: the active one).")
@_options
def hint(name, context, labs_dir, state_dir) -> None:
    """Hints for the first task that does not pass yet, and what its checks measured."""
    from istiolab.labs.runner import Runner

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    runner = Runner(c.backend)
    for task in item.tasks:
        results = runner.run_task(task)
        if all(r.passed for r in results):
            continue
        click.echo(f"task {task.number}: {task.title}")
        for i, h in enumerate(task.hints, 1):
            click.echo(f"  hint {i}: {h}")
        for r in results:
            if not r.passed:
                click.echo(f"  {FAIL} {r.id}: expected {r.expected}; measured {r.measured}")
                if r.hint:
                    click.echo(f"    hint: {r.hint}")
        return
    click.echo(f"{PASS} every task of {item.name} passes")


@lab.command()
@click.option("--lab", "name", default=None, help="The lab (default: the active one).")
@click.option("--task", type=int, default=None, help="Solve tasks 1..N (default: all).")
@_options
def solve(name, task, context, labs_dir, state_dir) -> None:
    """Apply the reference solution (what `kubectl apply` of the solution files would do)."""
    from istiolab.labs import session

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    upto = task or len(item.tasks)
    item.task(upto)
    for n in range(1, upto + 1):
        t = item.task(n)
        click.echo(f"task {n}: {t.title}")
        for command in t.solution.commands:
            click.echo(f"  $ {command}")
        session.solve(c.backend, item, n)
    click.echo(f"solution applied up to task {upto}; run `istiolab lab check`")


@lab.command()
@click.option("--lab", "name", default=None, help="The lab (default: the active one).")
@_options
def reset(name, context, labs_dir, state_dir) -> None:
    """Restore the lab's start state (and start its progress over)."""
    from istiolab.labs import session

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    session.start(c.backend, item)
    c.progress.start(c.backend_name, item.name)
    click.echo(f"lab {item.name} reset to its start state")


@lab.command()
@click.option("--lab", "name", default=None, help="The lab (default: the active one).")
@_options
def cleanup(name, context, labs_dir, state_dir) -> None:
    """Remove what the lab created (its samples stay) and end it."""
    from istiolab.labs import session

    c = _ctx(context, labs_dir, state_dir)
    item = c.lab(name)
    removed = session.cleanup(c.backend, item)
    c.progress.stop(c.backend_name, item.name)
    for kind, obj, ns in removed:
        click.echo(f"{kind.lower()}/{obj} -n {ns} deleted")
    click.echo(f"lab {item.name} cleaned up")


@lab.command()
@_options
@_output
def progress(context, labs_dir, state_dir, output) -> None:
    """Tasks passed per lab, and when."""
    c = _ctx(context, labs_dir, state_dir)
    data = c.progress.all(c.backend_name)
    if output == "json":
        click.echo(json.dumps({"backend": c.backend_name, "labs": data}, indent=2))
        return
    from rich.table import Table

    active = c.progress.active(c.backend_name)
    t = Table(title=f"lab progress on {c.backend_name}", title_justify="left")
    for col in ("LAB", "STARTED", "TASKS PASSED", "COMPLETED"):
        t.add_column(col)
    for item in labformat.load_library(c.root):
        entry = data.get(item.name)
        if not entry:
            continue
        tasks = entry.get("tasks", {})
        passed = ", ".join(f"{n} ({ts[11:19]})" for n, ts in sorted(tasks.items())) or "-"
        name = item.name + (" (active)" if item.name == active else "")
        t.add_row(
            name,
            entry.get("started", "-"),
            f"{len(tasks)}/{len(item.tasks)}: {passed}",
            entry.get("completed") or "-",
        )
    make_console().print(t)


@lab.command()
@click.argument("names", nargs=-1)
@click.option(
    "--patience",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a solution's check may take to pass.",
)
@_options
@_output
def selftest(names, patience, context, labs_dir, state_dir, output) -> None:
    """Prove labs: the start state fails its checks as declared, each solution passes them."""
    from istiolab.labs import session

    c = _ctx(context, labs_dir, state_dir)
    labs = [c.lab(n) for n in names] if names else labformat.load_library(c.root)
    console = make_console()
    reports = []
    for item in labs:
        with console.status(f"self-test {item.name}") as status:
            report = session.selftest(
                c.backend, item, patience=patience, progress=lambda s: status.update(s)
            )
        reports.append(report)
        if output != "json":
            mark = f"[green]{PASS}[/green]" if report.passed else f"[red]{FAIL}[/red]"
            console.print(f"{mark} {item.name} ({report.seconds:.1f}s)")
            for p in report.problems:
                console.print(f"    {p}")
    if output == "json":
        click.echo(json.dumps([r.__dict__ for r in reports], indent=2))
    failed = [r.lab for r in reports if not r.passed]
    if failed:
        raise CheckFailed(f"self-test failed for {', '.join(failed)}")
