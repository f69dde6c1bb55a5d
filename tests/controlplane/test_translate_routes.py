"""Translation of Services and VirtualServices: names, virtual hosts, matches, actions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from istiolab import manifests as m
from istiolab.local.model import Proxy
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.translate import MeshIndex, build_resources, findings

from .helpers import (
    SETTINGS,
    bookinfo_world,
    gateway,
    mesh_config,
    replace_kind,
    sidecar,
    vhost,
    virtual_service,
)

REVIEWS = "reviews.default.svc.cluster.local"


def test_istio_names_for_bookinfo_sidecar():
    res, proxy, _ = sidecar(bookinfo_world(), app="productpage")
    assert {
        f"outbound|9080||{REVIEWS}",
        f"outbound|9080|v1|{REVIEWS}",
        f"outbound|9080|v2|{REVIEWS}",
        f"outbound|9080|v3|{REVIEWS}",
        "outbound|8000||httpbin.default.svc.cluster.local",
        "inbound|9080||",
        "PassthroughCluster",
        "BlackHoleCluster",
    } <= set(res.clusters)
    assert set(res.listeners) == {"virtualOutbound", f"{proxy.pod.ip}_9080"}
    assert set(res.routes) == {"http_proxy"}
    out = res.listeners["virtualOutbound"]["address"]["socket_address"]
    assert out == {"address": proxy.pod.ip, "port_value": 15001}
    # EDS clusters have an assignment each, with the pods' IPs and target ports
    cla = res.endpoints[f"outbound|9080|v2|{REVIEWS}"]
    [ep] = cla["endpoints"][0]["lb_endpoints"]
    assert ep["endpoint"]["address"]["socket_address"]["port_value"] == 9080
    httpbin = res.endpoints["outbound|8000||httpbin.default.svc.cluster.local"]
    ports = {
        e["endpoint"]["address"]["socket_address"]["port_value"]
        for e in httpbin["endpoints"][0]["lb_endpoints"]
    }
    assert ports == {8080}  # targetPort, not the service port
    assert len(httpbin["endpoints"][0]["lb_endpoints"]) == 2  # v1 and v2 pods


def test_inbound_routes_to_app_address():
    res, proxy, _ = sidecar(bookinfo_world(), app="details")
    cluster = res.clusters["inbound|9080||"]
    addr = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert addr["socket_address"] == {"address": proxy.pod.app_ip, "port_value": 9080}
    listener = res.listeners[f"{proxy.pod.ip}_9080"]
    assert listener["address"]["socket_address"]["address"] == proxy.pod.ip
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    route = hcm["route_config"]["virtual_hosts"][0]["routes"][0]
    assert route["route"]["cluster"] == "inbound|9080||"


def test_virtual_host_domains_and_namespace_scoping():
    objects = bookinfo_world(m.namespace("other"), *m.sleep("other"))
    res, _, _ = sidecar(objects)
    vh = vhost(res, f"{REVIEWS}:9080")
    assert {"reviews", "reviews:9080", "reviews.default", REVIEWS, f"{REVIEWS}:9080"} <= set(
        vh["domains"]
    )
    other, _, _ = sidecar(objects, namespace="other")
    vh = vhost(other, f"{REVIEWS}:9080")
    assert "reviews" not in vh["domains"] and "reviews.default:9080" in vh["domains"]
    domains = [d for rc in res.routes.values() for v in rc["virtual_hosts"] for d in v["domains"]]
    assert len(domains) == len(set(domains))  # Envoy refuses duplicates


def test_weights_subsets_and_ports():
    objects = replace_kind(
        bookinfo_world(), *m.traffic_preset("weighted", subsets=("v1", "v3"), weights=(80, 20))
    )
    res, _, _ = sidecar(objects)
    route = vhost(res, f"{REVIEWS}:9080")["routes"][0]["route"]
    assert route["weighted_clusters"]["clusters"] == [
        {"name": f"outbound|9080|v1|{REVIEWS}", "weight": 80},
        {"name": f"outbound|9080|v3|{REVIEWS}", "weight": 20},
    ]


def test_matches_translate_field_by_field():
    vs = virtual_service(
        "reviews",
        ["reviews"],
        [
            {
                "name": "matched",
                "match": [
                    {"uri": {"exact": "/x"}, "headers": {"end-user": {"exact": "jason"}}},
                    {"uri": {"prefix": "/p"}, "method": {"exact": "POST"}},
                    {"uri": {"regex": "/r/[0-9]+"}, "queryParams": {"q": {"exact": "1"}}},
                    {"headers": {"x": {"prefix": "a"}}, "withoutHeaders": {"y": {"regex": "b.*"}}},
                    {"uri": {"prefix": "/CASE"}, "ignoreUriCase": True},
                    {"sourceLabels": {"app": "productpage"}},
                    {"port": 9999},
                ],
                "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
            },
            {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]},
        ],
    )
    res, _, _ = sidecar(bookinfo_world(vs))
    routes = vhost(res, f"{REVIEWS}:9080")["routes"]
    matches = [r["match"] for r in routes]
    assert matches[0] == {
        "path": "/x",
        "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}],
    }
    assert matches[1] == {
        "prefix": "/p",
        "headers": [{"name": ":method", "string_match": {"exact": "POST"}}],
    }
    assert matches[2] == {
        "safe_regex": {"regex": "/r/[0-9]+"},
        "query_parameters": [{"name": "q", "string_match": {"exact": "1"}}],
    }
    assert matches[3]["headers"] == [
        {"name": "x", "string_match": {"prefix": "a"}},
        {"name": "y", "string_match": {"safe_regex": {"regex": "b.*"}}, "invert_match": True},
    ]
    assert matches[4] == {"prefix": "/CASE", "case_sensitive": False}
    # sourceLabels app=productpage does not match the sleep pod; port 9999 is not 9080
    assert len(routes) == 6 and matches[5] == {"prefix": "/"}
    assert routes[5]["route"]["cluster"] == f"outbound|9080|v1|{REVIEWS}"
    # ... but the productpage sidecar gets the sourceLabels route
    pp, _, _ = sidecar(bookinfo_world(vs), app="productpage")
    assert len(vhost(pp, f"{REVIEWS}:9080")["routes"]) == 7


def test_user_route_preset_is_a_header_match():
    objects = replace_kind(bookinfo_world(), *m.traffic_preset("user-route"))
    res, _, _ = sidecar(objects)
    first, second = vhost(res, f"{REVIEWS}:9080")["routes"][:2]
    assert first["match"]["headers"] == [{"name": "end-user", "string_match": {"exact": "jason"}}]
    assert first["route"]["cluster"] == f"outbound|9080|v2|{REVIEWS}"
    assert second["route"]["cluster"] == f"outbound|9080|v1|{REVIEWS}"


def test_undefined_subset_is_accepted_and_reported():
    vs = virtual_service(
        "reviews", ["reviews"], [{"route": [{"destination": {"host": "reviews", "subset": "v9"}}]}]
    )
    objects = bookinfo_world(vs)
    res, _, registry = sidecar(objects)
    cluster = vhost(res, f"{REVIEWS}:9080")["routes"][0]["route"]["cluster"]
    assert cluster == f"outbound|9080|v9|{REVIEWS}" and cluster not in res.clusters
    assert (
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in "
        'destinationrule not found: "reviews+v9"' in findings(objects, registry)
    )


def test_rewrite_redirect_direct_response_and_headers():
    vs = virtual_service(
        "reviews",
        ["reviews"],
        [
            {
                "match": [{"uri": {"prefix": "/old"}}],
                "redirect": {"uri": "/new", "authority": "ratings:9080", "redirectCode": 302},
            },
            {"match": [{"uri": {"prefix": "/gone"}}], "directResponse": {"status": 410}},
            {
                "rewrite": {"uri": "/v2/", "authority": "reviews-v2"},
                "headers": {
                    "request": {"set": {"x-a": "1"}, "add": {"x-b": "2"}, "remove": ["x-c"]},
                    "response": {"set": {"x-d": "4"}},
                },
                "route": [{"destination": {"host": "reviews"}}],
            },
        ],
    )
    res, _, _ = sidecar(bookinfo_world(vs))
    redirect, direct, rewrite = vhost(res, f"{REVIEWS}:9080")["routes"]
    assert redirect["redirect"] == {
        "path_redirect": "/new",
        "host_redirect": "ratings:9080",
        "response_code": "FOUND",
    }
    assert direct["direct_response"] == {"status": 410}
    assert rewrite["route"]["prefix_rewrite"] == "/v2/"
    assert rewrite["route"]["host_rewrite_literal"] == "reviews-v2"
    assert rewrite["request_headers_to_add"] == [
        {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        {"header": {"key": "x-b", "value": "2"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"},
    ]
    assert rewrite["request_headers_to_remove"] == ["x-c"]
    assert rewrite["response_headers_to_add"][0]["header"] == {"key": "x-d", "value": "4"}


def test_export_to_own_namespace_hides_a_virtual_service():
    vs = virtual_service(
        "reviews",
        ["reviews.default.svc.cluster.local"],
        [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}],
        exportTo=["."],
    )
    objects = bookinfo_world(vs, m.namespace("other"), *m.sleep("other"))
    mine, _, _ = sidecar(objects)
    theirs, _, _ = sidecar(objects, namespace="other")
    assert vhost(mine, f"{REVIEWS}:9080")["routes"][0]["route"]["cluster"].startswith(
        "outbound|9080|v3|"
    )
    assert vhost(theirs, f"{REVIEWS}:9080")["routes"][0]["route"]["cluster"] == (
        f"outbound|9080||{REVIEWS}"
    )


def test_gateway_listener_routes_and_host_matching():
    gw, vs = m.bookinfo_gateway(hosts=("bookinfo.app",))
    res = gateway(replace_kind(bookinfo_world(), gw, vs))
    assert set(res.listeners) == {"0.0.0.0_8080"}
    addr = res.listeners["0.0.0.0_8080"]["address"]["socket_address"]
    assert addr == {"address": "127.0.0.1", "port_value": 8080}
    [vh] = res.routes["http.8080"]["virtual_hosts"]
    assert vh["name"] == "bookinfo.app:80"
    assert vh["domains"] == ["bookinfo.app", "bookinfo.app:*"]  # any other Host: 404
    clusters = {r["route"]["cluster"] for r in vh["routes"]}
    assert clusters == {"outbound|9080||productpage.default.svc.cluster.local"}


def test_gateway_binding_needs_the_gateway_name():
    gw, vs = m.bookinfo_gateway()
    vs = {**vs, "spec": {**vs["spec"], "gateways": ["istio-system/bookinfo-gateway"]}}
    res = gateway(replace_kind(bookinfo_world(), gw, vs))
    assert res.routes["http.8080"]["virtual_hosts"] == []
    vs["spec"]["gateways"] = ["default/bookinfo-gateway"]
    res = gateway(replace_kind(bookinfo_world(), gw, vs))
    assert len(res.routes["http.8080"]["virtual_hosts"]) == 1


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ALLOW_ANY", {"route": {"cluster": "PassthroughCluster", "timeout": "0s"}}),
        ("REGISTRY_ONLY", {"direct_response": {"status": 502}}),
    ],
)
def test_outbound_traffic_policy_catch_all(mode, expected):
    objects = bookinfo_world(mesh_config(f"outboundTrafficPolicy:\n  mode: {mode}\n"))
    res, _, _ = sidecar(objects)
    last = res.routes["http_proxy"]["virtual_hosts"][-1]
    assert last["domains"] == ["*"]
    assert {k: v for k, v in last["routes"][0].items() if k not in ("name", "match")} == expected


def test_wildcard_virtual_service_host_applies_when_no_exact_one():
    wild = virtual_service(
        "all", ["*.default.svc.cluster.local"], [{"route": [{"destination": {"host": "ratings"}}]}]
    )
    exact = virtual_service(
        "reviews", ["reviews"], [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]
    )
    res, _, _ = sidecar(bookinfo_world(wild, exact))
    assert vhost(res, "details.default.svc.cluster.local:9080")["routes"][0]["route"][
        "cluster"
    ] == ("outbound|9080||ratings.default.svc.cluster.local")
    assert vhost(res, f"{REVIEWS}:9080")["routes"][0]["route"]["cluster"] == (
        f"outbound|9080|v2|{REVIEWS}"
    )


def test_cors_policy_per_route_and_filter_order():
    vs = virtual_service(
        "reviews",
        ["reviews"],
        [
            {
                "corsPolicy": {
                    "allowOrigins": [{"exact": "https://example.com"}, {"regex": ".*\\.lab"}],
                    "allowMethods": ["GET", "POST"],
                    "allowHeaders": ["x-a"],
                    "exposeHeaders": ["x-b"],
                    "maxAge": "24h",
                    "allowCredentials": True,
                },
                "route": [{"destination": {"host": "reviews"}}],
            }
        ],
    )
    res, _, _ = sidecar(bookinfo_world(vs))
    cors = vhost(res, f"{REVIEWS}:9080")["routes"][0]["typed_per_filter_config"][
        "envoy.filters.http.cors"
    ]
    assert cors["allow_origin_string_match"] == [
        {"exact": "https://example.com"},
        {"safe_regex": {"regex": ".*\\.lab"}},
    ]
    assert (cors["allow_methods"], cors["max_age"], cors["allow_credentials"]) == (
        "GET,POST",
        "86400",
        True,
    )
    hcm = res.listeners["virtualOutbound"]["filter_chains"][0]["filters"][0]["typed_config"]
    assert [f["name"].rsplit(".", 1)[1] for f in hcm["http_filters"]] == [
        "dynamic_forward_proxy",
        "cors",
        "fault",
        "router",
    ]


def test_sidecar_resource_scopes_egress_and_outbound_policy():
    def sidecar_obj(name, hosts, mode=None, selector=None):
        spec: dict = {"egress": [{"hosts": hosts}]}
        if mode:
            spec["outboundTrafficPolicy"] = {"mode": mode}
        if selector:
            spec["workloadSelector"] = {"labels": selector}
        return {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Sidecar",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }

    namespace_wide = sidecar_obj("default", ["./*"], mode="REGISTRY_ONLY")
    for_sleep = sidecar_obj("sleep", ["other/*"], selector={"app": "sleep"})
    objects = bookinfo_world(m.namespace("other"), *m.httpbin("other"), namespace_wide)
    m.validate_objects([*objects, for_sleep])
    res, _, _ = sidecar(objects, app="productpage")
    names = {vh["name"] for vh in res.routes["http_proxy"]["virtual_hosts"]}
    assert f"{REVIEWS}:9080" in names and "httpbin.other.svc.cluster.local:8000" not in names
    assert "outbound|8000||httpbin.other.svc.cluster.local" not in res.clusters
    assert res.routes["http_proxy"]["virtual_hosts"][-1]["name"] == "block_all"
    res, _, _ = sidecar([*objects, for_sleep])  # the workload's own Sidecar wins
    names = {vh["name"] for vh in res.routes["http_proxy"]["virtual_hosts"]}
    assert names == {"httpbin.other.svc.cluster.local:8000", "allow_any"}


def test_outbound_connections_leave_from_the_pod_ip():
    from istiolab.local.bootstrap import bootstrap

    res, proxy, _ = sidecar(bookinfo_world())
    # once, in the bootstrap: the xDS clusters stay identical for every proxy of a scope
    bind = bootstrap(proxy, SETTINGS)["cluster_manager"]["upstream_bind_config"]
    assert bind == {"source_address": {"address": proxy.pod.ip, "port_value": 0}}
    assert not any("upstream_bind_config" in c for c in res.clusters.values())
    gateway_proxy = Proxy("router", gateway_pod(SETTINGS))
    bind = bootstrap(gateway_proxy, SETTINGS)["cluster_manager"]["upstream_bind_config"]
    assert bind["source_address"]["address"] == SETTINGS.gateway_pod_ip


def test_shared_index_gives_the_same_resources_and_shares_clusters():
    objects = bookinfo_world()
    registry, _ = build_registry(objects, SETTINGS, {})
    index = MeshIndex(objects, registry, SETTINGS)
    pods = [p for p in registry.pods if p.sidecar]
    shared = [
        build_resources(objects, registry, Proxy("sidecar", p), SETTINGS, index=index) for p in pods
    ]
    alone = [build_resources(objects, registry, Proxy("sidecar", p), SETTINGS) for p in pods]
    assert shared == alone
    name = "outbound|9080||reviews.default.svc.cluster.local"
    assert shared[0].clusters[name] is shared[1].clusters[name]  # built once per push


def test_no_inbound_listener_below_1024_when_the_runtime_cannot_bind_them():
    # the runtime's finding arrives in the settings; translation never probes the host
    unprivileged = replace(SETTINGS, privileged_ports=False)
    res, proxy, _ = sidecar(bookinfo_world(), settings=unprivileged)  # sleep: service port 80
    assert set(res.listeners) == {"virtualOutbound"}
    assert not any(name.startswith("inbound|") for name in res.clusters)
    res, proxy, _ = sidecar(bookinfo_world(), app="productpage", settings=unprivileged)
    assert f"{proxy.pod.ip}_9080" in res.listeners  # ports from 1024 up are still captured
    for privileged in (True, None):  # None: not decided yet, every port counts as bindable
        res, proxy, _ = sidecar(
            bookinfo_world(), settings=replace(SETTINGS, privileged_ports=privileged)
        )
        assert set(res.listeners) == {"virtualOutbound", f"{proxy.pod.ip}_80"}


def test_destination_header_operations():
    single = virtual_service(
        "reviews",
        ["reviews"],
        [
            {
                "headers": {"request": {"set": {"x-route": "1"}}},
                "route": [
                    {
                        "destination": {"host": "reviews"},
                        "headers": {"request": {"set": {"x-dest": "2"}}},
                    }
                ],
            }
        ],
    )
    res, _, _ = sidecar(bookinfo_world(single))
    route = vhost(res, f"{REVIEWS}:9080")["routes"][0]
    assert [h["header"]["key"] for h in route["request_headers_to_add"]] == ["x-route", "x-dest"]
    split = virtual_service(
        "reviews",
        ["reviews"],
        [
            {
                "route": [
                    {
                        "destination": {"host": "reviews", "subset": "v1"},
                        "weight": 50,
                        "headers": {"response": {"remove": ["x-gone"]}},
                    },
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50},
                ]
            }
        ],
    )
    res, _, _ = sidecar(bookinfo_world(split))
    first = vhost(res, f"{REVIEWS}:9080")["routes"][0]["route"]["weighted_clusters"]["clusters"][0]
    assert first["response_headers_to_remove"] == ["x-gone"]


def _dest(subset: str = "", weight: int | None = None) -> dict:
    d: dict = {"destination": {"host": "reviews", **({"subset": subset} if subset else {})}}
    return d if weight is None else {**d, "weight": weight}


@pytest.mark.parametrize(
    ("http", "operation"),
    [
        # one destination cluster: its host and port, then the match's path
        ([{"route": [_dest()]}], f"{REVIEWS}:9080/*"),
        ([{"route": [_dest("v2")]}], f"{REVIEWS}:9080/*"),
        ([{"match": [{"uri": {"prefix": "/api"}}], "route": [_dest()]}], f"{REVIEWS}:9080/api*"),
        ([{"match": [{"uri": {"exact": "/login"}}], "route": [_dest()]}], f"{REVIEWS}:9080/login"),
        (
            [{"match": [{"uri": {"regex": "/r/[0-9]+"}}], "route": [_dest()]}],
            f"{REVIEWS}:9080/r/[0-9]+",
        ),
        # several (weighted) clusters: the VirtualService's name stands for the host
        ([{"route": [_dest("v1", 50), _dest("v3", 50)]}], "reviews-split:9080/*"),
        (
            [{"match": [{"uri": {"prefix": "/"}}], "route": [_dest("v1", 90), _dest("v2", 10)]}],
            "reviews-split:9080/*",
        ),
    ],
)
def test_route_decorator_operation_is_istios(http, operation):
    vs = virtual_service("reviews-split", ["reviews"], http)
    res, _, _ = sidecar(bookinfo_world(vs))
    [route] = vhost(res, f"{REVIEWS}:9080")["routes"]
    assert route["decorator"] == {"operation": operation}


@pytest.mark.parametrize(
    ("app", "port", "operation"),
    [
        # a service's default outbound route: <service FQDN>:<service port>/*
        ("sleep", None, "ratings.default.svc.cluster.local:9080/*"),
        # inbound: the service the port belongs to, at its service port (not the target port)
        ("httpbin", 8080, "httpbin.default.svc.cluster.local:8000/*"),
        ("productpage", 9080, "productpage.default.svc.cluster.local:9080/*"),
    ],
)
def test_default_and_inbound_decorator_operations(app, port, operation):
    res, proxy, _ = sidecar(bookinfo_world(), app=app)
    if port is None:
        [route] = vhost(res, "ratings.default.svc.cluster.local:9080")["routes"]
    else:
        hcm = res.listeners[f"{proxy.pod.ip}_{port}"]["filter_chains"][0]["filters"][0]
        [route] = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    assert route["decorator"] == {"operation": operation}
