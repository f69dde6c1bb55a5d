"""Table output (``meta.k8s.io/v1 Table``): the columns ``kubectl get`` shows per kind.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells as
given: Pods ``NAME READY STATUS RESTARTS AGE`` (``IP NODE`` with ``-o wide``), Deployments
``NAME READY UP-TO-DATE AVAILABLE AGE``, Services ``NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S)
AGE``, and the Istio and Gateway API kinds the printer columns of their CRDs define
(a Gateway API Gateway: ``NAME CLASS ADDRESS PROGRAMMED AGE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from istiolab.local.kubeapi.workloads import human_duration
from istiolab.manifests.kinds import GATEWAY_API_GATEWAY

ACCEPT = "as=Table"  # in the Accept header when kubectl wants a Table
Column = tuple[str, str, int, Callable[[Mapping[str, Any]], Any]]  # name, type, priority, cell


def _age(obj: Mapping[str, Any]) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return human_duration(time.time() - created)


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _pod_ready(obj: Mapping[str, Any]) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(statuses)}"


def _pod_status(obj: Mapping[str, Any]) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    if all(s.get("ready") for s in statuses):
        return "Running"
    return "Running" if any(s.get("ready") for s in statuses) else "ContainerCreating"


def _restarts(obj: Mapping[str, Any]) -> int:
    return sum(
        int(s.get("restartCount", 0))
        for s in (obj.get("status") or {}).get("containerStatuses") or []
    )


def _ports(obj: Mapping[str, Any]) -> str:
    ports = _spec(obj).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _external_ip(obj: Mapping[str, Any]) -> str:
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress]
    if ips:
        return ",".join(str(i) for i in ips)
    return "<pending>" if _spec(obj).get("type") == "LoadBalancer" else "<none>"


def _join(values: Any) -> str:
    return ",".join(str(v) for v in values or [])


def _status(field: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda o: int((o.get("status") or {}).get(field) or 0)


def _condition(kind: str) -> Callable[[Mapping[str, Any]], str]:
    """The status of the condition of type `kind` (the Gateway API's printer columns)."""

    def cell(o: Mapping[str, Any]) -> str:
        conditions = (o.get("status") or {}).get("conditions") or []
        return next((str(c.get("status")) for c in conditions if c.get("type") == kind), "")

    return cell


def _addresses(o: Mapping[str, Any]) -> str:
    return _join(a.get("value") for a in (o.get("status") or {}).get("addresses") or [])


NAME: Column = ("Name", "string", 0, lambda o: o["metadata"]["name"])
AGE: Column = ("Age", "string", 0, _age)
HOSTNAMES: Column = ("Hostnames", "string", 0, lambda o: _join(_spec(o).get("hostnames")))

COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _restarts),
        AGE,
        ("IP", "string", 1, lambda o: (o.get("status") or {}).get("podIP", "<none>")),
        ("Node", "string", 1, lambda o: _spec(o).get("nodeName", "<none>")),
    ],
    "Deployment": [
        NAME,
        (
            "Ready",
            "string",
            0,
            lambda o: f"{_status('readyReplicas')(o)}/{_spec(o).get('replicas', 1)}",
        ),
        ("Up-to-date", "integer", 0, _status("updatedReplicas")),
        ("Available", "integer", 0, _status("availableReplicas")),
        AGE,
    ],
    "Service": [
        NAME,
        ("Type", "string", 0, lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _spec(o).get("clusterIP", "<none>")),
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _ports),
        AGE,
    ],
    "Namespace": [NAME, ("Status", "string", 0, lambda o: "Active"), AGE],
    "VirtualService": [
        NAME,
        ("Gateways", "string", 0, lambda o: f"[{_join(_spec(o).get('gateways'))}]"),
        ("Hosts", "string", 0, lambda o: f"[{_join(_spec(o).get('hosts'))}]"),
        AGE,
    ],
    "DestinationRule": [NAME, ("Host", "string", 0, lambda o: _spec(o).get("host", "")), AGE],
    "ServiceEntry": [
        NAME,
        ("Hosts", "string", 0, lambda o: f"[{_join(_spec(o).get('hosts'))}]"),
        ("Location", "string", 0, lambda o: _spec(o).get("location", "")),
        ("Resolution", "string", 0, lambda o: _spec(o).get("resolution", "")),
        AGE,
    ],
    "PeerAuthentication": [
        NAME,
        ("Mode", "string", 0, lambda o: (_spec(o).get("mtls") or {}).get("mode", "")),
        AGE,
    ],
    "AuthorizationPolicy": [
        NAME,
        ("Action", "string", 0, lambda o: _spec(o).get("action", "ALLOW")),
        AGE,
    ],
    "ConfigMap": [NAME, ("Data", "integer", 0, lambda o: len(o.get("data") or {})), AGE],
    "Secret": [
        NAME,
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {})),
        AGE,
    ],
    "ServiceAccount": [NAME, AGE],
    "GatewayClass": [
        NAME,
        ("Controller", "string", 0, lambda o: _spec(o).get("controllerName", "")),
        ("Accepted", "string", 0, _condition("Accepted")),
        AGE,
    ],
    GATEWAY_API_GATEWAY: [
        NAME,
        ("Class", "string", 0, lambda o: _spec(o).get("gatewayClassName", "")),
        ("Address", "string", 0, _addresses),
        ("Programmed", "string", 0, _condition("Programmed")),
        AGE,
    ],
    "HTTPRoute": [NAME, HOSTNAMES, AGE],
    "GRPCRoute": [NAME, HOSTNAMES, AGE],
}


def table(kind: str, objects: list[dict], resource_version: str) -> dict:
    """A Table of `objects` (each row carries the object's metadata for kubectl)."""
    columns = COLUMNS.get(kind, [NAME, AGE])
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": n, "type": t, "format": "name" if n == "Name" else "", "description": "",
             "priority": p}
            for n, t, p, _ in columns
        ],
        "rows": [
            {
                "cells": [cell(o) for *_, cell in columns],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata", {}),
                },
            }
            for o in objects
        ],
    }  # fmt: skip
