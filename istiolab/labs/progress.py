"""Lab progress: which lab is active, when it started, which tasks passed and when.

Kept in ``<state dir>/labs/progress.json`` (directory 0700, file 0600, written atomically), per
backend (``local`` or the kubeconfig context), so it survives ``down``/``up`` and a learner
can work on the local mesh and on a cluster side by side.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from istiolab.errors import ConfigError

if TYPE_CHECKING:
    from istiolab.labs.format import Lab


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Progress:
    """The progress file of one state directory."""

    path: Path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Progress:
        return cls(Path(state_dir) / "labs" / "progress.json")

    # ---------------------------------------------------------------- file
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{self.path}: unreadable lab progress ({exc}); delete the file to start over"
            ) from None
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, self.path)

    def _backend(self, data: dict[str, Any], backend: str) -> dict[str, Any]:
        return data.setdefault(backend, {"active": None, "labs": {}})

    # ---------------------------------------------------------------- queries
    def active(self, backend: str) -> str | None:
        return self._read().get(backend, {}).get("active")

    def lab(self, backend: str, lab: str) -> dict[str, Any]:
        """``{"started": ts, "tasks": {"1": ts, ...}, "completed": ts|None}`` or {}."""
        return self._read().get(backend, {}).get("labs", {}).get(lab, {})

    def all(self, backend: str) -> dict[str, dict[str, Any]]:
        return self._read().get(backend, {}).get("labs", {})

    def rows(self, backend: str, labs: Iterable[Lab]) -> list[dict[str, Any]]:
        """One row per lab of the library: tasks passed, completed (when), active."""
        data = self._read().get(backend, {})
        done, active = data.get("labs", {}), data.get("active")
        rows = []
        for item in labs:
            entry = done.get(item.name, {})
            rows.append(
                {
                    "name": item.name,
                    "title": item.title,
                    "minutes": item.minutes,
                    "tasks": len(item.tasks),
                    "passed": len(entry.get("tasks") or {}),
                    "completed": entry.get("completed"),
                    "active": item.name == active,
                }
            )
        return rows

    # ---------------------------------------------------------------- updates
    def start(self, backend: str, lab: str) -> None:
        data = self._read()
        entry = self._backend(data, backend)
        entry["active"] = lab
        entry["labs"][lab] = {"started": now(), "tasks": {}, "completed": None}
        self._write(data)

    def record(self, backend: str, lab: str, passed: list[int], total: int) -> list[int]:
        """Mark `passed` tasks (first time only); returns the tasks newly passed."""
        data = self._read()
        entry = self._backend(data, backend)
        lab_entry = entry["labs"].setdefault(lab, {"started": now(), "tasks": {}})
        tasks = lab_entry.setdefault("tasks", {})
        new = [n for n in passed if str(n) not in tasks]
        if not new and (lab_entry.get("completed") or len(tasks) < total):
            return []
        for n in new:
            tasks[str(n)] = now()
        if len(tasks) >= total and not lab_entry.get("completed"):
            lab_entry["completed"] = now()
        self._write(data)
        return new

    def stop(self, backend: str, lab: str) -> None:
        data = self._read()
        entry = self._backend(data, backend)
        if entry.get("active") == lab:
            entry["active"] = None
            self._write(data)
