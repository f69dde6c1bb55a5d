"""`istiolab get pods`: a mesh's pods as kubectl shows them (pure functions over the
backend's typed :class:`~istiolab.backends.Pod`)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from istiolab.backends import Pod
from istiolab.local.kubeapi.workloads import human_duration

__all__ = ["human_duration", "pod_table"]


def pod_table(
    pods: Iterable[Pod], *, wide: bool, all_namespaces: bool, now: float | None = None
) -> tuple[list[str], list[list[str]]]:
    """kubectl's columns: [NAMESPACE] NAME READY STATUS RESTARTS AGE [IP]."""
    now = time.time() if now is None else now
    headers = ["NAMESPACE"] if all_namespaces else []
    headers += ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP"] if wide else [])
    rows = []
    for p in pods:
        row = [p.namespace] if all_namespaces else []
        row += [
            p.name,
            f"{p.ready_containers}/{len(p.containers)}",
            "Running" if p.ready else "NotReady",
            str(p.restarts),
            human_duration(now - p.created) if p.created else "<unknown>",
        ]
        rows.append(row + ([p.ip] if wide else []))
    return headers, rows
