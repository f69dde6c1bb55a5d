"""The lab format: ``labs/<NN>-<slug>/lab.yaml`` and the files it names, loaded and
validated with errors that name the file and the field (see labs/README.md).

Pure: reads files, builds plain data (the objects to apply are dicts, validated with the
project's one schema validation), never touches a mesh.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from istiolab.errors import ConfigError, NotFoundError
from istiolab.labs.checks import Check, Problems, parse_check
from istiolab.manifests.io import read_documents
from istiolab.names import SAMPLES

LAB_FILE = "lab.yaml"
LABS_DIR_ENV = "ISTIOLAB_LABS_DIR"
_FOLDER = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)$")
# samples (istiolab.manifests builders) plus Bookinfo's gateway and its DestinationRules
KNOWN_SAMPLES = (*SAMPLES, "bookinfo-gateway", "destination-rules")
_TOP = {
    "title": (str, True),
    "goal": (str, True),
    "minutes": (int, True),
    "source": (str, True),
    "requires": (list, False),
    "environment": (dict, False),
    "start": (list, False),
    "cleanup": (dict, False),
    "tasks": (list, True),
}
_TASK = ("title", "instructions", "checks", "hints", "solution")


@dataclass(frozen=True)
class Solution:
    apply: tuple[str, ...] = ()  # files (relative to the lab folder) to apply
    delete: tuple[tuple[str, str, str], ...] = ()  # (kind, name, namespace)
    restart: tuple[str, ...] = ()  # namespaces whose Deployments are restarted (rollout)
    commands: tuple[str, ...] = ()  # what the learner would type (shown by `lab solve`)


@dataclass(frozen=True)
class Task:
    number: int  # 1-based
    title: str
    instructions: str  # Markdown
    checks: tuple[Check, ...]
    hints: tuple[str, ...]
    solution: Solution


@dataclass(frozen=True)
class Environment:
    samples: tuple[str, ...] = ()  # SAMPLE[.NS]: bookinfo, httpbin.foo, sleep.legacy
    namespaces: Mapping[str, bool] = field(default_factory=dict)  # name -> sidecar injection


@dataclass(frozen=True)
class Cleanup:
    kinds: tuple[str, ...] = ()  # every object of these kinds in `namespaces` is removed
    namespaces: tuple[str, ...] = ("default",)


@dataclass(frozen=True)
class Lab:
    name: str  # the folder name, NN-slug
    path: Path
    title: str
    goal: str
    minutes: int
    source: str
    requires: tuple[str, ...]
    environment: Environment
    start: tuple[str, ...]  # files applied by `lab start`
    cleanup: Cleanup
    tasks: tuple[Task, ...]

    @property
    def number(self) -> int:
        return int(self.name[:2])

    def task(self, number: int) -> Task:
        if not 1 <= number <= len(self.tasks):
            raise NotFoundError(
                f"lab {self.name} has tasks 1..{len(self.tasks)}; there is no task {number}"
            )
        return self.tasks[number - 1]

    def objects(self, files: Sequence[str]) -> list[dict]:
        """The objects in these lab files, as applying them in order leaves them: an object
        named again by a later file is that later version (``kubectl apply -f A -f B``)."""
        out: dict[tuple[str, str, str], dict] = {}
        for rel in files:
            docs, findings = read_documents(self.path / rel)
            if findings:
                raise ConfigError(str(findings[0]))
            for _, _, doc in docs:
                md = doc.get("metadata") or {}
                key = (str(doc.get("kind")), str(md.get("namespace", "")), str(md.get("name")))
                out[key] = doc
        return list(out.values())

    def start_objects(self) -> list[dict]:
        return self.objects(self.start)

    def solution_objects(self, upto: int | None = None) -> list[dict]:
        tasks = self.tasks if upto is None else self.tasks[:upto]
        return [o for t in tasks for o in self.objects(t.solution.apply)]


# ------------------------------------------------------------------ the library


def labs_root(explicit: str | os.PathLike | None = None) -> Path:
    """Where the lab folders are: `explicit`, else $ISTIOLAB_LABS_DIR, else the labs shipped
    with the package (``istiolab/labs/library``, the repository's ``labs/`` folder)."""
    if explicit:
        root = Path(explicit)
    elif os.environ.get(LABS_DIR_ENV):
        root = Path(os.environ[LABS_DIR_ENV])
    else:
        root = Path(__file__).resolve().parent / "library"
    if not root.is_dir():
        raise ConfigError(
            f"lab folder {root} does not exist; set {LABS_DIR_ENV} or --labs-dir to a "
            "folder of NN-slug lab folders"
        )
    return root


def lab_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if _FOLDER.match(p.name) and p.is_dir())


