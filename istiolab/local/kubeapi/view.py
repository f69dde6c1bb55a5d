"""Every object the Kubernetes API serves, as one snapshot of the running mesh.

- Stored objects (the config store's, the same ones ``istiolab get`` reads) of the kinds in
  :data:`istiolab.manifests.kinds.KINDS`, with their ``uid``, ``generation`` and
  ``creationTimestamp``; Deployments get their ``status`` from their pods.
- Namespaces: stored ones, plus those a cluster with Istio always has (the store's
  ``BUILTIN_NAMESPACES``) and any an object lives in, ``Active``.
  Gateway API objects carry the status Istio writes back (the caller's, see
  :func:`istiolab.local.api.get_objects`).
- Pods: the running pods (read-only, derived from Deployments; the ingress gateway's in
  istio-system), see :mod:`istiolab.local.kubeapi.workloads`.
- The ingress gateway's Service ``istio-system/istio-ingressgateway`` (type LoadBalancer,
  ports ``http2`` and ``https`` where the gateway listens, its address as the load
  balancer's ingress IP), so the docs' ``INGRESS_HOST``/``INGRESS_PORT`` commands work;
  the span collector's ``istio-system/zipkin`` and, with ``--addons prometheus``, the
  addon's ``istio-system/prometheus`` (their ``services/proxy`` reaches the mesh's own).

Keys are ``(kind, namespace, name)`` with ``""`` as the namespace of cluster-scoped kinds.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.local.kubeapi.workloads import deployment_status, pod_object
from istiolab.local.store import BUILTIN_NAMESPACES, store_kind
from istiolab.manifests.kinds import BY_KIND
from istiolab.names import INGRESS_GATEWAY, ISTIO_SYSTEM

Key = tuple[str, str, str]


def object_key(obj: Mapping[str, Any]) -> Key:
    """(store kind, namespace, name): the Gateway API's Gateway under its qualified kind."""
    kind = store_kind(obj)
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


def gateway_service(host: str, http_port: int, https_port: int, created: str) -> dict:
    """``istio-system/istio-ingressgateway`` as a LoadBalancer Service at `host`."""
    ports = [
        {"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
        {"name": "http2", "port": http_port, "targetPort": 8080, "protocol": "TCP"},
        {"name": "https", "port": https_port, "targetPort": 8443, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": INGRESS_GATEWAY,
            "namespace": ISTIO_SYSTEM,
            "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
            "uid": _stable_uid(("Service", ISTIO_SYSTEM, INGRESS_GATEWAY)),
            "creationTimestamp": created,
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
            "ports": ports,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": host}]}},
    }


def addon_service(name: str, port: int, host: str, created: str) -> dict:
    """An addon the mesh runs itself (Zipkin's collector, Prometheus) as its Service:
    no selector (its address is the mesh's own), reachable through ``services/proxy``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ISTIO_SYSTEM,
            "labels": {"app": name},
            "uid": _stable_uid(("Service", ISTIO_SYSTEM, name)),
            "creationTimestamp": created,
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": host,
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
        "status": {"loadBalancer": {}},
    }


def snapshot(
    stored: Iterable[Mapping[str, Any]],
    pod_rows: Iterable[Mapping[str, Any]],
    started: str,
    extra: Iterable[dict] = (),
) -> dict[Key, dict]:
    """The API's objects: stored ones (served kinds), namespaces, Deployment status, pods,
    and the mesh's own Services (`extra`: :func:`gateway_service`, :func:`addon_service`)
    unless a Service of that name is stored."""
    rows = list(pod_rows)
    out: dict[Key, dict] = {}
    templates: dict[tuple[str, str], Mapping] = {}
    owners: dict[tuple[str, str], str] = {}
    for raw in stored:
        if store_kind(raw) not in BY_KIND:
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
    for obj in extra:
        out.setdefault(object_key(obj), obj)
    used = set(BUILTIN_NAMESPACES) | {ns for _, ns, _ in out if ns}
    for ns in sorted(used):
        if ("Namespace", "", ns) not in out:
            obj = _namespace(ns, started)
            obj["metadata"]["uid"] = _stable_uid(("Namespace", "", ns))
            obj["status"] = {"phase": "Active"}
            out[("Namespace", "", ns)] = obj
    return out
