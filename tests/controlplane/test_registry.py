"""Pods and services from Deployments and Services: names, IPs, sidecars."""

from __future__ import annotations

import copy
import re

from istiolab import manifests as m
from istiolab.local.model import MeshSettings
from istiolab.local.registry import build_registry, proxies

SETTINGS = MeshSettings(octet=171)


def test_replicas_names_and_stable_ips():
    objects = [m.namespace("default"), *m.httpbin()]
    dep = next(o for o in objects if o["kind"] == "Deployment")
    dep["spec"]["replicas"] = 3
    registry, alloc = build_registry(objects, SETTINGS, {})
    pods = registry.pods
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(r"httpbin-v1-[bcdfghjklmnpqrstvwxz2456789]{10}-[a-z0-9]{5}", pod.name)
    assert len({p.name.rsplit("-", 1)[0] for p in pods}) == 1  # one template hash
    assert sorted(p.ip for p in pods) == ["127.171.1.1", "127.171.1.2", "127.171.1.3"]
    # same input, same names and IPs; a new pod does not move the others
    again, alloc2 = build_registry(objects, SETTINGS, alloc)
    assert again.pods == registry.pods and alloc2 == alloc
    more = [*objects, *m.sleep()]
    grown, alloc3 = build_registry(more, SETTINGS, alloc)
    assert {p.name: p.ip for p in grown.pods if p.deployment == "httpbin-v1"} == {
        p.name: p.ip for p in pods
    }
    # scaling down frees an index, which the next new pod reuses
    dep2 = copy.deepcopy(dep)
    dep2["spec"]["replicas"] = 1
    shrunk, alloc4 = build_registry([objects[0], *objects[1:-1], dep2], SETTINGS, alloc3)
    assert len([p for p in shrunk.pods if p.deployment == "httpbin-v1"]) == 1
    assert len(alloc4) == len(shrunk.pods)


def test_template_change_renames_pods():
    objects = m.httpbin()
    registry, alloc = build_registry(objects, SETTINGS, {})
    changed = copy.deepcopy(objects)
    dep = next(o for o in changed if o["kind"] == "Deployment")
    dep["spec"]["template"]["metadata"]["labels"]["extra"] = "1"
    registry2, _ = build_registry(changed, SETTINGS, alloc)
    assert registry.pods[0].name != registry2.pods[0].name


def test_pod_fields_and_services():
    objects = [m.namespace("default"), *m.bookinfo()]
    registry, _ = build_registry(objects, SETTINGS, {})
    pod = next(p for p in registry.pods if p.deployment == "reviews-v2")
    assert pod.labels == {"app": "reviews", "version": "v2"}
    assert pod.service_account == "bookinfo-reviews"
    assert "reviews" in pod.image and pod.container_ports == (9080,)
    assert pod.sidecar and pod.app_ip.startswith("127.171.129.")
    svc = registry.service("reviews", "default")
    assert [(p.port, p.target_port, p.istio_protocol) for p in svc.ports] == [(9080, 9080, "HTTP")]
    assert len(registry.endpoints(svc)) == 3


def test_injection_rules():
    base = [*m.sleep(), *m.httpbin("other")]
    registry, _ = build_registry([m.namespace("default"), *base], SETTINGS, {})
    by_ns = {p.namespace: p.sidecar for p in registry.pods}
    assert by_ns == {"default": True, "other": False}  # no Namespace object: not injected
    off = copy.deepcopy(base)
    dep = next(o for o in off if o["kind"] == "Deployment")
    dep["spec"]["template"]["metadata"]["annotations"] = {"sidecar.istio.io/inject": "false"}
    registry, _ = build_registry([m.namespace("default"), *off], SETTINGS, {})
    assert not next(p for p in registry.pods if p.namespace == "default").sidecar
    registry, _ = build_registry([m.namespace("default", injection=False), *base], SETTINGS, {})
    assert not any(p.sidecar for p in registry.pods)
    assert proxies(registry, SETTINGS)[0].type == "router"
    assert len(proxies(registry, SETTINGS)) == 1


def test_same_pod_name_in_two_namespaces_gets_two_ips():
    # the same Deployment in two namespaces: same template, so the same pod name
    objects = [m.namespace("default"), m.namespace("plain", injection=False)]
    objects += [*m.httpbin(), *m.httpbin("plain")]
    registry, alloc = build_registry(objects, SETTINGS, {})
    a, b = registry.pods
    assert a.name == b.name and a.namespace != b.namespace
    assert a.ip != b.ip
    assert set(alloc) == {f"{p.namespace}/{p.name}" for p in registry.pods}
