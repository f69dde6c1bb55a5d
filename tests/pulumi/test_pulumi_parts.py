"""How the environment's objects are split between the components (pure)."""

from __future__ import annotations

from components.parts import split_environment
from istiolab.env import AddonsSpec, AppsSpec, EnvSpec, SecuritySpec, environment_objects


def names(objs):
    return [(o["kind"], o["metadata"]["name"]) for o in objs]


def test_every_object_goes_to_exactly_one_component():
    spec = EnvSpec(
        apps=AppsSpec(traffic="circuit-breaker"),
        security=SecuritySpec(mtls="STRICT", preset="deny-all"),
    )
    parts = split_environment(spec)
    assert sorted(names(parts.all())) == sorted(names(environment_objects(spec)))
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
    spec = EnvSpec(
        apps=AppsSpec(samples=("sleep",)),
        addons=AddonsSpec(enabled=("kiali",), namespace="observe"),
    )
    parts = split_environment(spec)
    assert parts.bookinfo == []
    assert names(parts.samples)[0] == ("Namespace", "default")
    assert names(parts.addons)[0] == ("Namespace", "observe")


def test_no_samples_still_makes_the_apps_namespace():
    parts = split_environment(EnvSpec(apps=AppsSpec(samples=()), addons=AddonsSpec(enabled=())))
    assert names(parts.samples) == [("Namespace", "default")]
    assert parts.bookinfo == []


def test_tcp_echo_and_helloworld_go_to_the_samples_component():
    from components.samples import SamplesArgs, samples_objects

    spec = EnvSpec(apps=AppsSpec(samples=("tcp-echo", "helloworld")), addons=AddonsSpec(enabled=()))
    parts = split_environment(spec)
    deployments = [n for k, n in names(parts.samples) if k == "Deployment"]
    assert deployments == ["tcp-echo-v1", "tcp-echo-v2", "helloworld-v1", "helloworld-v2"]
    # the Samples component builds the same objects from its own arguments
    own = samples_objects(SamplesArgs(provider=None, samples=("tcp-echo", "helloworld")))
    assert names(own) == names(parts.samples)
