"""Traffic and security presets: each validates, carries the seeds' values, and rejects
nonsense parameters with a message naming the parameter and what is allowed."""

from __future__ import annotations

import json

import pytest

from istiolab.errors import ParameterError
from istiolab.manifests import (
    SECURITY_PRESETS,
    TRAFFIC_PRESETS,
    security_preset,
    traffic_preset,
    validate_objects,
)


@pytest.mark.parametrize("name", TRAFFIC_PRESETS)
def test_every_traffic_preset_validates(name):
    objs = traffic_preset(name, namespace="lab")
    assert objs
    validate_objects(objs, source=name)
    assert all(o["metadata"]["namespace"] == "lab" for o in objs)
    assert all(o["apiVersion"] == "networking.istio.io/v1" for o in objs)


@pytest.mark.parametrize("name", SECURITY_PRESETS)
def test_every_security_preset_validates(name):
    objs = security_preset(name)
    assert objs
    validate_objects(objs, source=name)
    assert all(o["apiVersion"] == "security.istio.io/v1" for o in objs)


def test_all_v1():
    objs = traffic_preset("all-v1")
    assert {o["metadata"]["name"] for o in objs} == {"productpage", "reviews", "ratings", "details"}
    for o in objs:
        assert o["spec"]["http"] == [
            {"route": [{"destination": {"host": o["metadata"]["name"], "subset": "v1"}}]}
        ]


def test_user_route_jason_to_v2():
    (vs,) = traffic_preset("user-route")
    assert vs["spec"]["http"] == [
        {
            "match": [{"headers": {"end-user": {"exact": "jason"}}}],
            "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
        },
        {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]},
    ]
    (vs3,) = traffic_preset("user-route", default_subset="v3")
    assert vs3["spec"]["http"][1]["route"][0]["destination"]["subset"] == "v3"


@pytest.mark.parametrize("weights", [(99, 1), (50, 50), (90, 10)])
def test_weighted(weights):
    (vs,) = traffic_preset("weighted", weights=weights)
    validate_objects([vs])
    route = vs["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == list(
        zip(("v1", "v2"), weights, strict=True)
    )


def test_weighted_three_ways():
    (vs,) = traffic_preset("weighted", subsets=["v1", "v2", "v3"], weights=[80, 10, 10])
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [80, 10, 10]


def test_weights_not_summing_to_100_are_rejected():
    with pytest.raises(ParameterError) as exc:
        traffic_preset("weighted", weights=(90, 20))
    assert str(exc.value) == (
        "weights=(90, 20) is not allowed: weights must sum to 100 (these sum to 110)"
    )
    with pytest.raises(ParameterError, match=r"weights=\(100,\) .* exactly 2 integer weights"):
        traffic_preset("weighted", weights=(100,))
    with pytest.raises(ParameterError, match=r"weights=\(110, -10\) .* non-negative integer"):
        traffic_preset("weighted", weights=(110, -10))


def test_header_route_device_android():
    (vs,) = traffic_preset("header-route")
    assert vs["spec"]["http"][0]["match"] == [{"headers": {"device": {"exact": "android"}}}]
    with pytest.raises(ParameterError, match=r"header='Device' .* lower-case HTTP header"):
        traffic_preset("header-route", header="Device")


def test_fault_delay_and_abort_for_jason():
    (delay,) = traffic_preset("fault-delay")
    first, rest = delay["spec"]["http"]
    assert first["match"] == [{"headers": {"end-user": {"exact": "jason"}}}]
    assert first["fault"] == {"delay": {"percentage": {"value": 100}, "fixedDelay": "7s"}}
    assert rest == {"route": [{"destination": {"host": "ratings", "subset": "v1"}}]}

    (abort,) = traffic_preset("fault-abort", status=503, percent=50, user=None)
    (only,) = abort["spec"]["http"]
    assert only["fault"] == {"abort": {"percentage": {"value": 50}, "httpStatus": 503}}
    assert "match" not in only


def test_fault_parameters_are_checked():
    with pytest.raises(ParameterError, match=r"percent=150 is not allowed: a number from 0 to 100"):
        traffic_preset("fault-delay", percent=150)
    with pytest.raises(ParameterError, match=r"delay='-5s' is not allowed: a duration"):
        traffic_preset("fault-delay", delay="-5s")
    with pytest.raises(
        ParameterError, match=r"status=700 is not allowed: an integer from 200 to 599"
    ):
        traffic_preset("fault-abort", status=700)


