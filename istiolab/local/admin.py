"""The one way to read or drive an Envoy admin API of the local mesh.

Every proxy's admin API listens on an owner-only Unix socket (``MeshSettings.admin_socket``:
``<socket dir>/a/<pod ip>.sock``, mode 0600, in a 0700 directory), never on a loopback
port every local user could reach (``POST /quitquitquit``, trace logging of
``Authorization`` headers). Readers (proxy-config, proxy-stats, telemetry, the Kubernetes
API's ``pilot-agent request``, the backends' ``proxy_admin``) call :func:`admin_call` in the
supervisor's process or with the state directory, or the running mesh's control API route
``GET /proxy-admin`` (body ``{pod, namespace, path, method}``), which calls it.
"""

from __future__ import annotations

from pathlib import Path

from istiolab.errors import MeshError
from istiolab.local import envoy
from istiolab.local.model import Pod, Proxy
from istiolab.local.state import StateDir

ADMIN_METHODS = ("GET", "POST")


def admin_socket(state: StateDir, proxy: Proxy | Pod | str) -> Path:
    """The admin socket of `proxy` (a Proxy, its Pod, or its pod IP; the gateway's pod IP is
    ``settings.gateway_pod_ip``)."""
    if isinstance(proxy, Proxy):
        proxy = proxy.pod
    ip = proxy.ip if isinstance(proxy, Pod) else str(proxy)
    return state.socket_dir / "a" / f"{ip}.sock"


def admin_request(
    state: StateDir, proxy: Proxy | Pod | str, path: str, method: str = "GET", timeout: float = 5.0
) -> tuple[int, str]:
    """(status, body) of one admin request; MeshError when the proxy cannot be reached."""
    if method not in ADMIN_METHODS:
        raise MeshError(f"admin method {method!r} is not allowed (allowed: GET, POST)")
    if not path.startswith("/"):
        raise MeshError(f"admin path {path!r} must start with '/' (e.g. /stats)")
    return envoy.admin_request(
        str(admin_socket(state, proxy)), path, method=method, timeout=timeout
    )


def admin_call(
    state: StateDir, proxy: Proxy | Pod | str, path: str, method: str = "GET", timeout: float = 5.0
) -> str:
    """The body of one admin request; MeshError when unreachable or answered >= 400."""
    code, body = admin_request(state, proxy, path, method, timeout)
    if code >= 400:
        raise MeshError(
            f"Envoy admin of {_name(proxy)} {path} answered {code}: {body.strip()[:200]}"
        )
    return body


def is_ready(state: StateDir, proxy: Proxy | Pod | str) -> bool:
    """Envoy's ``/ready`` answers 200 (the initial xDS fetch is done)."""
    try:
        code, _ = admin_request(state, proxy, "/ready", timeout=0.5)
    except MeshError:
        return False
    return code == 200


def _name(proxy: Proxy | Pod | str) -> str:
    if isinstance(proxy, Proxy):
        proxy = proxy.pod
    return f"{proxy.name}.{proxy.namespace}" if isinstance(proxy, Pod) else str(proxy)
