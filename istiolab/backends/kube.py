"""``KubeBackend``: any kubeconfig context, through the official ``kubernetes`` client."""

from __future__ import annotations

from istiolab.errors import MeshError


class KubeBackend:
    """Placeholder until the implementation lands on this branch."""

    def __init__(self, context: str) -> None:
        raise MeshError(f"--context {context}: the Kubernetes backend is not available yet")