def test_timeout_and_retries():
    reviews, ratings = traffic_preset("timeout")
    assert reviews["spec"]["http"][0]["timeout"] == "0.5s"
    assert ratings["spec"]["http"][0]["fault"]["delay"]["fixedDelay"] == "2s"
    assert len(traffic_preset("timeout", ratings_delay=None)) == 1
    (vs,) = traffic_preset("retries", attempts=5, per_try_timeout="1s", retry_on="5xx")
    assert vs["spec"]["http"][0]["retries"] == {
        "attempts": 5,
        "perTryTimeout": "1s",
        "retryOn": "5xx",
    }


def test_retries_preset_checks_attempts_and_retry_on():
    """attempts 0 would turn retries off (Istio refuses it with a perTryTimeout); retry_on is
    a string or a list (`--set traffic.retry_on=gateway-error,503` gives a list), each entry
    an Envoy retry condition or an HTTP status code."""
    with pytest.raises(ParameterError, match=r"^attempts=0 is not allowed: an integer >= 1$"):
        traffic_preset("retries", attempts=0)
    (vs,) = traffic_preset("retries", retry_on=["gateway-error", 503])
    assert vs["spec"]["http"][0]["retries"]["retryOn"] == "gateway-error,503"
    for bad in ("5xx,bogus", "5xx, gateway-error", [], 503):
        with pytest.raises(ParameterError) as err:
            traffic_preset("retries", retry_on=bad)
        assert str(err.value).startswith(
            f"retry_on={bad!r} is not allowed: comma-separated HTTP status codes and Envoy "
            "retry conditions: 5xx, gateway-error, reset, "
        )


def test_circuit_breaker_defaults_match_the_task():
    (rule,) = traffic_preset("circuit-breaker")
    assert rule["metadata"]["name"] == "httpbin"
    assert rule["spec"] == {
        "host": "httpbin",
        "trafficPolicy": {
            "connectionPool": {
                "tcp": {"maxConnections": 1},
                "http": {"http1MaxPendingRequests": 1, "maxRequestsPerConnection": 1},
            },
            "outlierDetection": {
                "consecutive5xxErrors": 1,
                "interval": "1s",
                "baseEjectionTime": "3m",
                "maxEjectionPercent": 100,
            },
        },
    }


def test_negative_limits_are_rejected():
    with pytest.raises(ParameterError) as exc:
        traffic_preset("circuit-breaker", max_connections=-1)
    assert str(exc.value) == "max_connections=-1 is not allowed: an integer >= 1"
    with pytest.raises(ParameterError, match=r"max_pending=-5 is not allowed: an integer >= 1"):
        traffic_preset("circuit-breaker", max_pending=-5)
    with pytest.raises(ParameterError, match=r"max_ejection_percent=101 .* from 0 to 100"):
        traffic_preset("circuit-breaker", max_ejection_percent=101)
    with pytest.raises(ParameterError, match=r"attempts=-1 is not allowed: an integer >= 1"):
        traffic_preset("retries", attempts=-1)


def test_service_entry_and_mirror():
    (se,) = traffic_preset("service-entry", hosts=["api.openweathermap.org"])
    assert se["spec"] == {
        "hosts": ["api.openweathermap.org"],
        "ports": [{"number": 80, "name": "http-80", "protocol": "HTTP"}],
        "resolution": "DNS",
        "location": "MESH_EXTERNAL",
    }
    vs, dr = traffic_preset("mirror")
    (route,) = vs["spec"]["http"]
    assert route["route"] == [{"destination": {"host": "httpbin", "subset": "v1"}, "weight": 100}]
    assert route["mirror"] == {"host": "httpbin", "subset": "v2"}
    assert route["mirrorPercentage"] == {"value": 100}
    assert [s["name"] for s in dr["spec"]["subsets"]] == ["v1", "v2"]
    with pytest.raises(ParameterError, match=r"mirror_subset='v1' .* other than 'v1'"):
        traffic_preset("mirror", mirror_subset="v1")


