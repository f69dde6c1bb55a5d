"""The state directory of one local mesh: settings, pid file, control socket, logs.

Layout (everything a mesh instance writes lives here)::

    settings.json      MeshSettings (octet, gateway host and ports), persisted on first `up`
    supervisor.pid     pid of the running supervisor (absent or stale when it is not running)
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

Resolution: ``--state-dir``, else ``$ISTIOLAB_STATE_DIR``, else ``./.istiolab``.
Settings: explicit options win, then ``ISTIOLAB_OCTET``, ``ISTIOLAB_GATEWAY_HOST``,
``ISTIOLAB_GATEWAY_PORT``, ``ISTIOLAB_GATEWAY_HTTPS_PORT``, ``ISTIOLAB_PRIVILEGED_PORTS``
(true/false/auto: may pods bind ports below 1024; auto lets `up` find out), then the persisted
file, then defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from istiolab.errors import ConfigError
from istiolab.local.model import MeshSettings

T = TypeVar("T")
ENV_STATE_DIR = "ISTIOLAB_STATE_DIR"
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

    def create(self) -> None:
        for d in (self.root, self.logs, self.proxies):
            d.mkdir(parents=True, exist_ok=True)

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
        """The live supervisor's pid, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_matches(pid, "istiolab"):
            return pid
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        return None

    def write_pid(self) -> None:
        self.create()
        write_json_text(self.pid_file, f"{os.getpid()}\n")

    def clear_runtime(self) -> None:
        for f in (self.pid_file, self.socket):
            with contextlib.suppress(OSError):
                f.unlink()

    # processes
    def read_processes(self) -> list[dict]:
        try:
            return list(json.loads(self.processes_file.read_text()))
        except (OSError, ValueError):
            return []

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


def write_json_text(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    write_json_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
