"""Every object the Kubernetes API serves, as one snapshot of the running mesh.

- Stored objects (the config store's, the same ones ``istiolab get`` reads) of the kinds in
  :data:`istiolab.manifests.kinds.KINDS`, with their ``uid``, ``generation`` and
  ``creationTimestamp``; Deployments get their ``status`` from their pods.
- Namespaces: stored ones, plus those a cluster always has (``default``, ``istio-system``,
  ``kube-system``, ``kube-public``) and any an object lives in, ``Active``.
- Pods: the running pods (read-only, derived from Deployments; the ingress gateway's in
  istio-system), see :mod:`istiolab.local.kubeapi.workloads`.

Keys are ``(kind, namespace, name)`` with ``""`` as the namespace of cluster-scoped kinds.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.local.kubeapi.workloads import deployment_status, pod_object
from istiolab.manifests.kinds import BY_KIND

Key = tuple[str, str, str]
BUILTIN_NAMESPACES = ("default", "istio-system", "kube-system", "kube-public")


def object_key(obj: Mapping[str, Any]) -> Key:
    kind = str(obj.get("kind", ""))
    md = obj.get("metadata") or {}
    info = BY_KIND.get(kind)
    ns = "" if info is not None and not info.namespaced else str(md.get("namespace") or "default")
    return kind, ns, str(md.get("name", ""))


def _stable_uid(key: Key) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(key)))


def _namespace(name: str, created: str | None) -> dict:
    md: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
    if created:
        md["creationTimestamp"] = created
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md}


def snapshot(
    stored: Iterable[Mapping[str, Any]], pod_rows: Iterable[Mapping[str, Any]], started: str
) -> dict[Key, dict]:
    """The API's objects: stored ones (served kinds), namespaces, Deployment status, pods."""
    rows = list(pod_rows)
    out: dict[Key, dict] = {}
    templates: dict[tuple[str, str], Mapping] = {}
    owners: dict[tuple[str, str], str] = {}
    for raw in stored:
        if raw.get("kind") not in BY_KIND:
            continue
        obj = copy.deepcopy(dict(raw))
        key = object_key(obj)
        md = obj.setdefault("metadata", {})
        md.setdefault("uid", _stable_uid(key))
        md.setdefault("generation", 1)
        md.setdefault("creationTimestamp", started)
        if key[1]:
            md["namespace"] = key[1]
        if key[0] == "Deployment":
            obj["status"] = deployment_status(obj, rows)
            templates[(key[1], key[2])] = (obj.get("spec") or {}).get("template") or {}
            owners[(key[1], key[2])] = md["uid"]
        if key[0] == "Namespace":
            obj.setdefault("status", {"phase": "Active"})
        out[key] = obj
    for row in rows:
        deployment = (row["namespace"], row.get("deployment", ""))
        pod = pod_object(row, templates.get(deployment), owners.get(deployment, ""))
        out[object_key(pod)] = pod
    used = set(BUILTIN_NAMESPACES) | {ns for _, ns, _ in out if ns}
    for ns in sorted(used):
        if ("Namespace", "", ns) not in out:
            obj = _namespace(ns, started)
            obj["metadata"]["uid"] = _stable_uid(("Namespace", "", ns))
            obj["status"] = {"phase": "Active"}
            out[("Namespace", "", ns)] = obj
    return out