def test_unknown_preset_and_parameter():
    with pytest.raises(ParameterError) as exc:
        traffic_preset("canary")
    assert str(exc.value).startswith("traffic_preset='canary' is not allowed: one of all-v1, ")
    assert "circuit-breaker" in str(exc.value)
    with pytest.raises(ParameterError, match=r"security_preset='open' .* peer-authentication"):
        security_preset("open")
    with pytest.raises(ParameterError) as exc:
        traffic_preset("weighted", weight=(50, 50))
    assert str(exc.value) == (
        "weight=(50, 50) is not allowed: traffic preset 'weighted' takes: host, subsets, weights"
    )
    with pytest.raises(ParameterError, match=r"subsets='v9' .* a subset of reviews: v1, v2, v3"):
        traffic_preset("weighted", subsets=["v1", "v9"])


@pytest.mark.parametrize(
    ("scope", "namespace"), [("mesh", "istio-system"), ("namespace", "foo"), ("workload", "foo")]
)
@pytest.mark.parametrize("mode", ["STRICT", "PERMISSIVE", "DISABLE"])
def test_peer_authentication_scopes(scope, namespace, mode):
    app = "reviews" if scope == "workload" else None
    (pa,) = security_preset("peer-authentication", namespace="foo", scope=scope, mode=mode, app=app)
    validate_objects([pa])
    assert pa["metadata"]["namespace"] == namespace
    assert pa["spec"]["mtls"] == {"mode": mode}
    assert ("selector" in pa["spec"]) == (scope == "workload")


def test_peer_authentication_rejects_bad_values():
    with pytest.raises(
        ParameterError, match=r"mode='strict' .* one of STRICT, PERMISSIVE, DISABLE"
    ):
        security_preset("peer-authentication", mode="strict")
    with pytest.raises(
        ParameterError, match=r"scope='cluster' .* one of mesh, namespace, workload"
    ):
        security_preset("peer-authentication", scope="cluster")
    with pytest.raises(ParameterError, match=r"app=None .* \(scope 'workload'\)"):
        security_preset("peer-authentication", scope="workload")


def test_authorization_policies():
    (nothing,) = security_preset("allow-nothing")
    assert nothing["spec"] == {}
    (deny,) = security_preset("deny-all", app="httpbin")
    assert deny["spec"] == {
        "selector": {"matchLabels": {"app": "httpbin"}},
        "action": "DENY",
        "rules": [{}],
    }
    (bar,) = security_preset("deny-namespace", namespace="bookinfo")
    assert bar["metadata"] == {"name": "authdenypolicy", "namespace": "bookinfo"}
    assert bar["spec"] == {
        "action": "DENY",
        "rules": [
            {
                "from": [{"source": {"namespaces": ["bar"]}}],
                "to": [{"operation": {"methods": ["POST"]}}],
            }
        ],
    }
    (sa,) = security_preset("allow-service-account", methods=["GET", "HEAD"])
    rule = sa["spec"]["rules"][0]
    assert rule["from"] == [
        {"source": {"principals": ["cluster.local/ns/default/sa/bookinfo-productpage"]}}
    ]
    assert rule["to"] == [{"operation": {"methods": ["GET", "HEAD"]}}]
    with pytest.raises(ParameterError, match=r"methods=\('FETCH',\) .* HTTP methods among GET"):
        security_preset("allow-service-account", methods=["FETCH"])


def test_request_authentication_with_jwks_or_uri():
    (uri,) = security_preset(
        "request-authentication",
        namespace="istio-system",
        selector={"istio": "ingressgateway"},
        jwks_uri="https://example.test/jwks.json",
    )
    assert uri["spec"] == {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "jwtRules": [
            {"issuer": "testing@secure.istio.io", "jwksUri": "https://example.test/jwks.json"}
        ],
    }
    keys = {"keys": [{"kty": "RSA", "e": "AQAB", "n": "xyz", "kid": "k1"}]}
    ra, required = security_preset("request-authentication", jwks=keys, require=True)
    validate_objects([ra, required])
    assert json.loads(ra["spec"]["jwtRules"][0]["jwks"]) == keys
    assert required["spec"]["rules"] == [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]
    with pytest.raises(ParameterError, match=r"only one of jwks .* or jwks_uri"):
        security_preset("request-authentication", jwks=keys, jwks_uri="https://x.test/j")
    with pytest.raises(ParameterError, match=r"a JWK set: \{\"keys\": \[...\]\}"):
        security_preset("request-authentication", jwks={"kty": "RSA"})
