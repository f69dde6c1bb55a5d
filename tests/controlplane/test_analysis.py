"""What `translate.findings` reports, in istioctl analyze's words."""

from __future__ import annotations

from istiolab import manifests as m
from istiolab.local.registry import build_registry
from istiolab.local.translate import analyze, findings

from .helpers import SETTINGS, bookinfo_world, virtual_service


def run(objects):
    registry, _ = build_registry(objects, SETTINGS, {})
    return findings(objects, registry, SETTINGS)


def test_clean_bookinfo_has_no_findings():
    assert run(bookinfo_world()) == []


def test_missing_host_gateway_and_subset():
    vs = virtual_service(
        "broken",
        ["reviews"],
        [
            {
                "route": [
                    {"destination": {"host": "reviewz"}, "weight": 50},
                    {"destination": {"host": "reviews", "subset": "v7"}, "weight": 50},
                ]
            }
        ],
        gateways=["nowhere", "mesh"],
    )
    found = run(bookinfo_world(vs))
    assert found == [
        'Error [IST0101] (VirtualService default/broken) Referenced gateway not found: "nowhere"',
        'Error [IST0101] (VirtualService default/broken) Referenced host not found: "reviewz"',
        "Error [IST0101] (VirtualService default/broken) Referenced host+subset in "
        'destinationrule not found: "reviews+v7"',
    ]


def test_two_mesh_virtual_services_for_one_host():
    a = virtual_service("a", ["reviews"], [{"route": [{"destination": {"host": "reviews"}}]}])
    b = virtual_service(
        "b",
        ["reviews.default.svc.cluster.local"],
        [{"route": [{"destination": {"host": "reviews"}}]}],
    )
    [found] = run(bookinfo_world(a, b))
    assert found.startswith(
        "Error [IST0109] (VirtualService default/a) The VirtualServices a.default,b.default"
    )
    assert '"reviews.default.svc.cluster.local"' in found


def test_namespace_not_injected():
    objects = [m.namespace("default", injection=False), *m.sleep()]
    registry, _ = build_registry(objects, SETTINGS, {})
    [a] = analyze(objects, registry)
    assert (a.level, a.code, a.kind, a.name) == ("Info", "IST0102", "Namespace", "default")
    assert "istio-injection=enabled" in a.message


def test_retry_longer_than_timeout_is_a_warning_not_an_error():
    vs = virtual_service(
        "ratings",
        ["ratings"],
        [
            {
                "timeout": "1s",
                "retries": {"attempts": 2, "perTryTimeout": "3s"},
                "route": [{"destination": {"host": "ratings"}}],
            }
        ],
    )
    m.validate_objects([vs])  # accepted, as Istio accepts it
    [found] = run(bookinfo_world(vs))
    assert found.startswith("Warning [ISTL0001] (VirtualService default/ratings)")
    assert "perTryTimeout 3s is longer than the route timeout 1s" in found
