"""`istiolab get pods`: a mesh's pods as kubectl shows them (pure functions over the
backend's typed :class:`~istiolab.backends.Pod`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from istiolab.backends import Pod


def human_duration(seconds: float) -> str:
    """kubectl's AGE: ``45s``, ``3m12s``, ``25m``, ``5h3m``, ``30h``, ``3d4h``, ``90d``,
    ``2y5d``."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    y = d // 365
    if d < 365 * 8:
        return f"{y}y{d % 365}d" if d % 365 else f"{y}y"
    return f"{y}y"


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


def pod_object(pod: Pod) -> dict:
    """A Pod object (kubectl get pod -o json): labels, service account, pod IP, containers."""
    meta: dict[str, Any] = {
        "name": pod.name,
        "namespace": pod.namespace,
        "labels": dict(pod.labels),
    }
    if pod.created:
        stamp = datetime.fromtimestamp(pod.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["creationTimestamp"] = stamp
    images = list(pod.images) + [""] * (len(pod.containers) - len(pod.images))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "serviceAccountName": pod.service_account,
            "containers": [
                {"name": n, "image": i} for n, i in zip(pod.containers, images, strict=True)
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if pod.ready else "False"}],
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
        },
    }
