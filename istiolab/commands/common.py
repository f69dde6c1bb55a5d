"""What the commands share: options, the backend they drive (the local mesh of a state
directory, or a kubeconfig context), tables and change reports. Thin edge; the work is done
behind :mod:`istiolab.backends`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from istiolab.backends import Backend, ChangeResult
    from istiolab.backends.local import LocalBackend
    from istiolab.local.state import StateDir

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $ISTIOLAB_STATE_DIR, else ./.istiolab).",
)
context_option = click.option(
    "--context",
    default=None,
    metavar="NAME",
    help="Drive this kubeconfig context through the Kubernetes API instead of the local mesh "
    "(default: $ISTIOLAB_CONTEXT).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)


def open_state(state_dir: str | None) -> StateDir:
    """--state-dir, else $ISTIOLAB_STATE_DIR, else ./.istiolab."""
    from istiolab.local.state import StateDir, resolve_state_dir

    return StateDir(resolve_state_dir(state_dir))


def open_backend(context: str | None, state_dir: str | None) -> Backend:
    """The mesh a command drives: `context` (or $ISTIOLAB_CONTEXT), else the local mesh."""
    from istiolab.backends import open_backend as open_

    return open_(context, state_dir)


def local_backend(state_dir: str | None) -> LocalBackend:
    """The local mesh of --state-dir ($ISTIOLAB_STATE_DIR, ./.istiolab), running or not."""
    from istiolab.backends.local import LocalBackend

    return LocalBackend(state_dir)


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


def print_change(result: ChangeResult) -> None:
    """Print what an apply/delete changed, kubectl-style, and whether the proxies synced."""
    for line in result.lines:
        click.echo(line)
    for pod in result.pods_stopped:
        click.echo(f"pod/{pod} stopped")
    for pod in result.pods_started:
        click.echo(f"pod/{pod} started")
    if result.sync_error:
        click.echo(f"warning: proxies not synced: {result.sync_error}", err=True)
    elif result.proxies:
        click.echo(f"{result.proxies} proxies synced in {result.seconds * 1000:.0f} ms", err=True)
