"""MeshIndex: the lookups translation repeats, answered as Istio picks (precedence rules)."""

from __future__ import annotations

from istiolab import manifests as m
from istiolab.local.model import Proxy
from istiolab.local.registry import build_registry
from istiolab.local.translate import MeshIndex
from istiolab.local.translate.context import Context
from istiolab.local.translate.virtualhosts import mesh_virtual_service

from .helpers import SETTINGS, destination_rule, istio, virtual_service

REVIEWS = "reviews.default.svc.cluster.local"


def world(*extra: dict) -> list[dict]:
    objects = [m.namespace("default"), m.namespace("other"), *m.bookinfo(), *m.sleep("other")]
    return objects + list(extra)


def context(objects: list[dict], namespace: str) -> Context:
    registry, _ = build_registry(objects, SETTINGS, {})
    pod = next(p for p in registry.pods if p.namespace == namespace)
    index = MeshIndex(objects, registry, SETTINGS)
    return Context(objects, registry, Proxy("sidecar", pod), SETTINGS, index=index)


def name_of(obj) -> str | None:
    return obj["metadata"]["name"] if obj else None


def test_destination_rule_precedence():
    rules = [
        destination_rule("root", "*.svc.cluster.local", namespace="istio-system"),
        destination_rule("wide", "*.cluster.local"),
        destination_rule("narrow", "*.default.svc.cluster.local"),
        destination_rule("exact", "reviews"),
        destination_rule("exact-later", "reviews.default.svc.cluster.local"),
        destination_rule("client-side", "reviews.default", namespace="other"),
    ]
    objects = world(*rules)
    # the client's namespace first, then the host's, then the root namespace
    assert name_of(context(objects, "other").destination_rule(REVIEWS)) == "client-side"
    # in one namespace: an exact host over wildcards, the oldest of equals
    assert name_of(context(objects, "default").destination_rule(REVIEWS)) == "exact"
    # the longest wildcard wins among wildcards
    host = "details.default.svc.cluster.local"
    assert name_of(context(objects, "default").destination_rule(host)) == "narrow"
    # nothing in the client's or the host's namespace: the root namespace's
    alone = world(rules[0])
    assert name_of(context(alone, "other").destination_rule(REVIEWS)) == "root"


def test_destination_rule_export_to_hides_it_from_other_namespaces():
    private = destination_rule("private", "reviews", exportTo=["."])
    objects = world(private)
    assert name_of(context(objects, "default").destination_rule(REVIEWS)) == "private"
    assert context(objects, "other").destination_rule(REVIEWS) is None


def test_destination_rule_for_a_wildcard_service_entry_host():
    entry = istio(
        "ServiceEntry",
        "wild",
        "default",
        {"hosts": ["*.example.com"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]},
    )
    rule = destination_rule("api", "api.example.com")
    ctx = context(world(entry, rule), "default")
    assert name_of(ctx.destination_rule("*.example.com")) == "api"  # overlapping hosts match


def test_mesh_virtual_service_precedence():
    wildcard = virtual_service("any", ["*.default.svc.cluster.local"], [])
    exact_other = virtual_service("exact-other", ["reviews.default"], [], namespace="other")
    exact = virtual_service("exact", ["reviews"], [])
    exact_later = virtual_service("exact-later", ["reviews"], [])
    gateway_only = virtual_service("edge", ["reviews"], [], gateways=["bookinfo-gateway"])
    objects = world(gateway_only, wildcard, exact_other, exact, exact_later)
    # exact over wildcard; the proxy's own namespace first; then the oldest
    assert name_of(mesh_virtual_service(context(objects, "default"), REVIEWS)) == "exact"
    assert name_of(mesh_virtual_service(context(objects, "other"), REVIEWS)) == "exact-other"
    host = "ratings.default.svc.cluster.local"
    assert name_of(mesh_virtual_service(context(objects, "default"), host)) == "any"
    # a VirtualService bound only to a gateway never owns a sidecar's host
    only = world(gateway_only)
    assert mesh_virtual_service(context(only, "default"), REVIEWS) is None


def test_index_is_built_once_and_memoises_host_resolution():
    objects = world()
    registry, _ = build_registry(objects, SETTINGS, {})
    index = MeshIndex(objects, registry, SETTINGS)
    assert index.fqdn("reviews", "default") == REVIEWS
    assert index.fqdn("reviews.default", "other") == REVIEWS  # a known namespace
    assert index.fqdn("reviews.example", "other") == "reviews.example"
    assert index.fqdn("reviews", "default") is index.fqdn("reviews", "default")
    assert {"default", "other", "istio-system"} <= index.namespaces
    assert [p.name for p in index.endpoints(registry.services[0])] == [
        p.name for p in registry.endpoints(registry.services[0])
    ]
