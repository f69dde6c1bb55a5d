"""Istio sets `include_request_attempt_count` on every virtual host it builds (sidecar
outbound, catch-all and gateway), so upstreams see `x-envoy-attempt-count`."""

from __future__ import annotations

from istiolab.local.xds import to_any

from .helpers import bookinfo_world, gateway, mesh_config, sidecar


def test_sidecar_virtual_hosts_count_attempts():
    res, _, _ = sidecar(bookinfo_world())
    hosts = [vh for rc in res.routes.values() for vh in rc["virtual_hosts"]]
    names = {vh["name"] for vh in hosts}
    assert {"httpbin.default.svc.cluster.local:8000", "allow_any"} <= names
    assert all(vh.get("include_request_attempt_count") is True for vh in hosts), hosts
    for rc in res.routes.values():
        to_any(rc)


def test_registry_only_catch_all_counts_attempts():
    res, _, _ = sidecar(bookinfo_world(mesh_config("outboundTrafficPolicy: {mode: REGISTRY_ONLY}")))
    hosts = {vh["name"]: vh for rc in res.routes.values() for vh in rc["virtual_hosts"]}
    assert hosts["block_all"]["include_request_attempt_count"] is True


def test_gateway_virtual_hosts_count_attempts():
    res = gateway(bookinfo_world())
    hosts = [vh for rc in res.routes.values() for vh in rc["virtual_hosts"]]
    assert hosts and all(vh.get("include_request_attempt_count") is True for vh in hosts), hosts
