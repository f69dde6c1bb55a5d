"""What each console page shows, as JSON-able data, from the layers below: the backend
(pods, proxies, objects), the lab engine, the telemetry (graph, traces) and the load-run
results. No HTML here; :mod:`istiolab.console.app` renders it."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from istiolab.backends import Backend

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
                "ready": f"{sum(1 for _ in p.containers) if p.ready else 0}/{len(p.containers)}",
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

    def findings(self) -> list[str]:
        from istiolab.local.translate.analysis import findings as analyze

        objects: list[dict] = []
        b = self.backend
        for kind in (*CONFIG_KINDS, "Namespace", "Service", "Deployment"):
            objects += b.get(kind, None, None)
        from istiolab.local.registry import build_registry

        return [str(f) for f in analyze(objects, build_registry(objects))]


def fingerprint(data: Any) -> str:
    """A short digest of `data` (the event streams push only when it changes)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
