"""What the local mesh commands share: options, the state directory, the control API
client, tables and workload lookup. Thin edge; the work is done by `istiolab.local`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import click

from istiolab.errors import MeshError, NotFoundError
from istiolab.local.control import ControlClient, NotRunning
from istiolab.local.state import StateDir, resolve_state_dir

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $ISTIOLAB_STATE_DIR, else ./.istiolab).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)


def open_state(state_dir: str | None) -> StateDir:
    """--state-dir, else $ISTIOLAB_STATE_DIR, else ./.istiolab."""
    return StateDir(resolve_state_dir(state_dir))


def mesh_client(state: StateDir, timeout: float = 120.0) -> ControlClient | None:
    """A client for the running supervisor, or None when the mesh is not running; MeshError
    when it is half broken (supervisor gone with its proxies running, stopped, or without
    its socket), so nothing is written behind running proxies' back."""
    from istiolab.local.health import supervisor_problem

    problem = supervisor_problem(state)
    if problem:
        raise MeshError(problem)
    if state.running_pid() is None:
        return None
    return ControlClient(state.socket, timeout=timeout)


def running_mesh(state: StateDir) -> ControlClient:
    """A client for the running supervisor; NotRunning (with the way to start it) if none."""
    client = mesh_client(state)
    if client is None:
        raise NotRunning(
            f"the local mesh is not running (state directory {state.root}); "
            "start it with `istiolab up`"
        )
    return client


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A kubectl/istioctl-style table: left-aligned columns, three spaces apart."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [list(headers), *rows]
    ]
    return "\n".join(lines)


def make_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def running_pods(state: StateDir) -> list[dict]:
    """The running mesh's pods, as `status` reports them."""
    return running_mesh(state).get("/status")["pods"]


def find_pod(pods: list[dict], workload: str) -> dict:
    """WORKLOAD[.NS]: a Deployment name, the pods' `app` label or a pod name."""
    name, _, ns = workload.partition(".")
    ns = ns or "default"
    matches = [
        p
        for p in pods
        if p["namespace"] == ns and name in (p["deployment"], p["labels"].get("app"), p["name"])
    ]
    if not matches:
        known = sorted({f"{p['deployment']}.{p['namespace']}" for p in pods})
        raise NotFoundError(
            f"no workload {name!r} in namespace {ns} (running: {', '.join(known) or 'none'})"
        )
    return sorted(matches, key=lambda p: p["name"])[0]


def print_change(result: dict) -> None:
    """Print what an apply/delete changed, kubectl-style, and whether the proxies synced."""
    for line in result.get("lines", []):
        click.echo(line)
    for pod in result.get("stopped", []):
        click.echo(f"pod/{pod} stopped")
    for pod in result.get("started", []):
        click.echo(f"pod/{pod} started")
    synced = result.get("synced") or {}
    if synced.get("ok", True):
        click.echo(
            f"{result.get('proxies', 0)} proxies synced in "
            f"{result.get('seconds', 0) * 1000:.0f} ms",
            err=True,
        )
    else:
        click.echo(f"warning: proxies not synced: {synced.get('error')}", err=True)
