"""Running the local mesh's supervisor in the background, and stopping it.

`start_detached` spawns ``istiolab up --serve`` in its own session (output appended to
``logs/supervisor.log``) and polls the control API until the mesh is running, reporting each
pod as it becomes ready; it fails with the log's last lines if the supervisor exits. `stop`
asks the supervisor to shut down over the control API (SIGTERM and SIGCONT if it does not
answer or is stopped, SIGKILL after `timeout`) and then stops any process a killed
supervisor left (recorded, or found by the state directory in its environment).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

from istiolab.errors import MeshError
from istiolab.local.control import ControlClient
from istiolab.local.model import MeshSettings
from istiolab.local.state import StateDir, pid_alive
from istiolab.local.supervisor import kill_leftovers, tail


@contextlib.contextmanager
def settings_kept_on_success(state: StateDir, settings: MeshSettings) -> Iterator[None]:
    """Save `settings` for the block; if it raises, restore the previous settings file (or
    none), so a failed ``up --gateway-host ...`` does not stick to the state directory."""
    path = state.settings_file
    previous = path.read_bytes() if path.exists() else None
    state.save_settings(settings)
    try:
        yield
    except BaseException:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(previous)
        raise


def start_detached(
    state: StateDir,
    timeout: float,
    on_start: Callable[[int, str], None] = lambda pid, log: None,
    on_pod: Callable[[dict], None] = lambda pod: None,
    serve_args: Sequence[str] = (),
) -> None:
    """Start the supervisor in the background; return once the mesh runs. `on_start` gets
    the supervisor's PID and log path, `on_pod` each pod row (``/status``) once ready;
    `serve_args` are more `up --serve` options (e.g. ``--no-console``)."""
    state.create()
    log_path = state.logs / "supervisor.log"
    argv = [sys.executable, "-m", "istiolab", "up", "--serve", "--state-dir", str(state.root)]
    argv += ["--timeout", str(timeout), *serve_args]
    with open(log_path, "ab") as log:
        offset = log.tell()  # this run's lines start here (the log is appended to)
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    on_start(child.pid, str(log_path))
    client = ControlClient(state.socket, timeout=10)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout + 30
    delay = 0.02
    while True:
        code = child.poll()
        if code is not None:
            raise MeshError(
                f"the mesh supervisor exited with code {code}: {tail(log_path, 4, offset)}"
            )
        status = None
        if state.socket.exists():
            try:
                status = client.get("/status")
            except MeshError:
                status = None
        if status and status.get("pid") != child.pid:
            status = None  # another supervisor's socket: ours must say it is already running
        if status:
            for pod in status.get("pods", []):
                key = f"{pod['namespace']}/{pod['name']}"
                if pod.get("ready") and key not in seen:
                    seen.add(key)
                    on_pod(pod)
            if status.get("phase") == "running":
                return
        if time.monotonic() > deadline:
            raise MeshError(f"the mesh did not become ready in {timeout:.0f}s; see {log_path}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def stop(state: StateDir, timeout: float = 30.0) -> tuple[bool, int, str]:
    """Stop the supervisor of `state` and every process it started: (was it running, how
    many leftover processes of a killed supervisor were stopped, a note for the user)."""
    from istiolab.local.health import process_state

    pid = state.running_pid()
    if pid is not None:
        try:
            if process_state(pid) in ("T", "t"):
                raise MeshError("stopped")
            ControlClient(state.socket, timeout=5).post("/shutdown")
        except MeshError:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)  # a stopped (Ctrl-Z) supervisor handles it now
        deadline = time.monotonic() + timeout
        delay = 0.01
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    leftovers, note = kill_leftovers(state)
    state.clear_runtime(owner=pid)
    return pid is not None, len(leftovers), note or ""
