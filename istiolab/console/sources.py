"""What each console page shows, as JSON-able data, from the layers below: the backend
(pods, proxies, objects), the lab engine, the telemetry (graph, traces) and the load-run
results. No HTML here; :mod:`istiolab.console.app` renders it."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from istiolab.backends import Backend
from istiolab.errors import NotFoundError

# kinds whose objects the Mesh page lists (status conditions and analyzer findings beside them)
CONFIG_KINDS = (
    "Gateway",
    "VirtualService",
    "DestinationRule",
    "ServiceEntry",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "RequestAuthentication",
)


GRAPH_WINDOW = 60.0  # seconds of traffic the graph shows (Kiali's default "last 1m")


class Sources:
    """One backend (opened lazily, reused: the console polls it) plus the state directory."""

    def __init__(
        self,
        open_backend: Callable[[], Backend],
        state_root: Path,
        labs_dir: str | None = None,
    ) -> None:
        self._open = open_backend
        self._backend: Backend | None = None
        self._lock = threading.Lock()
        self.state_root = state_root
        self.labs_dir = labs_dir

    @property
    def backend(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = self._open()
            return self._backend

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    # ------------------------------------------------------------------ mesh
    def mesh(self) -> dict[str, Any]:
        b = self.backend
        pods = [
            {
                "name": p.name,
                "namespace": p.namespace,
                "workload": p.workload,
                "ip": p.ip,
                "ready": f"{p.ready_containers}/{len(p.containers)}",
                "containers": list(p.containers),
                "sidecar": p.sidecar,
            }
            for p in b.pods(None)
        ]
        proxies = [
            {"name": s.name, "kind": s.kind, "synced": s.synced, "detail": dict(s.detail)}
            for s in b.proxy_status()
        ]
        objects = []
        for kind in CONFIG_KINDS:
            for obj in b.get(kind, None, None):
                md = obj.get("metadata") or {}
                conditions = (obj.get("status") or {}).get("conditions") or []
                objects.append(
                    {
                        "kind": kind,
                        "name": md.get("name"),
                        "namespace": md.get("namespace", "default"),
                        "conditions": [
                            {k: c.get(k) for k in ("type", "status", "reason", "message")}
                            for c in conditions
                        ],
                    }
                )
        return {"pods": pods, "proxies": proxies, "objects": objects, "findings": self.findings()}

    def findings(self) -> list[dict[str, Any]]:
        return list(self.backend.analyze(None))

    # ------------------------------------------------------------------ labs
    @property
    def backend_name(self) -> str:
        return self.backend.name

    def _progress(self):
        from istiolab.labs.progress import Progress

        return Progress.in_state_dir(self.state_root)

    def _root(self) -> Path:
        from istiolab.labs.format import labs_root

        return labs_root(self.labs_dir)

    def lab(self, name: str):
        from istiolab.labs.format import find_lab

        return find_lab(self._root(), name)

    def labs(self) -> list[dict[str, Any]]:
        from istiolab.labs.format import load_library

        return self._progress().rows(self.backend_name, load_library(self._root()))

    def lab_detail(self, name: str) -> dict[str, Any]:
        """The lab as `lab show -o json` gives it, with each task's instructions as HTML."""
        from markdown_it import MarkdownIt

        from istiolab.labs.format import lab_dict

        md = MarkdownIt("commonmark", {"html": False})
        detail = lab_dict(self.lab(name))
        for task in detail["tasks"]:
            task["html"] = md.render(task["instructions"])
        return detail

    def lab_fingerprint(self, name: str) -> str:
        from istiolab.labs.session import config_fingerprint

        return config_fingerprint(self.backend, self.lab(name))

    def lab_check(self, name: str) -> dict[str, Any]:
        """Every task's check results, recorded as progress like `lab check`."""
        from istiolab.labs.runner import Runner
        from istiolab.labs.session import summary

        item = self.lab(name)
        results = Runner(self.backend).run_lab(item)
        passed, _ = summary(results)
        self._progress().record(self.backend_name, item.name, passed, len(item.tasks))
        return {
            "lab": item.name,
            "tasks": {
                str(n): {"passed": n in passed, "checks": [r.to_dict() for r in rs]}
                for n, rs in results.items()
            },
        }

    def lab_hints(self, name: str, task: int) -> list[str]:
        return list(self.lab(name).task(task).hints)

    def lab_solve(self, name: str, task: int) -> None:
        """Instruqt's "skip": apply the solution up to `task`."""
        from istiolab.labs import session

        item = self.lab(name)
        for n in range(1, task + 1):
            session.solve(self.backend, item, n)

    def lab_reset(self, name: str) -> None:
        from istiolab.labs import session

        item = self.lab(name)
        session.start(self.backend, item)
        self._progress().start(self.backend_name, item.name)

    # ------------------------------------------------------------------ graph, traces
    def graph(self, namespace: str | None = None, window: float = GRAPH_WINDOW) -> dict[str, Any]:
        from istiolab.console.layout import place
        from istiolab.local.telemetry.graph import build_graph

        data = self.backend.telemetry_window(window)
        g = build_graph(data["now"], data["then"], data["seconds"], namespace or None)
        return place(g.to_dict())

    def _traces(self):
        from istiolab.local.telemetry.traces import build_traces

        return build_traces(self.backend.spans())

    def traces(
        self, service: str | None, min_ms: float, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        from istiolab.local.telemetry.traces import select

        out = []
        for t in select(self._traces(), service, min_ms or None, None):
            failed = any(span["error"] for span in _flatten(t.to_dict()["roots"]))
            if (status == "error" and not failed) or (status == "ok" and failed):
                continue
            root = t.roots[0]
            out.append(
                {
                    "trace_id": t.trace_id,
                    "root": f"{root.service}: {root.operation}",
                    "spans": t.spans,
                    "duration_ms": round(t.duration_us / 1000, 2),
                    "error": failed,
                    "started": time.strftime("%H:%M:%S", time.localtime(t.start_us / 1e6)),
                }
            )
            if len(out) >= limit:
                break
        return out

    def trace(self, trace_id: str) -> dict[str, Any]:
        for t in self._traces():
            if t.trace_id == trace_id:
                spans = _flatten(t.to_dict()["roots"])
                for span in spans:
                    span["start_ms"] = round((span.pop("start_us") - t.start_us) / 1000, 3)
                    span["name"] = span.pop("operation")
                return {"trace_id": trace_id, "spans": spans}
        raise NotFoundError(f"no trace {trace_id!r} (traces are kept for the newest spans)")

    # ------------------------------------------------------------------ load runs
    def _runs_root(self) -> Path:
        from istiolab.load.report import runs_dir

        return runs_dir(self.state_root)

    def _run_dir(self, run_id: str) -> Path:
        root = self._runs_root()
        path = (root / run_id).resolve()
        if path.parent != root.resolve() or not (path / "result.json").is_file():
            raise NotFoundError(f"no load run {run_id!r} (see `istiolab load` --report)")
        return path

    def _result(self, run_id: str):
        from istiolab.load.result import Result

        path = self._run_dir(run_id) / "result.json"
        return Result.from_dict(json.loads(path.read_text()), str(path))

    def runs(self) -> list[dict[str, Any]]:
        root = self._runs_root()
        if not root.is_dir():
            return []
        out = []
        for path in sorted(root.glob("*/result.json"), reverse=True):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            out.append(
                {
                    "id": path.parent.name,
                    "scenario": data.get("scenario", ""),
                    "started": data.get("started", ""),
                    "requests": data.get("requests", 0),
                    "rps": data.get("rps", 0),
                    "passed": bool(data.get("passed")),
                }
            )
        return out

    def run(self, run_id: str) -> dict[str, Any]:
        r = self._result(run_id)
        folder = self._run_dir(run_id)
        return {
            "id": run_id,
            "scenario": r.scenario,
            "requests": r.requests,
            "rps": round(r.rps, 1),
            "passed": bool(r.passed),
            "codes": {str(k): v for k, v in sorted(r.overall.codes.items())},
            "verdicts": [
                {
                    "expect": e["expectation"] + (f" [{e['scope']}]" if e.get("scope") else ""),
                    "measured": e.get("measured"),
                    "interval": e.get("interval") or "",
                    "passed": e.get("verdict") == "pass",
                }
                for e in r.expectations
            ],
            "plots": sorted(p.name for p in folder.glob("*.png")),
            "html": "report.html" if (folder / "report.html").is_file() else "",
        }

    def run_file(self, run_id: str, name: str) -> Path:
        folder = self._run_dir(run_id)
        path = (folder / name).resolve()
        allowed = (".png", ".html", ".json")
        if path.parent != folder or not path.is_file() or path.suffix not in allowed:
            raise NotFoundError(f"load run {run_id} has no file {name!r}")
        return path

    def compare(self, a: str, b: str) -> dict[str, Any]:
        from istiolab.load.report import compare_rows

        rows = compare_rows(self._result(a), self._result(b))
        return {"a": {"id": a}, "b": {"id": b}, "rows": rows}


def _flatten(nodes: list[dict], depth: int = 0) -> list[dict]:
    """Span trees as a list in start order, each span with its depth (children dropped)."""
    out = []
    for node in nodes:
        children = node.get("children") or []
        out.append({**{k: v for k, v in node.items() if k != "children"}, "depth": depth})
        out += _flatten(children, depth + 1)
    return out


def fingerprint(data: Any) -> str:
    """A short digest of `data` (the event streams push only when it changes)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
