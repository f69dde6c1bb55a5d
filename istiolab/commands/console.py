"""`istiolab console`: the workshop console (labs, graph, traces, load runs, mesh) in a
browser. Against the local mesh, `istiolab up` already serves it and this prints its URL;
with `--context` (or when the mesh's console is not answering) it serves one here until
Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import click

from istiolab.commands.common import open_state


@click.command()
@click.option("--context", envvar="ISTIOLAB_CONTEXT", default=None,
              help="Serve against this kubeconfig context instead of the local mesh.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option("--port", type=int, default=None, help="Port (default 20001 or the next free).")
@click.option("--labs-dir", default=None, help="Lab library folder (default: the shipped labs).")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None)
def console(
    context: str | None, host: str, port: int | None, labs_dir: str | None, state_dir: str | None
) -> None:
    """Open the workshop console: prints its URL (with the session token)."""
    from istiolab.console import server

    state = open_state(state_dir)
    root = Path(state.root)
    if context is None and port is None and labs_dir is None:
        url = server.wait_for_url(root, timeout=0.5)  # the mesh's own console, if it answers
        if url:
            click.echo(url)
            return
    prepared = server.prepare(root, context, host, port, labs_dir)
    click.echo(f"console: {prepared.url}  (Ctrl-C stops it)")
    server.serve(prepared.app, prepared.host, prepared.port, prepared.token, background=False)
