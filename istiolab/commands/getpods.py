"""`istiolab get pods`: the running mesh's pods as kubectl shows them (pure functions over the
control API's `/status` pods)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from istiolab.versions import ISTIO_VERSION

PROXY_IMAGE = f"docker.io/istio/proxyv2:{ISTIO_VERSION}"


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


def pod_object(pod: Mapping[str, Any]) -> dict:
    """A Pod object (kubectl get pod -o json): labels, service account, pod IP, containers."""
    names = _containers(pod)
    images = [pod["image"]] + ([PROXY_IMAGE] if len(names) == 2 else [])
    created = pod.get("created")
    meta: dict[str, Any] = {
        "name": pod["name"],
        "namespace": pod["namespace"],
        "labels": dict(pod["labels"]),
    }
    if created:
        stamp = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["creationTimestamp"] = stamp
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "serviceAccountName": pod["service_account"],
            "containers": [{"name": n, "image": i} for n, i in zip(names, images, strict=True)],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if pod["ready"] else "False"}],
            "podIP": pod["ip"],
            "podIPs": [{"ip": pod["ip"]}],
        },
    }
