"""`istiolab kubeconfig`: the path of the local mesh's kubeconfig (context ``istiolab``).

``export KUBECONFIG=$(istiolab kubeconfig)`` points kubectl (and any Kubernetes client) at
the running local mesh's Kubernetes API; `istiolab up` writes the file (mode 0600).
"""

from __future__ import annotations

import click

from istiolab.commands.common import open_state, state_dir_option
from istiolab.errors import MeshError


@click.command()
@state_dir_option
def kubeconfig(state_dir: str | None) -> None:
    """Print the path of the local mesh's kubeconfig (export KUBECONFIG=$(istiolab kubeconfig))."""
    state = open_state(state_dir)
    if not state.kubeconfig.exists():
        raise MeshError(
            f"{state.kubeconfig} does not exist: the local mesh writes it when it starts "
            "(`istiolab up`)"
        )
    click.echo(str(state.kubeconfig))
