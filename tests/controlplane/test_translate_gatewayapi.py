"""Gateway API -> Envoy (pure): Gateways get their own proxy, routes become the same Envoy
routes as their VirtualService twins; status conditions with Istio's reasons; validation."""

from __future__ import annotations

import pytest

from istiolab.local.model import Proxy
from istiolab.local.registry import build_registry, is_gateway_proxy
from istiolab.local.translate import build_resources
from istiolab.local.translate.gatewayapi import expand
from istiolab.local.translate.gatewayapi_status import with_status
from istiolab.manifests import check_objects
from istiolab.manifests.gatewayapi import bookinfo_gateway_api, bookinfo_versions, gateway

from .helpers import SETTINGS, bookinfo_world, sidecar, vhost

GW = "gateway.networking.k8s.io/v1"
REVIEWS = "reviews.default.svc.cluster.local"


def route(name: str, spec: dict, kind: str = "HTTPRoute", namespace: str = "default") -> dict:
    api = GW if kind in ("HTTPRoute", "GRPCRoute") else "gateway.networking.k8s.io/v1alpha2"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def world(*extra: dict) -> list[dict]:
    return bookinfo_world(*bookinfo_versions(), *bookinfo_gateway_api(), *extra)


def gateway_proxy(objects: list[dict], name: str = "bookinfo-gateway"):
    registry, _ = build_registry(objects, SETTINGS, {})
    pod = next(p for p in registry.pods if p.deployment == f"{name}-istio")
    assert is_gateway_proxy(pod) and not pod.sidecar
    proxy = Proxy("router", pod)
    return build_resources(objects, registry, proxy, SETTINGS), pod, registry


def test_gateway_gets_its_own_proxy_listening_on_its_pod_ip():
    res, pod, registry = gateway_proxy(world())
    assert registry.service("bookinfo-gateway-istio", "default") is not None
    listener = res.listeners["0.0.0.0_8080"]
    assert listener["address"]["socket_address"] == {"address": pod.ip, "port_value": 8080}
    vh = vhost(res, "*:80")
    paths = [r["match"] for r in vh["routes"]]
    assert {"path": "/productpage"} in paths and {"prefix": "/static"} in paths
    assert (
        vh["routes"][0]["route"]["cluster"]
        == "outbound|9080||productpage.default.svc.cluster.local"
    )


def test_valid_objects_pass_validation():
    assert check_objects([*bookinfo_versions(), *bookinfo_gateway_api()]) == []


@pytest.mark.parametrize(
    ("doc_change", "path", "text"),
    [
        (
            lambda d: d["spec"]["rules"][0].update(backendref=[]),
            "spec.rules[0].backendref",
            "did you mean backendRefs?",
        ),
        (
            lambda d: d["spec"]["rules"][0]["matches"][0]["path"].update(type="Prefix"),
            "spec.rules[0].matches[0].path.type",
            "'Prefix' is not one of",
        ),
        (
            lambda d: d["spec"]["parentRefs"][0].pop("name"),
            "spec.parentRefs[0].name",
            "required field is missing",
        ),
        (
            lambda d: d["spec"]["rules"][0]["backendRefs"][0].update(port="9080"),
            "spec.rules[0].backendRefs[0].port",
            "is not an integer",
        ),
    ],
)
def test_validation_names_the_field(doc_change, path, text):
    doc = bookinfo_gateway_api()[1]
    doc_change(doc)
    [finding] = check_objects([doc])
    assert finding.path == path and text in f"{finding.message} {finding.hint}"


def test_unserved_version_is_refused():
    doc = route("r", {"rules": [{"backendRefs": [{"name": "x", "port": 1}]}]}, kind="TCPRoute")
    doc["apiVersion"] = "gateway.networking.k8s.io/v1"
    [finding] = check_objects([doc])
    assert finding.path == "apiVersion" and "v1alpha2" in finding.hint


def test_weighted_backend_refs_split_like_virtual_service_weights():
    split = route(
        "reviews",
        {
            "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": "reviews-v1", "port": 9080, "weight": 80},
                        {"name": "reviews-v3", "port": 9080, "weight": 20},
                    ]
                }
            ],
        },
    )
    res, _, _ = sidecar(world(split), app="productpage")
    [r] = vhost(res, f"{REVIEWS}:9080")["routes"]
    clusters = r["route"]["weighted_clusters"]["clusters"]
    assert [(c["name"], c["weight"]) for c in clusters] == [
        ("outbound|9080||reviews-v1.default.svc.cluster.local", 80),
        ("outbound|9080||reviews-v3.default.svc.cluster.local", 20),
    ]


