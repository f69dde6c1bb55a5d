"""One way to drive a mesh, on either backend (see :mod:`istiolab.backends.base`).

``open_backend(context=None, state_dir=None)`` returns a ``LocalBackend`` (the running local
mesh of that state directory) when `context` is None, else a ``KubeBackend`` for that
kubeconfig context (``--context NAME`` / ``ISTIOLAB_CONTEXT``).
"""

from __future__ import annotations

import os
from pathlib import Path

from istiolab.backends.base import (
    CURL_EXIT_CODES,
    Backend,
    ChangeResult,
    HttpResult,
    Pod,
    ProxySync,
)

CONTEXT_ENV = "ISTIOLAB_CONTEXT"


def open_backend(context: str | None = None, state_dir: str | Path | None = None) -> Backend:
    """The mesh to drive: kubeconfig context `context` (else ``$ISTIOLAB_CONTEXT``) through
    the Kubernetes API, or, with neither, the local mesh of `state_dir`."""
    context = context or os.environ.get(CONTEXT_ENV) or None
    if context:
        from istiolab.backends.kube import KubeBackend

        return KubeBackend(context)
    from istiolab.backends.local import LocalBackend

    return LocalBackend(state_dir)


__all__ = [
    "CONTEXT_ENV",
    "CURL_EXIT_CODES",
    "Backend",
    "ChangeResult",
    "HttpResult",
    "Pod",
    "ProxySync",
    "open_backend",
]
