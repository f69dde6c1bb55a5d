"""istiod as the Kubernetes API shows it: the pod ``kubectl get pods -n istio-system`` lists
next to the ingress gateway (the mesh's own control plane, at istiod's address), and what
``kubectl exec`` runs in its ``discovery`` container: ``pilot-discovery request GET
/debug/syncz``, the per-proxy xDS state ``istioctl proxy-status`` reads (CSDS
``ClientConfig``s: ``node.id`` and ``genericXdsConfigs`` with ``typeUrl`` and
``configStatus``, ``versionInfo``: the push version), built from the mesh's own ACK/NACK
table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.local.kubeapi.workloads import pod_object
from istiolab.local.proxyview import TYPE_SHORT, sync_states
from istiolab.names import ISTIO_SYSTEM
from istiolab.versions import ISTIO_VERSION

CONTAINER = "discovery"
IMAGE = f"docker.io/istio/pilot:{ISTIO_VERSION}"
LABELS = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}
PORTS = (("grpc-xds", 15010), ("https-dns", 15012), ("http-monitoring", 15014),
         ("https-webhooks", 15017))  # fmt: skip
TYPE_URL = {short: f"type.googleapis.com/{name}" for name, short in TYPE_SHORT.items()}
# istioctl's words (proxyview.sync_states) -> CSDS ConfigStatus
CONFIG_STATUS = {"SYNCED": "SYNCED", "NOT SENT": "NOT_SENT", "STALE": "STALE", "NACK": "ERROR"}


def istiod_pod(ip: str, created: float | None) -> dict:
    """The istiod Pod at `ip` (its name stable for the mesh, as a ReplicaSet's would be)."""
    digest = hashlib.sha256(f"istiod/{ip}".encode()).hexdigest()
    row = {
        "name": f"istiod-{digest[:10]}-{digest[10:15]}",
        "namespace": ISTIO_SYSTEM,
        "labels": dict(LABELS),
        "deployment": "",
        "sidecar": False,
        "ready": True,
        "service_account": "istiod",
        "ip": ip,
        "created": created,
        "image": IMAGE,
    }
    ports = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in PORTS]
    template = {"spec": {"containers": [{"name": CONTAINER, "image": IMAGE, "ports": ports}]}}
    return pod_object(row, template)


def is_istiod(pod: Mapping[str, Any]) -> bool:
    md = pod.get("metadata") or {}
    return md.get("namespace") == ISTIO_SYSTEM and (md.get("labels") or {}).get("app") == "istiod"


def syncz(rows: Iterable[Mapping[str, Any]]) -> list[dict]:
    """``/debug/syncz`` from the mesh's ``proxy_status()`` rows (node id, raw xDS status)."""
    out = []
    for row in rows:
        states, version = sync_states(row.get("status"))
        configs = [
            {
                "typeUrl": TYPE_URL[short],
                "configStatus": CONFIG_STATUS.get(state, state),
                **({"versionInfo": version} if version != "-" else {}),
            }
            for short, state in sorted(states.items())
            if short in TYPE_URL
        ]
        out.append({"node": {"id": row.get("node", "")}, "genericXdsConfigs": configs})
    return out


def debug(rows: Iterable[Mapping[str, Any]], path: str) -> tuple[int, str]:
    """istiod's debug endpoint `path` (the ones served here), as (HTTP status, body)."""
    if path.split("?")[0] == "/debug/syncz":
        return 200, json.dumps(syncz(rows), indent=2) + "\n"
    return 404, f"404 page not found (the local istiod serves /debug/syncz only): {path}\n"