def test_matches_filters_and_timeouts():
    rule = {
        "matches": [
            {
                "path": {"type": "PathPrefix", "value": "/api"},
                "headers": [{"name": "End-User", "value": "jason"}],
                "queryParams": [{"type": "RegularExpression", "name": "q", "value": "a.*"}],
                "method": "GET",
            }
        ],
        "filters": [
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {
                    "set": [{"name": "x-a", "value": "1"}],
                    "remove": ["x-b"],
                },
            },
            {
                "type": "ResponseHeaderModifier",
                "responseHeaderModifier": {"add": [{"name": "x-c", "value": "2"}]},
            },
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}},
            },
            {
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": {"name": "reviews-v2", "port": 9080},
                    "percent": 50,
                },
            },
        ],
        "timeouts": {"request": "3s", "backendRequest": "1s"},
        "backendRefs": [{"name": "reviews-v1", "port": 9080}],
    }
    r = route(
        "reviews",
        {"parentRefs": [{"kind": "Service", "group": "", "name": "reviews"}], "rules": [rule]},
    )
    res, _, _ = sidecar(world(r), app="productpage")
    [envoy_route] = vhost(res, f"{REVIEWS}:9080")["routes"]
    match = envoy_route["match"]
    assert match["prefix"] == "/api"
    assert {"name": ":method", "string_match": {"exact": "GET"}} in match["headers"]
    assert {"name": "end-user", "string_match": {"exact": "jason"}} in match["headers"]
    assert match["query_parameters"] == [
        {"name": "q", "string_match": {"safe_regex": {"regex": "a.*"}}}
    ]
    action = envoy_route["route"]
    assert action["timeout"] == "3s" and action["retry_policy"]["per_try_timeout"] == "1s"
    assert action["prefix_rewrite"] == "/v2"
    [mirror] = action["request_mirror_policies"]
    assert mirror["cluster"] == "outbound|9080||reviews-v2.default.svc.cluster.local"
    assert mirror["runtime_fraction"]["default_value"]["numerator"] in (50, 500000)
    assert envoy_route["request_headers_to_remove"] == ["x-b"]
    assert envoy_route["response_headers_to_add"][0]["header"] == {"key": "x-c", "value": "2"}


