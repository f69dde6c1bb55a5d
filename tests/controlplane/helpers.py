"""Shared builders for the pure translation tests."""

from __future__ import annotations

from istiolab import manifests as m
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.translate import build_resources

SETTINGS = MeshSettings(octet=170)
NET = "networking.istio.io/v1"


def bookinfo_world(*extra: dict, namespace_injection: bool = True) -> list[dict]:
    objects = [m.namespace("default", injection=namespace_injection), *m.bookinfo()]
    objects += [*m.httpbin(versions=("v1", "v2")), *m.sleep()]
    objects += m.bookinfo_gateway() + m.destination_rules()
    objects += [m.destination_rule("httpbin", subsets=("v1", "v2"))]
    return objects + list(extra)


def replace_kind(objects: list[dict], *new: dict) -> list[dict]:
    """Objects with each (kind, namespace, name) of `new` replaced or added."""

    def key(o):
        md = o.get("metadata") or {}
        return o["kind"], md.get("namespace", "default"), md["name"]

    keys = {key(n) for n in new}
    return [o for o in objects if key(o) not in keys] + list(new)


def sidecar(objects: list[dict], app: str = "sleep", namespace: str = "default", settings=SETTINGS):
    registry, _ = build_registry(objects, settings, {})
    pod = next(p for p in registry.pods if p.labels.get("app") == app and p.namespace == namespace)
    proxy = Proxy("sidecar", pod)
    return build_resources(objects, registry, proxy, settings), proxy, registry


def gateway(objects: list[dict]):
    registry, _ = build_registry(objects, SETTINGS, {})
    proxy = Proxy("router", gateway_pod(SETTINGS))
    return build_resources(objects, registry, proxy, SETTINGS)


def vhost(resources, name: str) -> dict:
    for rc in resources.routes.values():
        for vh in rc["virtual_hosts"]:
            if vh["name"] == name:
                return vh
    raise AssertionError(f"no virtual host {name}")


def istio(kind: str, name: str, namespace: str = "default", spec: dict | None = None) -> dict:
    """An Istio networking object (``networking.istio.io/v1``)."""
    metadata = {"name": name, "namespace": namespace}
    return {"apiVersion": NET, "kind": kind, "metadata": metadata, "spec": spec or {}}


def virtual_service(name: str, hosts: list[str], http: list[dict], **spec) -> dict:
    ns = spec.pop("namespace", "default")
    return istio("VirtualService", name, ns, {"hosts": hosts, "http": http, **spec})


def destination_rule(name: str, host: str, **spec) -> dict:
    ns = spec.pop("namespace", "default")
    return istio("DestinationRule", name, ns, {"host": host, **spec})


def mesh_config(text: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"},
        "data": {"mesh": text},
    }
