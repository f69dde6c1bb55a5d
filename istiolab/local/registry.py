"""What Kubernetes would know: pods from Deployments, services from Services.

- Pods: a Deployment with ``replicas: N`` gives N pods named like a ReplicaSet's,
  ``<deployment>-<10-char hash of the pod template>-<5 chars>``, both parts stable for the
  same template (a changed template gives new names: a rollout).
- Sidecar: the namespace is labelled ``istio-injection=enabled`` (or the pod template is
  labelled ``sidecar.istio.io/inject: "true"``), and neither the pod template's label nor
  its annotation ``sidecar.istio.io/inject`` says ``"false"``.
- A deleted pod is replaced under a new name (`replaced`: how often each replica slot,
  :func:`replica_key`, was deleted), like a ReplicaSet's.
- Injection happens at pod creation, as Istio's webhook does: `injected` (``<namespace>/<pod
  name>`` -> sidecar or not, the decision taken when that pod was created) keeps a live pod
  as it is when its namespace is labelled later; new pods (a rollout) decide again.
- IPs are stable: ``allocations`` maps ``<namespace>/<pod name>`` -> index for
  ``settings.pod_ip`` (pod names repeat across namespaces: the same template gives the same
  name); live pods keep theirs, new pods get the lowest free index. The returned mapping
  holds live pods only.
- The ingress gateway is not a registry pod; :func:`gateway_pod` describes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from istiolab.errors import ConfigError
from istiolab.local.model import (
    ISTIO_SYSTEM,
    MeshSettings,
    Pod,
    Proxy,
    Registry,
    Service,
    ServicePort,
)
from istiolab.local.translate.common import meta
from istiolab.local.translate.gatewayapi import expand
from istiolab.workloads.images import is_proxy

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' SafeEncodeString alphabet
INJECT = "sidecar.istio.io/inject"


def _encode(data: str, length: int) -> str:
    digest = hashlib.sha256(data.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def replica_key(deployment: Mapping, index: int) -> str:
    """``<ns>/<deployment>/<template hash>/<replica index>``: one replica slot of a rollout."""
    name, ns = meta(deployment)
    template = (deployment.get("spec") or {}).get("template") or {}
    return f"{ns}/{name}/{_encode(json.dumps(template, sort_keys=True), 10)}/{index}"


def pod_names(deployment: Mapping, replaced: Mapping[str, int] | None = None) -> list[str]:
    """The pods' names; `replaced` counts how often a replica's pod was deleted (a deleted
    pod comes back under a new name, as a ReplicaSet creates a new pod)."""
    name, _ = meta(deployment)
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    template_hash = _encode(json.dumps(template, sort_keys=True), 10)
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    out = []
    for i in range(replicas):
        n = (replaced or {}).get(replica_key(deployment, i), 0)
        seed = f"{name}/{template_hash}/{i}" + (f"/{n}" if n else "")
        out.append(f"{name}-{template_hash}-{_encode(seed, 5)}")
    return out


def _sidecar(namespace: Mapping | None, template_meta: Mapping) -> bool:
    ns_labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    labels = template_meta.get("labels") or {}
    annotations = template_meta.get("annotations") or {}
    if "false" in (str(labels.get(INJECT, "")).lower(), str(annotations.get(INJECT, "")).lower()):
        return False
    if ns_labels.get("istio-injection") == "disabled":
        return False
    return ns_labels.get("istio-injection") == "enabled" or str(labels.get(INJECT)) == "true"


def _services(objects: Iterable[Mapping], named_ports: Mapping[tuple[str, str], int]):
    out = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        name, ns = meta(obj)
        spec = obj.get("spec") or {}
        ports = []
        for p in spec.get("ports") or []:
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, str) and not target.isdigit():
                if (ns, target) not in named_ports:
                    raise ConfigError(
                        f"Service {ns}/{name}: spec.ports[].targetPort={target!r} names no "
                        "container port of any Deployment in that namespace"
                    )
                target = named_ports[(ns, target)]
            ports.append(
                ServicePort(
                    name=str(p.get("name", "")),
                    port=int(p["port"]),
                    target_port=int(target),
                    protocol=str(p.get("protocol", "TCP")),
                    app_protocol=str(p.get("appProtocol", "")),
                )
            )
        labels = (obj.get("metadata") or {}).get("labels") or {}
        out.append(Service(name, ns, dict(spec.get("selector") or {}), tuple(ports), dict(labels)))
    return tuple(sorted(out, key=lambda s: (s.namespace, s.name)))


def is_gateway_proxy(pod: Pod) -> bool:
    """A gateway proxy pod (image ``istio/proxyv2``: a Gateway API Gateway's ``<name>-istio``,
    the egress gateway): the runtime runs a standalone Envoy (a router) for it, no app."""
    return is_proxy(pod.image)


def build_registry(
    objects: list[dict],
    settings: MeshSettings,
    allocations: Mapping[str, int],
    injected: Mapping[str, bool] | None = None,
    replaced: Mapping[str, int] | None = None,
) -> tuple[Registry, dict[str, int]]:
    objects = expand(objects)  # Gateway API Gateways bring their proxy Deployment and Service
    namespaces = {meta(o)[0]: o for o in objects if o.get("kind") == "Namespace"}
    planned = []  # (name, namespace, deployment, template)
    named_ports: dict[tuple[str, str], int] = {}
    for dep in sorted(
        (o for o in objects if o.get("kind") == "Deployment"), key=lambda d: meta(d)[::-1]
    ):
        dname, ns = meta(dep)
        template = (dep.get("spec") or {}).get("template") or {}
        for container in (template.get("spec") or {}).get("containers") or []:
            for cp in container.get("ports") or []:
                if cp.get("name"):
                    named_ports.setdefault((ns, cp["name"]), int(cp["containerPort"]))
        for pod_name in pod_names(dep, replaced):
            planned.append((pod_name, ns, dname, template))
    live = {f"{p[1]}/{p[0]}" for p in planned}
    kept = {key: idx for key, idx in allocations.items() if key in live}
    used = set(kept.values())
    next_free = 0
    pods = []
    for pod_name, ns, dname, template in planned:
        key = f"{ns}/{pod_name}"
        if key not in kept:
            while next_free in used:
                next_free += 1
            kept[key] = next_free
            used.add(next_free)
        tmeta = template.get("metadata") or {}
        tspec = template.get("spec") or {}
        containers = tspec.get("containers") or [{}]
        first = containers[0]
        pods.append(
            Pod(
                name=pod_name,
                namespace=ns,
                ip=settings.pod_ip(kept[key]),
                labels=dict(tmeta.get("labels") or {}),
                service_account=str(
                    tspec.get("serviceAccountName") or tspec.get("serviceAccount") or "default"
                ),
                deployment=dname,
                image=str(first.get("image", "")),
                container_ports=tuple(
                    int(cp["containerPort"]) for c in containers for cp in c.get("ports") or []
                ),
                sidecar=(injected or {}).get(key, _sidecar(namespaces.get(ns), tmeta))
                and not is_proxy(str(first.get("image", ""))),  # gateway proxies: no sidecar
                env={
                    str(e["name"]): str(e.get("value", ""))
                    for e in first.get("env") or []
                    if "name" in e
                },
                args=tuple(str(a) for a in first.get("args") or []),
            )
        )
    return Registry(services=_services(objects, named_ports), pods=tuple(pods)), kept


GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}


def gateway_pod(settings: MeshSettings) -> Pod:
    """The ingress gateway's pod (istio-system, labels ``istio: ingressgateway``)."""
    return Pod(
        name="istio-ingressgateway",
        namespace=ISTIO_SYSTEM,
        ip=settings.gateway_pod_ip,
        labels=dict(GATEWAY_LABELS),
        service_account="istio-ingressgateway-service-account",
        deployment="istio-ingressgateway",
        image="istio/proxyv2",
        container_ports=(8080, 8443),
        sidecar=False,
    )


def proxies(registry: Registry, settings: MeshSettings, gateway: bool = True) -> list[Proxy]:
    """Every proxy of the mesh: the gateway, then each pod's sidecar."""
    out = [Proxy("router", gateway_pod(settings))] if gateway else []
    out += [Proxy("sidecar", p) for p in registry.pods if p.sidecar]
    return out