def test_redirect_filter():
    rule = {
        "filters": [
            {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
        ]
    }
    r = route(
        "redir",
        {"parentRefs": [{"name": "bookinfo-gateway"}], "hostnames": ["a.example"], "rules": [rule]},
    )
    res, _, _ = gateway_proxy(world(r))
    [envoy_route] = vhost(res, "a.example:80")["routes"]
    assert envoy_route["redirect"] == {"scheme_redirect": "https"}


def test_status_of_gateway_and_routes():
    missing = route(
        "broken",
        {
            "parentRefs": [{"name": "bookinfo-gateway"}],
            "rules": [{"backendRefs": [{"name": "nope", "port": 80}]}],
        },
    )
    other_ns = route(
        "other",
        {
            "parentRefs": [{"name": "bookinfo-gateway", "namespace": "default"}],
            "rules": [
                {"backendRefs": [{"name": "productpage", "namespace": "default", "port": 9080}]}
            ],
        },
        namespace="foo",
    )
    objects = world(missing, other_ns)
    registry, _ = build_registry(objects, SETTINGS, {})
    gw, ok, broken, other = with_status(
        [bookinfo_gateway_api()[0], bookinfo_gateway_api()[1], missing, other_ns], objects, registry
    )
    conditions = {c["type"]: c for c in gw["status"]["conditions"]}
    assert conditions["Programmed"]["status"] == "True"
    assert (
        "bookinfo-gateway-istio.default.svc.cluster.local:80" in conditions["Programmed"]["message"]
    )
    pod = next(p for p in registry.pods if p.deployment == "bookinfo-gateway-istio")
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": pod.ip}]
    assert gw["status"]["listeners"][0]["attachedRoutes"] == 2  # bookinfo and broken
    accepted, resolved = ok["status"]["parents"][0]["conditions"]
    assert (accepted["reason"], resolved["reason"]) == ("Accepted", "ResolvedRefs")
    _, resolved = broken["status"]["parents"][0]["conditions"]
    assert resolved["reason"] == "BackendNotFound"
    assert resolved["message"] == "backend(nope.default.svc.cluster.local) not found"
    accepted, _ = other["status"]["parents"][0]["conditions"]
    assert (accepted["status"], accepted["reason"]) == ("False", "NotAllowedByListeners")


def test_unresolved_backend_answers_500():
    broken = route(
        "broken",
        {
            "parentRefs": [{"name": "bookinfo-gateway"}],
            "hostnames": ["b.example"],
            "rules": [{"backendRefs": [{"name": "nope", "port": 80}]}],
        },
    )
    res, _, _ = gateway_proxy(world(broken))
    [envoy_route] = vhost(res, "b.example:80")["routes"]
    assert envoy_route["direct_response"] == {"status": 500}


def test_cross_namespace_backend_needs_reference_grant():
    r = route(
        "x",
        {
            "parentRefs": [{"name": "bookinfo-gateway"}],
            "hostnames": ["x.example"],
            "rules": [{"backendRefs": [{"name": "svc", "namespace": "other", "port": 80}]}],
        },
    )
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": "other"},
        "spec": {"selector": {"app": "svc"}, "ports": [{"name": "http", "port": 80}]},
    }
    grant = {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "allow", "namespace": "other"},
        "spec": {
            "from": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}
            ],
            "to": [{"group": "", "kind": "Service"}],
        },
    }

    def vs(objs):
        return next(
            o
            for o in expand(objs)
            if o["kind"] == "VirtualService" and o["metadata"]["name"].startswith("x-")
        )

    assert vs(world(r, svc))["spec"]["http"][0]["directResponse"] == {"status": 500}
    assert (
        vs(world(r, svc, grant))["spec"]["http"][0]["route"][0]["destination"]["host"]
        == "svc.other.svc.cluster.local"
    )


def test_gateway_of_another_class_is_left_alone():
    other = gateway("foreign")
    other["spec"]["gatewayClassName"] = "nginx"
    assert not any(
        o["kind"] == "Deployment" and o["metadata"]["name"] == "foreign-istio"
        for o in expand([other])
    )


def test_grpc_route_matches_service_and_method():
    r = route(
        "grpc",
        {
            "parentRefs": [{"name": "bookinfo-gateway"}],
            "hostnames": ["grpc.example"],
            "rules": [
                {
                    "matches": [
                        {"method": {"service": "helloworld.Greeter", "method": "SayHello"}}
                    ],
                    "backendRefs": [{"name": "reviews", "port": 9080}],
                }
            ],
        },
        kind="GRPCRoute",
    )
    res, _, _ = gateway_proxy(world(r))
    [envoy_route] = vhost(res, "grpc.example:80")["routes"]
    assert envoy_route["match"] == {"path": "/helloworld.Greeter/SayHello"}


def test_tls_passthrough_listener_routes_on_sni():
    gw = gateway("tls-gw")
    gw["spec"]["listeners"] = [
        {"name": "tls", "port": 443, "protocol": "TLS", "tls": {"mode": "Passthrough"},
         "allowedRoutes": {"namespaces": {"from": "Same"}}}
    ]  # fmt: skip
    tls = route(
        "tls",
        {
            "parentRefs": [{"name": "tls-gw"}],
            "hostnames": ["secure.example"],
            "rules": [{"backendRefs": [{"name": "reviews", "port": 9080}]}],
        },
        kind="TLSRoute",
    )
    res, _, _ = gateway_proxy(world(gw, tls), name="tls-gw")
    listener = res.listeners["0.0.0.0_8443"]
    [chain] = listener["filter_chains"]
    assert chain["filter_chain_match"] == {"server_names": ["secure.example"]}
    proxy = chain["filters"][0]["typed_config"]
    assert proxy["cluster"] == f"outbound|9080||{REVIEWS}"
    assert listener["listener_filters"][0]["name"] == "envoy.filters.listener.tls_inspector"
