"""`istiolab get pods`: the running mesh's pods as kubectl shows them (pure functions over the
control API's `/status` pods)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.local.kubeapi.workloads import human_duration, pod_object

__all__ = ["human_duration", "pod_object", "pod_table"]


def _containers(pod: Mapping[str, Any]) -> list[str]:
    if pod.get("gateway"):
        return ["istio-proxy"]
    app = pod["labels"].get("app") or pod["deployment"]
    return [app, "istio-proxy"] if pod["sidecar"] else [app]


def _ready(pod: Mapping[str, Any]) -> tuple[int, int]:
    containers = pod.get("containers", len(_containers(pod)))
    return pod.get("ready_containers", containers if pod["ready"] else 0), containers


def pod_table(
    pods: Iterable[Mapping[str, Any]], *, wide: bool, all_namespaces: bool, now: float | None = None
) -> tuple[list[str], list[list[str]]]:
    """kubectl's columns: [NAMESPACE] NAME READY STATUS RESTARTS AGE [IP]."""
    now = time.time() if now is None else now
    headers = ["NAMESPACE"] if all_namespaces else []
    headers += ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP"] if wide else [])
    rows = []
    for p in pods:
        ready, containers = _ready(p)
        created = p.get("created")
        row = [p["namespace"]] if all_namespaces else []
        row += [
            p["name"],
            f"{ready}/{containers}",
            "Running" if p["ready"] else "NotReady",
            str(p["restarts"]),
            human_duration(now - created) if created else "<unknown>",
        ]
        rows.append(row + ([p["ip"]] if wide else []))
    return headers, rows
