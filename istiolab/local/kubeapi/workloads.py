"""Pods and Deployment status as a cluster reports them, from the running mesh's pod rows.

A pod row is what :func:`istiolab.local.pods.pod_rows` gives (name, namespace, labels, IPs,
sidecar, ready containers, restarts, creation time). Pods are read-only objects derived from
Deployments; a Deployment's ``status`` (replicas, ready, updated, available, conditions,
observedGeneration) is computed from its pods so ``kubectl rollout status`` and
``kubectl wait --for=condition=available`` work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from istiolab.names import PROXY_CONTAINER
from istiolab.versions import ISTIO_VERSION

PROXY_IMAGE = f"docker.io/istio/proxyv2:{ISTIO_VERSION}"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


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


def timestamp(seconds: float | None) -> str | None:
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_names(pod: Mapping[str, Any], template: Mapping | None = None) -> list[str]:
    """The pod's containers: the app's (named as in the Deployment), then istio-proxy."""
    if pod.get("gateway"):
        return [PROXY_CONTAINER]
    spec = (template or {}).get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or [] if c.get("name")]
    names = names or [str(pod["labels"].get("app") or pod["deployment"])]
    return [*names, PROXY_CONTAINER] if pod["sidecar"] else names


def pod_object(
    pod: Mapping[str, Any], template: Mapping | None = None, owner_uid: str = ""
) -> dict:
    """A Pod object (kubectl get pod -o json): metadata, containers, status and conditions;
    `owner_uid` is its Deployment's uid."""
    names = container_names(pod, template)
    spec_containers = [
        dict(c) for c in ((template or {}).get("spec") or {}).get("containers") or []
    ]
    if not spec_containers and not pod.get("gateway"):
        spec_containers = [{"name": names[0], "image": pod["image"]}]
    if pod.get("gateway") or pod["sidecar"]:
        spec_containers.append({"name": PROXY_CONTAINER, "image": PROXY_IMAGE})
    created = timestamp(pod.get("created"))
    ready = bool(pod["ready"])
    ready_text = "True" if ready else "False"
    meta: dict[str, Any] = {
        "name": pod["name"],
        "namespace": pod["namespace"],
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pod/{pod['namespace']}/{pod['name']}")),
        "labels": dict(pod["labels"]),
        "annotations": {DEFAULT_CONTAINER: names[0]},
    }
    if created:
        meta["creationTimestamp"] = created
    if pod.get("deployment") and not pod.get("gateway"):
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": pod["deployment"],
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    if pod["sidecar"]:
        meta["labels"]["security.istio.io/tlsMode"] = "istio"
        meta["annotations"]["sidecar.istio.io/status"] = '{"containers":["istio-proxy"]}'
    total = int(pod.get("containers", len(names)))
    ready_count = int(pod.get("ready_containers", total if ready else 0))
    per_restarts = int(pod.get("restarts", 0))
    statuses = []
    for i, name in enumerate(names):
        ok = i < ready_count or ready
        statuses.append(
            {
                "name": name,
                "ready": ok,
                "started": ok,
                "restartCount": per_restarts if i == 0 else 0,
                "image": spec_containers[i]["image"] if i < len(spec_containers) else "",
                "imageID": "",
                "state": {"running": {"startedAt": created}} if ok else {"waiting": {}},
            }
        )
    conditions = [
        {"type": t, "status": s, "lastTransitionTime": created}
        for t, s in (
            ("PodScheduled", "True"),
            ("Initialized", "True"),
            ("ContainersReady", ready_text),
            ("Ready", ready_text),
        )
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "serviceAccountName": pod["service_account"],
            "nodeName": "istiolab",
            "containers": spec_containers,
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": pod["ip"],
            "podIP": pod["ip"],
            "podIPs": [{"ip": pod["ip"]}],
            "startTime": created,
            "containerStatuses": statuses,
        },
    }


def deployment_status(deployment: Mapping, pods: Iterable[Mapping[str, Any]]) -> dict:
    """``status`` of a Deployment from its running pods (the mesh replaces pods at once)."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    mine = [
        p
        for p in pods
        if p.get("deployment") == meta.get("name")
        and p.get("namespace") == (meta.get("namespace") or "default")
        and not p.get("gateway")
    ]
    ready = sum(1 for p in mine if p["ready"])
    now = timestamp(max((p.get("created") or 0 for p in mine), default=0)) or meta.get(
        "creationTimestamp"
    )
    available = ready >= wanted
    name = meta.get("name")
    return {
        "observedGeneration": int(meta.get("generation", 1)),
        "replicas": len(mine),
        "updatedReplicas": len(mine),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(0, wanted - ready),
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}" has successfully progressed.',
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ],
    }
