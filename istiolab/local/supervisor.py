"""One supervisor owns every process of a local mesh, by PID.

It starts processes (each in its own session, so a Ctrl-C reaches only the supervisor, which
then tears down in order), waits on their readiness probes with backoff, restarts a process
that dies on its own (with growing backoff), records every PID in the state directory so
`istiolab down` can finish the job even if the supervisor itself was killed, and stops
processes with SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from istiolab.errors import ConfigError, MeshError
from istiolab.local.state import StateDir, pid_alive, pid_matches, write_json

Probe = Callable[[], bool]


@dataclass
class ProcessSpec:
    """How to run one process: its unique name, command, environment, log and probe."""

    name: str
    argv: list[str]
    log: Path
    env: Mapping[str, str] | None = None  # full environment (None: inherit)
    probe: Probe | None = None  # True once the process is ready
    ready_line: str | None = None  # ...or: a line that is this word (+ " details") in its log
    restart: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)  # free-form (pod, role)


@dataclass
class Managed:
    spec: ProcessSpec
    popen: subprocess.Popen
    started: float
    log_offset: int
    restarts: int = 0
    last_exit: int | None = None
    stopping: bool = False
    next_restart: float = 0.0
    ready_seen: bool = False  # its ready line was in its log

    @property
    def pid(self) -> int:
        return self.popen.pid


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    fail: Callable[[], str | None] | None = None,
) -> None:
    """Poll `check` with exponential backoff (5 ms .. 200 ms) until true or `timeout`.

    `fail` may return a reason to give up early (e.g. the process exited).
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if check():
            return
        if fail is not None:
            reason = fail()
            if reason:
                raise MeshError(f"{what}: {reason}")
        if time.monotonic() >= deadline:
            raise MeshError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.6, 0.2)


