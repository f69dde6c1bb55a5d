"""How the lab's objects are split between the components (pure)."""

from __future__ import annotations

from components.lab_plan import split_lab
from istiolab.manifests import LabSpec, default_lab


def names(objs):
    return [(o["kind"], o["metadata"]["name"]) for o in objs]


def test_every_object_goes_to_exactly_one_component():
    spec = LabSpec(mtls="STRICT", traffic="circuit-breaker", security="deny-all")
    parts = split_lab(spec)
    assert sorted(names(parts.all())) == sorted(names(default_lab(spec)))
    assert names(parts.mesh) == [("Namespace", "istio-system")]
    assert ("Namespace", "default") in names(parts.bookinfo)
    assert ("DestinationRule", "reviews") in names(parts.bookinfo)
    assert ("DestinationRule", "httpbin") in names(parts.samples)  # the preset's, once
    assert names(parts.security) == [
        ("PeerAuthentication", "default"),
        ("AuthorizationPolicy", "deny-all"),
    ]
    assert all(o["metadata"].get("namespace") == "istio-system" for o in parts.addons
               if "namespace" in o["metadata"])  # fmt: skip


def test_without_bookinfo_the_samples_own_the_namespace_and_addons_their_own():
    spec = LabSpec(samples=("sleep",), gateway=False, addons=("kiali",), addons_namespace="observe")
    parts = split_lab(spec)
    assert parts.bookinfo == []
    assert names(parts.samples)[0] == ("Namespace", "default")
    assert names(parts.addons)[0] == ("Namespace", "observe")


def test_no_samples_still_makes_the_apps_namespace():
    parts = split_lab(LabSpec(samples=(), gateway=False, addons=()))
    assert names(parts.samples) == [("Namespace", "default")]
    assert parts.bookinfo == []
