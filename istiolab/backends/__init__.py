"""One way to drive a mesh, on either backend (see :mod:`istiolab.backends.base`).

``open_backend(context=None, state_dir=None)`` returns a ``LocalBackend`` (the running local
mesh of that state directory) when `context` is None, else a ``KubeBackend`` for that
kubeconfig context (``--context NAME`` / ``ISTIOLAB_CONTEXT``).
"""

from istiolab.backends.base import (
    CURL_EXIT_CODES,
    Backend,
    ChangeResult,
    HttpResult,
    Pod,
    ProxySync,
)

__all__ = ["CURL_EXIT_CODES", "Backend", "ChangeResult", "HttpResult", "Pod", "ProxySync"]