def tail(path: Path, lines: int = 8, offset: int = 0) -> str:
    """The last `lines` lines of `path` written after byte `offset`, joined by " | "."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


class Supervisor:
    """Starts, watches, restarts and stops child processes; thread-safe."""

    def __init__(
        self,
        processes_file: Path | None = None,
        on_event: Callable[[str, Managed], None] | None = None,
        poll_interval: float = 0.05,
        mark: Mapping[str, str] | None = None,
    ) -> None:
        """`mark`: variables added to every child's environment (the mesh marks its
        processes with its state directory, so they are found without processes.json)."""
        self._mark = dict(mark or {})
        self._procs: dict[str, Managed] = {}
        self._lock = threading.RLock()
        self._processes_file = processes_file
        self._on_event = on_event
        self._poll = poll_interval
        self._closed = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._monitor.start()

    # public API
    def start(self, spec: ProcessSpec) -> Managed:
        with self._lock:
            if spec.name in self._procs:
                raise MeshError(f"process {spec.name} is already running")
            managed = self._spawn(spec)
            self._procs[spec.name] = managed
            self._record()
        return managed

    def get(self, name: str) -> Managed | None:
        with self._lock:
            return self._procs.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._procs)

    def processes(self) -> list[Managed]:
        with self._lock:
            return list(self._procs.values())

    def is_ready(self, name: str) -> bool:
        m = self.get(name)
        if m is None or m.popen.poll() is not None:
            return False
        if m.spec.probe is not None:
            return m.spec.probe()
        if m.spec.ready_line is not None:
            return self._log_has_line(m)
        return True

    def wait_ready(self, names: Iterable[str], timeout: float = 30.0) -> None:
        """Wait until every named process is ready; a process that exits fails fast."""
        for name in names:
            m = self.get(name)
            if m is None:
                raise MeshError(f"process {name} is not managed")

            def failed(name: str = name) -> str | None:
                cur = self.get(name)
                if cur is None:
                    return "it was stopped"
                code = cur.popen.poll()
                if code is not None and cur.restarts >= 2:
                    return f"it exited with code {code}; log {cur.spec.log}: {tail(cur.spec.log)}"
                return None

            wait_until(lambda n=name: self.is_ready(n), timeout, f"{name}", failed)

    def stop(self, names: Iterable[str], grace: float = 5.0) -> None:
        """SIGTERM the named processes (and their process groups), wait, then SIGKILL."""
        with self._lock:
            victims = [self._procs[n] for n in names if n in self._procs]
            for m in victims:
                m.stopping = True
        for m in victims:
            _signal(m, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for m in victims:
            try:
                m.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(m, signal.SIGKILL)
                m.popen.wait()
            _signal(m, signal.SIGKILL, group_only=True)  # stray grandchildren
        with self._lock:
            for m in victims:
                if self._procs.get(m.spec.name) is m:
                    del self._procs[m.spec.name]
            self._record()

    def stop_all(self, grace: float = 5.0) -> None:
        self.stop(self.names(), grace)

    def close(self, grace: float = 5.0) -> None:
        self._closed.set()
        self.stop_all(grace)
        self._monitor.join(timeout=2)

    # internals
    def _spawn(self, spec: ProcessSpec) -> Managed:
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log, "ab") as log:
            offset = log.tell()
            try:
                popen = subprocess.Popen(
                    spec.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**(os.environ if spec.env is None else spec.env), **self._mark},
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise MeshError(f"cannot start {spec.name} ({spec.argv[0]}): {exc}") from exc
        return Managed(spec=spec, popen=popen, started=time.monotonic(), log_offset=offset)

    def _log_has_line(self, m: Managed) -> bool:
        """The ready line was printed (remembered once seen: a rotated log loses it)."""
        if m.ready_seen:
            return True
        try:
            with open(m.spec.log, "rb") as f:
                f.seek(m.log_offset)
                data = f.read()
        except OSError:
            return False
        want = (m.spec.ready_line or "").encode()
        m.ready_seen = any(
            line.strip() == want or line.startswith(want + b" ") for line in data.splitlines()
        )
        return m.ready_seen

    def _record(self) -> None:
        if self._processes_file is None:
            return
        rows = [
            {"name": m.spec.name, "pid": m.pid, "exe": m.spec.argv[0], **dict(m.spec.labels)}
            for m in self._procs.values()
        ]
        with contextlib.suppress(OSError):
            write_json(self._processes_file, rows)

    def _watch(self) -> None:
        while not self._closed.wait(self._poll):
            with self._lock:
                items = list(self._procs.values())
            for m in items:
                if m.stopping:
                    continue
                code = m.popen.poll()
                if code is None:
                    continue
                now = time.monotonic()
                if m.last_exit is None or m.next_restart == 0.0:
                    m.last_exit = code
                    # backoff: 0.1 s, doubling to 5 s; reset after 30 s of good running
                    if now - m.started > 30:
                        m.restarts = 0
                    m.next_restart = now + min(5.0, 0.1 * 2 ** min(m.restarts, 6))
                    self._emit("exited", m)
                if not m.spec.restart:
                    with self._lock:
                        if self._procs.get(m.spec.name) is m:
                            del self._procs[m.spec.name]
                            self._record()
                    continue
                if now < m.next_restart:
                    continue
                with self._lock:
                    if m.stopping or self._procs.get(m.spec.name) is not m:
                        continue
                    try:
                        fresh = self._spawn(m.spec)
                    except MeshError:
                        m.next_restart = now + 5.0
                        continue
                    fresh.restarts = m.restarts + 1
                    fresh.last_exit = code
                    self._procs[m.spec.name] = fresh
                    self._record()
                self._emit("restarted", fresh)

    def _emit(self, event: str, m: Managed) -> None:
        if self._on_event is not None:
            with contextlib.suppress(Exception):
                self._on_event(event, m)


def _signal(m: Managed, sig: int, group_only: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(m.pid, sig)  # start_new_session: pgid == pid
    if not group_only and m.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            m.popen.send_signal(sig)


def kill_leftovers(state: StateDir, grace: float = 5.0) -> tuple[list[int], str]:
    """Stop every process an earlier supervisor of `state` started: those processes.json
    lists and those whose environment names the directory (found even when the file is
    garbled or lost). Returns their pids and a note when processes.json was unreadable."""
    note = ""
    try:
        rows = state.read_processes()
    except ConfigError as exc:
        rows, note = [], str(exc)
    recorded = [r for r in rows if pid_matches(int(r["pid"]), Path(r.get("exe", "")).name or "?")]
    found = {int(r["pid"]): r for r in recorded}
    for r in state.mesh_processes():
        found.setdefault(int(r["pid"]), r)
    return kill_recorded(list(found.values()), grace, checked=True), note


def kill_recorded(rows: list[dict], grace: float = 5.0, checked: bool = False) -> list[int]:
    """Stop leftover processes listed in processes.json (pid reuse guarded by exe name,
    unless the caller `checked` them already)."""
    alive = [
        r
        for r in rows
        if (pid_alive(int(r["pid"])) if checked else False)
        or pid_matches(int(r["pid"]), Path(r.get("exe", "")).name or "?")
    ]
    for r in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(r["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + grace
    pending = [int(r["pid"]) for r in alive]
    delay = 0.01
    while pending and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
        pending = [p for p in pending if _alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return [int(r["pid"]) for r in alive]


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return pid_alive(pid)
