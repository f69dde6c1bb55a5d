"""Every resource the translation builds parses into Envoy's protos (xds-protos), for every
proxy and every traffic preset; the bootstrap parses as a Bootstrap."""

from __future__ import annotations

import base64

import pytest
from envoy.config.bootstrap.v3 import bootstrap_pb2
from google.protobuf import json_format

from istiolab import manifests as m
from istiolab.errors import MeshError
from istiolab.local.bootstrap import bootstrap
from istiolab.local.model import TYPE_ORDER, Proxy
from istiolab.local.registry import build_registry, gateway_pod, proxies
from istiolab.local.translate import build_resources
from istiolab.local.xds import to_any, to_dict

from .helpers import SETTINGS, bookinfo_world, destination_rule, istio, mesh_config, replace_kind


def every_resource(objects):
    registry, _ = build_registry(objects, SETTINGS, {})
    for proxy in proxies(registry, SETTINGS):
        resources = build_resources(objects, registry, proxy, SETTINGS)
        for type_url, table in resources.by_type().items():
            for name, resource in table.items():
                yield proxy, type_url, name, resource


def assert_round_trip(objects) -> int:
    count = 0
    for _, type_url, _, resource in every_resource(objects):
        message = to_any(resource)
        assert message.type_url == resource["@type"] == type_url
        back = to_dict(message)
        assert back["@type"] == type_url
        count += 1
    return count


@pytest.mark.parametrize("preset", m.TRAFFIC_PRESETS)
def test_each_traffic_preset_parses(preset):
    objects = replace_kind(bookinfo_world(), *m.traffic_preset(preset))
    m.validate_objects(objects)
    assert assert_round_trip(objects) > 50


def test_rich_config_parses():
    cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "bookinfo-cert", "namespace": "istio-system"},
        "data": {"tls.crt": cert.decode(), "tls.key": cert.decode()},
    }
    gw = istio(
        "Gateway",
        "tls",
        "default",
        {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": ["bookinfo.app"],
                    "tls": {"mode": "SIMPLE", "credentialName": "bookinfo-cert"},
                },
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": ["bookinfo.app"],
                    "tls": {"httpsRedirect": True},
                },
            ],
        },
    )
    vs = istio(
        "VirtualService",
        "tls",
        "default",
        {
            "hosts": ["bookinfo.app"],
            "gateways": ["tls"],
            "http": [
                {
                    "corsPolicy": {
                        "allowOrigins": [{"prefix": "https://"}],
                        "allowMethods": ["GET"],
                        "maxAge": "1h",
                        "allowCredentials": False,
                    },
                    "route": [{"destination": {"host": "productpage", "port": {"number": 9080}}}],
                }
            ],
        },
    )
    policies = destination_rule(
        "httpbin",
        "httpbin",
        trafficPolicy={
            "loadBalancer": {"consistentHash": {"httpCookie": {"name": "u", "ttl": "10s"}}},
            "connectionPool": {
                "tcp": {"maxConnections": 1, "tcpKeepalive": {"time": "7200s"}},
                "http": {"idleTimeout": "1h", "h2UpgradePolicy": "UPGRADE"},
            },
            "outlierDetection": {
                "consecutive5xxErrors": 1,
                "splitExternalLocalOriginErrors": True,
                "consecutiveLocalOriginFailures": 2,
            },
        },
    )
    objects = replace_kind(
        bookinfo_world(mesh_config("outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n")),
        secret,
        gw,
        vs,
        policies,
    )
    m.validate_objects(objects)
    assert assert_round_trip(objects) > 50
    gateway = build_resources(
        objects,
        build_registry(objects, SETTINGS, {})[0],
        Proxy("router", gateway_pod(SETTINGS)),
        SETTINGS,
    )
    assert "0.0.0.0_8443" in gateway.listeners
    redirect = gateway.routes["http.8080"]["virtual_hosts"]
    assert any(v.get("require_tls") == "ALL" for v in redirect)


def test_bootstrap_parses_for_sidecar_and_gateway():
    registry, _ = build_registry(bookinfo_world(), SETTINGS, {})
    for proxy in proxies(registry, SETTINGS):
        boot = bootstrap(proxy, SETTINGS)
        parsed = json_format.ParseDict(boot, bootstrap_pb2.Bootstrap())
        assert parsed.node.id == proxy.node_id
        assert parsed.node.cluster == proxy.cluster_name
        assert parsed.stats_config.use_all_default_tags.value is False
        ads = parsed.dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name
        assert ads == "xds-grpc"
        admin = parsed.admin.address.socket_address
        expected = SETTINGS.gateway_pod_ip if proxy.type == "router" else proxy.pod.ip
        assert (admin.address, admin.port_value) == (expected, 15000)
        xds = next(c for c in parsed.static_resources.clusters if c.name == "xds-grpc")
        sa = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
        assert (sa.address, sa.port_value) == (SETTINGS.istiod_ip, 15010)


def test_type_order_and_invalid_resource_error():
    assert [t.rsplit(".", 1)[1] for t in TYPE_ORDER[:4]] == [
        "Cluster",
        "ClusterLoadAssignment",
        "Listener",
        "RouteConfiguration",
    ]
    with pytest.raises(MeshError, match=r"resource 'c1' .*Cluster.* is not valid: .*nonsense"):
        to_any({"@type": TYPE_ORDER[0], "name": "c1", "nonsense": 1})