def find_lab(root: Path, name: str) -> Lab:
    """A lab by folder name, number (``3``, ``03``) or slug (``request-routing``)."""
    names = lab_names(root)
    hits = [n for n in names if name in (n, n[3:]) or (name.isdigit() and int(name) == int(n[:2]))]
    if len(hits) != 1:
        raise NotFoundError(f"no lab {name!r}; the labs are: {', '.join(names) or 'none'}")
    return load_lab(root / hits[0])


def load_library(root: Path) -> list[Lab]:
    return [load_lab(root / n) for n in lab_names(root)]


@cache
def _load_cached(path: Path, mtime: float) -> Lab:
    return _load(path)


def load_lab(path: Path) -> Lab:
    """Load and check one lab folder; ConfigError naming the file and field on any mistake."""
    lab_file = path / LAB_FILE
    if not lab_file.is_file():
        raise ConfigError(f"{path}: no {LAB_FILE} in this lab folder")
    return _load_cached(path.resolve(), lab_file.stat().st_mtime)


def _load(path: Path) -> Lab:
    lab_file = path / LAB_FILE
    if not _FOLDER.match(path.name):
        raise ConfigError(f"{path}: a lab folder is named NN-slug (e.g. 02-request-routing)")
    try:
        raw = yaml.safe_load(lab_file.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{lab_file}: not valid YAML: {exc}") from None
    problems = Problems(str(lab_file))
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{lab_file}: a lab is a mapping with {', '.join(_TOP)}")
    for key, value in raw.items():
        if key not in _TOP:
            problems.add(key, f"unknown field; allowed: {', '.join(_TOP)}")
        elif not isinstance(value, _TOP[key][0]) or isinstance(value, bool):
            problems.add(key, f"{value!r} has the wrong type ({_TOP[key][0].__name__} expected)")
    for key, (_, required) in _TOP.items():
        if required and key not in raw:
            problems.add(key, "required")
    problems.raise_if_any()
    env = _environment(raw.get("environment") or {}, problems)
    start = _files(path, raw.get("start") or [], "start", problems)
    cleanup = _cleanup(raw.get("cleanup") or {}, problems)
    tasks = [_task(path, i, t, problems) for i, t in enumerate(raw["tasks"], 1)]
    if not tasks:
        problems.add("tasks", "a lab has at least one task")
    ids = [c.id for t in tasks if t for c in t.checks]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.add("tasks", f"check id {dup!r} is used twice; ids are unique in a lab")
    problems.raise_if_any()
    return Lab(
        name=path.name,
        path=path,
        title=raw["title"].strip(),
        goal=raw["goal"].strip(),
        minutes=raw["minutes"],
        source=raw["source"].strip(),
        requires=tuple(str(r) for r in raw.get("requires") or ()),
        environment=env,
        start=start,
        cleanup=cleanup,
        tasks=tuple(t for t in tasks if t),
    )


def _environment(raw: Mapping, problems: Problems) -> Environment:
    for key in raw:
        if key not in ("samples", "namespaces"):
            problems.add(f"environment.{key}", "unknown field; allowed: samples, namespaces")
    samples = raw.get("samples") or []
    for i, s in enumerate(samples):
        if not isinstance(s, str) or s.partition(".")[0] not in KNOWN_SAMPLES:
            problems.add(
                f"environment.samples[{i}]",
                f"{s!r}: SAMPLE[.NAMESPACE], SAMPLE one of {', '.join(KNOWN_SAMPLES)}",
            )
    namespaces = raw.get("namespaces") or {}
    for ns, mode in namespaces.items() if isinstance(namespaces, Mapping) else ():
        if mode not in ("injected", "plain"):
            problems.add(f"environment.namespaces.{ns}", f"{mode!r}: one of injected, plain")
    return Environment(
        samples=tuple(str(s) for s in samples),
        namespaces={str(k): v == "injected" for k, v in dict(namespaces).items()},
    )


def _cleanup(raw: Mapping, problems: Problems) -> Cleanup:
    for key in raw:
        if key not in ("kinds", "namespaces"):
            problems.add(f"cleanup.{key}", "unknown field; allowed: kinds, namespaces")
    return Cleanup(
        kinds=tuple(raw.get("kinds") or ()),
        namespaces=tuple(raw.get("namespaces") or ("default",)),
    )


def _files(lab: Path, files: Any, where: str, problems: Problems) -> tuple[str, ...]:
    out: list[str] = []
    for i, rel in enumerate(files if isinstance(files, list) else [files]):
        if not isinstance(rel, str) or not (lab / rel).is_file():
            problems.add(f"{where}[{i}]", f"{rel!r}: no such file in {lab.name}/")
        elif lab.resolve().parent not in (lab / rel).resolve().parents:
            # a lab may reuse another lab's files (../02-request-routing/solution/x.yaml)
            problems.add(f"{where}[{i}]", f"{rel!r} is outside the lab library")
        else:
            out.append(rel)
    return tuple(out)


def _task(lab: Path, number: int, raw: Any, problems: Problems) -> Task | None:
    where = f"tasks[{number - 1}]"
    if not isinstance(raw, Mapping):
        problems.add(where, "a task is a mapping with " + ", ".join(_TASK))
        return None
    for key in raw:
        if key not in _TASK:
            problems.add(f"{where}.{key}", f"unknown field; allowed: {', '.join(_TASK)}")
    if not isinstance(raw.get("title"), str):
        problems.add(f"{where}.title", "required: a string")
    text = raw.get("instructions", "")
    if isinstance(text, str) and text.endswith(".md") and "\n" not in text:
        if (lab / text).is_file():
            text = (lab / text).read_text()
        else:
            problems.add(f"{where}.instructions", f"{text!r}: no such file in {lab.name}/")
    elif not isinstance(text, str) or not text.strip():
        problems.add(f"{where}.instructions", "required: Markdown text or a .md file")
    checks_raw = raw.get("checks")
    if not isinstance(checks_raw, list) or not checks_raw:
        problems.add(f"{where}.checks", "required: a list of at least one check")
        checks_raw = []
    checks = [parse_check(c, f"{where}.checks[{j}]", problems) for j, c in enumerate(checks_raw)]
    for j, check in enumerate(checks):
        ca = (check.params.get("tls") or {}).get("ca") if check else None
        if ca is not None and not (lab / str(ca)).is_file():
            problems.add(f"{where}.checks[{j}].tls.ca", f"{ca!r}: no such file in {lab.name}/")
    hints = raw.get("hints") or []
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        problems.add(f"{where}.hints", "a list of texts, from a nudge to the answer")
        hints = []
    sol = raw.get("solution") or {}
    if not isinstance(sol, Mapping):
        problems.add(f"{where}.solution", "a mapping with apply, delete, commands")
        sol = {}
    for key in sol:
        if key not in ("apply", "delete", "restart", "commands"):
            allowed = "apply, delete, restart, commands"
            problems.add(f"{where}.solution.{key}", f"unknown; allowed: {allowed}")
    deletes: list[tuple[str, str, str]] = []
    for j, ref in enumerate(sol.get("delete") or []):
        if not isinstance(ref, Mapping) or not {"kind", "name"} <= set(ref):
            problems.add(f"{where}.solution.delete[{j}]", "a mapping with kind, name, namespace")
            continue
        deletes.append((str(ref["kind"]), str(ref["name"]), str(ref.get("namespace", "default"))))
    restart = sol.get("restart") or []
    if not isinstance(restart, list) or not all(isinstance(n, str) for n in restart):
        problems.add(f"{where}.solution.restart", "a list of namespaces")
        restart = []
    # a task that only asks to look (its checks send their own traffic and pass from the
    # start) may have a solution of commands alone
    observing = bool(checks) and all(c is not None and c.initially == "pass" for c in checks)
    acts = sol.get("apply") or deletes or restart
    if not acts and not (observing and sol.get("commands")):
        problems.add(
            f"{where}.solution",
            "required: apply (files), delete or restart (commands alone only when every "
            "check is initially: pass)",
        )
    return Task(
        number=number,
        title=str(raw.get("title", "")),
        instructions=text if isinstance(text, str) else "",
        checks=tuple(c for c in checks if c),
        hints=tuple(hints),
        solution=Solution(
            apply=_files(lab, sol.get("apply") or [], f"{where}.solution.apply", problems),
            delete=tuple(deletes),
            restart=tuple(restart),
            commands=tuple(str(c) for c in sol.get("commands") or ()),
        ),
    )


def lab_dict(item: Lab) -> dict[str, Any]:
    """A lab as plain data (`lab show -o json`, the console)."""
    return {
        "name": item.name,
        "title": item.title,
        "goal": item.goal,
        "minutes": item.minutes,
        "source": item.source,
        "requires": list(item.requires),
        "environment": {
            "samples": list(item.environment.samples),
            "namespaces": dict(item.environment.namespaces),
        },
        "tasks": [
            {
                "number": t.number,
                "title": t.title,
                "instructions": t.instructions,
                "checks": [
                    {"id": c.id, "type": c.type, "description": c.description} for c in t.checks
                ],
                "hints": list(t.hints),
                "solution": {
                    "apply": list(t.solution.apply),
                    "commands": list(t.solution.commands),
                },
            }
            for t in item.tasks
        ],
    }
