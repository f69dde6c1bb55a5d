"""Load scenarios: ``loadtests/NAME.py``, plain Locust files that also declare their target,
load shape and expectations as module constants:

    TARGET = "http://httpbin:8000"          # Locust's --host, as the source pod sees it
    FROM = "fortio"                         # default --from (None: from this machine)
    USERS, SPAWN_RATE = 3, 3
    REQUESTS = 30                           # or DURATION = 30 (seconds)
    LOCKSTEP = True                         # users send in rounds (a certain breaker trip)
    STATS = r"outbound\\|8000\\|\\|httpbin"  # Envoy stats to read before/after (regex)
    EXPECT = '''
    share(503) between 0.2 and 0.8  (tolerance 99%, retries 3)
    '''

and one or more :class:`istiolab.load.user.MeshUser` subclasses with Locust tasks.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from istiolab.errors import ConfigError, NotFoundError
from istiolab.load.expect import Expectation, parse_all

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def search_path() -> list[Path]:
    return [Path.cwd() / "loadtests", PACKAGE_ROOT / "loadtests"]


def find(name: str) -> Path:
    """``circuit-breaker`` -> loadtests/circuit_breaker.py (or a path to a Locust file)."""
    as_path = Path(name)
    if as_path.suffix == ".py":
        if as_path.is_file():
            return as_path
        raise NotFoundError(f"no such scenario file: {name}")
    stem = name.replace("-", "_")
    for folder in search_path():
        candidate = folder / f"{stem}.py"
        if candidate.is_file():
            return candidate
    known = available()
    raise NotFoundError(
        f"no load scenario {name!r}; known: {', '.join(known) or 'none'} "
        "(or give the path of a Locust file)"
    )


def available() -> list[str]:
    names: set[str] = set()
    for folder in search_path():
        if folder.is_dir():
            names |= {p.stem.replace("_", "-") for p in folder.glob("[a-z]*.py")}
    return sorted(names)


@dataclass
class Scenario:
    name: str
    path: Path
    module: ModuleType
    user_classes: list[type]
    target: str
    source: str | None
    users: int
    spawn_rate: float
    requests: int | None
    duration: float | None
    lockstep: bool
    stats: str | None
    expectations: list[Expectation]
    doc: str

    def option(self, name: str, default: Any = None) -> Any:
        return getattr(self.module, name, default)


def _check(path: Path, field: str, value: Any, kind: type | tuple, allowed: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{path}: {field}={value!r} is not allowed: {allowed}")
    return value


def load(name: str) -> Scenario:
    """Import the scenario's Locust file (this imports Locust: gevent patches the process)."""
    path = find(name)
    from istiolab.load.user import MeshUser

    mod_name = "istiolab_loadtest_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # a scenario is user code: name it, no traceback
        raise ConfigError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    users = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, MeshUser)
        and not obj.__dict__.get("abstract", False)
        and obj.__module__ == mod_name
    ]
    if not users:
        raise ConfigError(
            f"{path}: no user class (write `class Client(MeshUser):` with a @task method)"
        )
    get = module.__dict__.get
    requests = _check(path, "REQUESTS", get("REQUESTS"), int, "a whole number of requests")
    duration = _check(path, "DURATION", get("DURATION"), (int, float), "seconds")
    if requests is None and duration is None:
        duration = 10.0
    stats = _check(path, "STATS", get("STATS"), str, "a regular expression of Envoy stats")
    if stats is not None:
        try:
            re.compile(stats)
        except re.error as exc:
            raise ConfigError(
                f"{path}: STATS={stats!r} is not a regular expression ({exc})"
            ) from None
    return Scenario(
        name=path.stem.replace("_", "-"),
        path=path,
        module=module,
        user_classes=users,
        target=_check(path, "TARGET", get("TARGET", ""), str, "a URL like http://httpbin:8000"),
        source=_check(path, "FROM", get("FROM"), str, "a workload name like fortio"),
        users=_check(path, "USERS", get("USERS", 1), int, "a whole number"),
        spawn_rate=float(
            _check(path, "SPAWN_RATE", get("SPAWN_RATE", 100), (int, float), "users per second")
        ),
        requests=requests,
        duration=float(duration) if duration is not None else None,
        lockstep=bool(get("LOCKSTEP", False)),
        stats=stats,
        expectations=parse_all(get("EXPECT", "") or "", f"{path} EXPECT"),
        doc=(module.__doc__ or "").strip(),
    )


def cluster_of(target: str, namespace: str = "default") -> str | None:
    """Istio's outbound cluster for a target URL (``http://httpbin:8000`` ->
    ``outbound|8000||httpbin.default.svc.cluster.local``); None for an IP or full address."""
    m = re.match(r"https?://([A-Za-z][\w-]*)(?:\.([\w-]+))?(?::(\d+))?", target)
    if not m or m.group(1) == "localhost":
        return None
    host, ns, port = m.group(1), m.group(2) or namespace, m.group(3) or "80"
    return f"outbound|{port}||{host}.{ns}.svc.cluster.local"


def stats_regex(scenario: Scenario, target: str, namespace: str = "default") -> str | None:
    """The Envoy stats a run reads: the scenario's STATS, else every stat of the target's
    outbound cluster."""
    if scenario.stats is not None:
        return scenario.stats
    cluster = cluster_of(target, namespace)
    return "^" + re.escape(f"cluster.{cluster}.") if cluster else None
