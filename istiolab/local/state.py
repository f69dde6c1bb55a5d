"""The state directory of one local mesh: settings, pid file, control socket, logs.

Layout (everything a mesh instance writes lives here)::

    settings.json      MeshSettings (octet, gateway host and ports), persisted on first `up`
    supervisor.pid     pid of the running supervisor (absent or stale when it is not running)
    supervisor.lock    flock()ed by the one supervisor for its whole life (holds its pid too,
                       so `down` finds a supervisor whose pid file was lost)
    control.sock       the supervisor's control API (HTTP/JSON over a Unix socket)
    processes.json     every process the supervisor started: pid, name, command (for `down`)
    allocations.json   <namespace>/<pod name> -> pod IP index (stable across restarts)
    injections.json    <namespace>/<pod name> -> sidecar injected when the pod was created
    replacements.json  replica slot -> how often its pod was deleted (and replaced)
    kubeconfig         the Kubernetes API's kubeconfig (context istiolab; 0600)
    kubeapi/           its serving certificate, key and bearer token (0600)
    hosts.json         what kube DNS + kube-proxy answer (``<fqdn>:<port>`` -> pod ip:ports),
                       replaced atomically on every change; pods without a sidecar read it
                       (``ISTIOLAB_HOSTS_FILE``) again whenever it changed
    store/             the config store (owned by istiolab.local.store)
    logs/              supervisor.log, <pod>.log (app), <pod>.envoy.log (sidecar)
    proxies/           Envoy bootstrap files
    xds.sock, a/, s/   owner-only Unix sockets: xDS, Envoy admin, apps behind sidecars
                       (see ``MeshSettings.socket_dir``; in a private directory under the
                       temp dir instead when the state directory's path is too long for
                       a socket address)

Only its owner can read or drive a mesh: the directory is 0700, every file 0600.

Resolution: ``--state-dir``, else ``$ISTIOLAB_STATE_DIR``, else ``./.istiolab``.
Settings: explicit options win, then ``ISTIOLAB_OCTET``, ``ISTIOLAB_GATEWAY_HOST``,
``ISTIOLAB_GATEWAY_PORT``, ``ISTIOLAB_GATEWAY_HTTPS_PORT``, ``ISTIOLAB_PRIVILEGED_PORTS``
(true/false/auto: may pods bind ports below 1024; auto lets `up` find out), then the persisted
file, then defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from istiolab.errors import ConfigError, MeshError
from istiolab.local.model import MeshSettings

T = TypeVar("T")
ENV_STATE_DIR = "ISTIOLAB_STATE_DIR"
ENV_MESH = "ISTIOLAB_MESH"  # in every process a supervisor starts: its state directory
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes with its NUL
SOCKET_NAME_MAX = len("/s/127.255.255.255-65535.sock")
SETTINGS_ENV = {
    "octet": "ISTIOLAB_OCTET",
    "gateway_host": "ISTIOLAB_GATEWAY_HOST",
    "gateway_http_port": "ISTIOLAB_GATEWAY_PORT",
    "gateway_https_port": "ISTIOLAB_GATEWAY_HTTPS_PORT",
    "privileged_ports": "ISTIOLAB_PRIVILEGED_PORTS",
}
SETTINGS_OPTION = {
    "octet": "--octet",
    "gateway_host": "--gateway-host",
    "gateway_http_port": "--gateway-port",
    "gateway_https_port": "--gateway-https-port",
}
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def resolve_state_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """``--state-dir``, else ``$ISTIOLAB_STATE_DIR``, else ``./.istiolab`` (absolute)."""
    raw = option or os.environ.get(ENV_STATE_DIR) or ".istiolab"
    return Path(raw).expanduser().resolve()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def process_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def pid_matches(pid: int, needle: str) -> bool:
    """True if `pid` is alive and its command line mentions `needle` (guards pid reuse)."""
    return pid_alive(pid) and any(needle in arg for arg in process_cmdline(pid))


class StateDir:
    """Paths and small files of one mesh instance's state directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # paths
    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def lock_file(self) -> Path:
        return self.root / "supervisor.lock"

    @property
    def processes_file(self) -> Path:
        return self.root / "processes.json"

    @property
    def allocations_file(self) -> Path:
        return self.root / "allocations.json"

    @property
    def injections_file(self) -> Path:
        return self.root / "injections.json"

    @property
    def replacements_file(self) -> Path:
        return self.root / "replacements.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kubeapi(self) -> Path:
        return self.root / "kubeapi"

    @property
    def hosts_file(self) -> Path:
        return self.root / "hosts.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def proxies(self) -> Path:
        return self.root / "proxies"

    @property
    def socket_dir(self) -> Path:
        """Where the owner-only Unix sockets live: the state directory itself, or, when its
        path is too long for a socket address, a private directory under the temp dir."""
        if len(str(self.root)) + SOCKET_NAME_MAX <= SOCKET_PATH_MAX:
            return self.root
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"istiolab-{os.getuid()}" / digest

    @property
    def xds_socket(self) -> Path:
        return self.socket_dir / "xds.sock"

    def create(self) -> None:
        """The directory tree, owner-only: 0700 directories, 0600 files (also tightens
        what an older version left readable)."""
        for d in (self.root, self.logs, self.proxies):
            private_dir(d)
        sockets = self.socket_dir
        if sockets != self.root:
            private_dir(sockets.parent)
        for d in (sockets, sockets / "a", sockets / "s"):
            private_dir(d)
        for d in (self.root, self.logs, self.proxies, self.root / "store"):
            with contextlib.suppress(OSError):
                for entry in os.scandir(d):
                    if entry.is_file(follow_symlinks=False):
                        mode = entry.stat(follow_symlinks=False).st_mode
                        if mode & 0o077:
                            os.chmod(entry.path, 0o600)

    # settings
    def load_settings(self, **overrides: Any) -> MeshSettings:
        """Persisted settings, overridden by env vars, overridden by non-None `overrides`."""
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}  # setting -> "file", "env" or "option"
        if self.settings_file.exists():
            try:
                values.update(json.loads(self.settings_file.read_text()))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.settings_file}: unreadable settings ({exc})") from exc
            origin.update(dict.fromkeys(values, "file"))
        fields = {f.name: f.type for f in dataclasses.fields(MeshSettings)}
        for name, env in SETTINGS_ENV.items():
            if os.environ.get(env):
                values[name] = os.environ[env]
                origin[name] = "env"
        for k, v in overrides.items():
            if v is not None:
                values[k] = v
                origin[k] = "option"
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"{self.settings_file}: unknown setting(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(fields)}"
            )
        ranges = {
            "octet": (1, 254),
            "gateway_http_port": (1, 65535),
            "gateway_https_port": (1, 65535),
        }
        for name, (low, high) in ranges.items():
            if name not in values:
                continue
            where = self._where(name, values[name], origin[name])
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{where}: not an integer (allowed: {low}..{high}; {self._names(name)})"
                ) from None
            if not low <= values[name] <= high:
                raise ConfigError(f"{where}: must be within {low}..{high} ({self._names(name)})")
        word = values.get("privileged_ports")
        if isinstance(word, str):
            if word.strip().lower() not in (*_BOOL_WORDS, "auto"):
                raise ConfigError(
                    f"privileged_ports={word!r} (ISTIOLAB_PRIVILEGED_PORTS) is not allowed; "
                    "use true, false or auto (decided at start: root or "
                    "net.ipv4.ip_unprivileged_port_start=0)"
                )
            values["privileged_ports"] = _BOOL_WORDS.get(word.strip().lower())
        if "gateway_host" in values:
            values["gateway_host"] = self._gateway_host(
                values["gateway_host"], origin["gateway_host"]
            )
        try:
            settings = MeshSettings(**values)
        except ValueError as exc:
            raise ConfigError(f"mesh settings: {exc}") from exc
        return settings

    def _where(self, name: str, value: Any, origin: str) -> str:
        """How the user gave a setting: ``--gateway-port 70000``, ``ISTIOLAB_...=...`` or
        the settings file's key."""
        if origin == "option" and name in SETTINGS_OPTION:
            return f"{SETTINGS_OPTION[name]} {value}"
        if origin == "env":
            return f"{SETTINGS_ENV[name]}={value}"
        return f"{self.settings_file}: {name}={value!r}"

    def _names(self, name: str) -> str:
        """Where a setting can be given: ``--gateway-port or ISTIOLAB_GATEWAY_PORT``."""
        return f"set with {SETTINGS_OPTION[name]} or {SETTINGS_ENV[name]}"

    def _gateway_host(self, value: Any, origin: str) -> str:
        """An IPv4 address, or ``localhost`` (as 127.0.0.1): Envoy listens on addresses."""
        text = str(value).strip()
        if text.lower() == "localhost":
            return "127.0.0.1"
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ConfigError(
                f"{self._where('gateway_host', value, origin)}: the gateway host must be an "
                "IPv4 address or localhost (e.g. 127.0.0.1; 0.0.0.0 for every interface); "
                f"{self._names('gateway_host')}"
            ) from None

    def save_settings(self, settings: MeshSettings) -> None:
        self.create()
        write_json(self.settings_file, dataclasses.asdict(settings))

    # supervisor liveness
    def running_pid(self) -> int | None:
        """The live supervisor's pid, or None: the pid file's, else the lock holder's (a
        supervisor whose pid file was lost); a stale pid file is removed."""
        try:
            pid: int | None = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and pid_matches(pid, "istiolab"):
            return pid
        holder = self.lock_holder()
        if pid is not None and holder is None:
            with contextlib.suppress(OSError):
                self.pid_file.unlink()
        return holder if holder is not None else self.supervisor_by_command()

    def supervisor_by_command(self) -> int | None:
        """A detached supervisor of this directory found by its command line
        (``istiolab up --serve --state-dir <root>``): the last resort when its pid file
        and lock file were both removed."""
        uid, root = os.getuid(), str(self.root)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
            except OSError:
                continue
            argv = process_cmdline(int(entry.name))
            if "--serve" in argv and "--state-dir" in argv:
                i = argv.index("--state-dir")
                if i + 1 < len(argv) and argv[i + 1] == root and pid_alive(int(entry.name)):
                    return int(entry.name)
        return None

    def acquire_lock(self) -> int:
        """Become this directory's one supervisor: an exclusive flock held (by the returned
        fd) until the process exits or :meth:`release_lock`. MeshError naming the holder
        when another supervisor has it."""
        self.create()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise MeshError(
                f"the local mesh in {self.root} is already running (supervisor pid "
                f"{holder or '?'}); `istiolab status` shows it, `istiolab down` stops it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def release_lock(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def lock_holder(self) -> int | None:
        """The pid of the supervisor holding the lock, or None when nobody holds it."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                return pid if pid is not None and pid_alive(pid) else None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def write_pid(self) -> None:
        self.create()
        write_json_text(self.pid_file, f"{os.getpid()}\n")

    def clear_runtime(self, owner: int | None = None) -> None:
        """Remove the pid file and control socket: the ones `owner` (a supervisor pid; this
        process by default) created, or any when no supervisor holds the lock."""
        owner = os.getpid() if owner is None else owner
        try:
            recorded: int | None = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            recorded = None
        holder = self.lock_holder()
        if holder is not None and holder != owner:
            return  # another live supervisor's files
        if recorded in (None, owner) or not pid_alive(recorded):
            for f in (self.pid_file, self.socket):
                with contextlib.suppress(OSError):
                    f.unlink()

    # processes
    def read_processes(self) -> list[dict]:
        """processes.json; ConfigError when it is garbled (then :func:`mesh_processes`
        still finds them)."""
        try:
            text = self.processes_file.read_text()
        except OSError:
            return []
        try:
            rows = json.loads(text)
            if not isinstance(rows, list) or not all(
                isinstance(r, dict) and isinstance(r.get("pid"), int) for r in rows
            ):
                raise ValueError("not a list of {name, pid, exe} objects")
        except ValueError as exc:
            raise ConfigError(
                f"{self.processes_file}: unreadable ({exc}); the processes it listed are "
                "found by their environment instead"
            ) from exc
        return rows

    def mesh_processes(self) -> list[dict]:
        """Every live process a supervisor of this directory started, found by the
        ``ISTIOLAB_MESH`` variable in its environment (processes of this user only)."""
        want = f"{ENV_MESH}={self.root}".encode()
        me, uid = os.getpid(), os.getuid()
        rows = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                env = Path(entry.path, "environ").read_bytes().split(b"\0")
                exe = os.readlink(Path(entry.path, "exe"))
            except OSError:
                continue
            if want in env:
                rows.append({"name": "?", "pid": int(entry.name), "exe": exe})
        return rows

    def read_allocations(self) -> dict[str, int]:
        return _read_mapping(self.allocations_file, int)

    def read_injections(self) -> dict[str, bool]:
        return _read_mapping(self.injections_file, bool)

    def read_replacements(self) -> dict[str, int]:
        return _read_mapping(self.replacements_file, int)


def _read_mapping(path: Path, convert: Callable[[Any], T]) -> dict[str, T]:
    """A JSON object file as ``{str: convert(value)}``; {} when missing or unreadable."""
    try:
        return {str(k): convert(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def private_dir(path: Path) -> None:
    """Create `path` (and parents) as a 0700 directory of this user; refuse one that
    another user owns, a symlink, or (tightened when it is ours) one others can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise MeshError(f"{path}: not a directory (a symlink?); remove it and try again")
    if info.st_uid != os.getuid():
        raise MeshError(
            f"{path}: owned by uid {info.st_uid}, not by you (uid {os.getuid()}); the local "
            "mesh keeps its state only in a directory of its own user"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None


def write_json_text(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so readers never see half a file; 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    write_json_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
