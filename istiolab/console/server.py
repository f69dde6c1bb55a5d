"""Running the console: uvicorn on loopback, in a thread of the calling process (the local
mesh's supervisor runs it beside the mesh, so it costs a thread, not a process) or in the
foreground (``istiolab console``). The URL, token included, is written 0600 to the state
directory so ``istiolab console`` can print it again."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from istiolab.errors import ConfigError

URL_FILE = "console.url"
DEFAULT_PORT = 20001


def loopback_only(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ConfigError(f"--host {host}: the console serves loopback only (e.g. 127.0.0.1)")


def free_port(host: str, preferred: int) -> int:
    """`preferred` when it can be bound on `host`, else the next free one (up to +20)."""
    for port in range(preferred, preferred + 21):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise ConfigError(f"no free port on {host} in {preferred}..{preferred + 20}: use --port")


@dataclass
class Running:
    url: str
    server: object
    thread: threading.Thread | None

    def stop(self) -> None:
        self.server.should_exit = True  # type: ignore[attr-defined]
        if self.thread is not None:
            self.thread.join(timeout=5)


def write_url(state_root: Path, url: str) -> Path:
    path = state_root / URL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(url + "\n")
    return path


def read_url(state_root: Path) -> str | None:
    with contextlib.suppress(OSError):
        return (state_root / URL_FILE).read_text().strip() or None
    return None


def serve(app: object, host: str, port: int, token: str, background: bool) -> Running:
    """Start uvicorn for `app`; in a daemon thread when `background`, else block until stopped."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=loopback_only(host),
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}/?token={token}"
    if background:
        thread = threading.Thread(target=server.run, name="console", daemon=True)
        thread.start()
        return Running(url, server, thread)
    server.run()  # uvicorn handles Ctrl-C / SIGTERM itself in the foreground
    return Running(url, server, None)


@dataclass
class Prepared:
    app: object
    host: str
    port: int
    token: str
    url: str


def prepare(
    state_root: Path,
    context: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    labs_dir: str | None = None,
    record: bool = False,
) -> Prepared:
    """The console app for the mesh of `state_root` (or the cluster of `context`), a free
    loopback port and a fresh token; with `record` (the mesh's own console) the URL is
    written 0600 to the state directory for `istiolab console` to print."""
    from istiolab.backends import open_backend
    from istiolab.console.app import create_app
    from istiolab.console.auth import new_token
    from istiolab.console.sources import Sources

    token = new_token()
    sources = Sources(lambda: open_backend(context, str(state_root)), state_root, labs_dir)
    chosen = free_port(loopback_only(host), port or DEFAULT_PORT)
    url = f"http://{host}:{chosen}/?token={token}"
    if record:
        state_root.mkdir(parents=True, exist_ok=True)
        write_url(state_root, url)
    return Prepared(create_app(sources, token), host, chosen, token, url)


def start_background(state_root: Path, host: str = "127.0.0.1", port: int | None = None) -> Running:
    """The local mesh's console, in a thread of the mesh's own process (`istiolab up`)."""
    p = prepare(state_root, None, host, port, record=True)
    return serve(p.app, p.host, p.port, p.token, background=True)


def wait_for_url(state_root: Path, timeout: float = 5.0) -> str | None:
    """The console URL once the (detached) mesh's console answers, or None after `timeout`."""
    import time
    import urllib.request

    deadline, delay = time.monotonic() + timeout, 0.02
    while time.monotonic() < deadline:
        url = read_url(state_root)
        if url:
            base = url.split("/?", 1)[0]
            token = url.split("token=", 1)[1]
            req = urllib.request.Request(
                f"{base}/api/labs", headers={"Authorization": f"Bearer {token}"}
            )
            with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=2):
                return url
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    return None
