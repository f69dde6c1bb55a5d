"""Telemetry in the translation (pure): the gRPC access log on every HCM and TCP proxy, the
Zipkin tracer and the Telemetry API's sampling and access-log switches."""

from __future__ import annotations

import pytest

from istiolab.local.translate.telemetry import HCM, TCP_PROXY, ZIPKIN_CLUSTER

from .helpers import SETTINGS, bookinfo_world, gateway, mesh_config, sidecar

TEL = "telemetry.istio.io/v1"


def telemetry(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": TEL, "kind": "Telemetry",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def filters(res, name: str) -> list[dict]:
    return [
        f["typed_config"]
        for listener in res.listeners.values()
        for chain in listener["filter_chains"]
        for f in chain["filters"]
        if f["name"] == name
    ]


def als(config: dict) -> list[dict]:
    return [log for log in config["access_log"] if "grpc" in log["name"]]


def test_every_hcm_and_tcp_proxy_streams_access_logs_to_the_control_plane():
    res, _, _ = sidecar(bookinfo_world(), app="productpage")
    directions = set()
    for listener in res.listeners.values():
        inbound = listener["traffic_direction"] == "INBOUND"
        for chain in listener["filter_chains"]:
            for f in chain["filters"]:
                if f["name"] not in (HCM, TCP_PROXY):
                    continue
                [log] = als(f["typed_config"])
                common = log["typed_config"]["common_config"]
                assert common["log_name"] == ("inbound" if inbound else "outbound")
                assert common["grpc_service"] == {"envoy_grpc": {"cluster_name": "xds-grpc"}}
                directions.add(common["log_name"])
    assert directions == {"inbound", "outbound"}
    assert res.clusters[ZIPKIN_CLUSTER]["load_assignment"]["endpoints"][0]["lb_endpoints"][0][
        "endpoint"
    ]["address"]["socket_address"] == {"address": SETTINGS.istiod_ip, "port_value": 9411}
    gw = gateway(bookinfo_world())
    for config in filters(gw, HCM):
        [log] = als(config)
        assert log["typed_config"]["common_config"]["log_name"] == "outbound"  # source reporter


def sampling(res) -> set:
    return {c.get("tracing", {}).get("random_sampling", {}).get("value") for c in filters(res, HCM)}


@pytest.mark.parametrize(
    ("extra", "app", "expected"),
    [
        ((), "productpage", {1.0}),  # Istio's default
        ((mesh_config("defaultConfig:\n  tracing:\n    sampling: 10\n"),), "productpage", {10.0}),
        ((telemetry("mesh", "istio-system", {"tracing": [{"randomSamplingPercentage": 100}]}),),
         "productpage", {100.0}),
        ((telemetry("mesh", "istio-system", {"tracing": [{"randomSamplingPercentage": 100}]}),
          telemetry("ns", "default", {"tracing": [{"randomSamplingPercentage": 50}]})),
         "productpage", {50.0}),  # namespace over root namespace
        ((telemetry("ns", "default", {"tracing": [{"randomSamplingPercentage": 50}]}),
          telemetry("wl", "default", {"selector": {"matchLabels": {"app": "reviews"}},
                                      "tracing": [{"randomSamplingPercentage": 5}]})),
         "reviews", {5.0}),  # workload over namespace
        ((telemetry("wl", "default", {"selector": {"matchLabels": {"app": "reviews"}},
                                      "tracing": [{"randomSamplingPercentage": 5}]}),),
         "productpage", {1.0}),  # a selector that does not match
        ((telemetry("off", "default", {"tracing": [{"disableSpanReporting": True}]}),),
         "productpage", {None}),
        ((mesh_config("enableTracing: false\n"),), "productpage", {None}),
        ((mesh_config("enableTracing: false\n"),
          telemetry("ns", "default", {"tracing": [{"randomSamplingPercentage": 50}]})),
         "productpage", {50.0}),  # a Telemetry resource asks for spans
    ],
)  # fmt: skip
def test_tracing_sampling_follows_the_telemetry_api(extra, app, expected):
    res, _, _ = sidecar(bookinfo_world(*extra), app=app)
    assert sampling(res) == expected
    if expected != {None}:
        provider = filters(res, HCM)[0]["tracing"]["provider"]
        assert provider["typed_config"]["collector_cluster"] == ZIPKIN_CLUSTER
        assert provider["typed_config"]["collector_endpoint"] == "/api/v2/spans"


def file_logs(res) -> list:
    return [
        log
        for c in filters(res, HCM)
        for log in c["access_log"]
        if log["name"] == "envoy.access_loggers.file"
    ]


def test_telemetry_access_logging_switches_the_file_log():
    off = telemetry("off", "default", {"accessLogging": [{"disabled": True}]})
    res, _, _ = sidecar(bookinfo_world(off), app="productpage")
    assert file_logs(res) == []
    assert all(als(c) for c in filters(res, HCM))  # metrics keep flowing
    on = telemetry("on", "default", {"accessLogging": [{"providers": [{"name": "envoy"}]}]})
    res, _, _ = sidecar(bookinfo_world(mesh_config('accessLogFile: ""\n'), on), app="productpage")
    assert file_logs(res) and all(
        log["typed_config"]["path"] == "/dev/stdout" for log in file_logs(res)
    )
    res, _, _ = sidecar(bookinfo_world(off), app="productpage", namespace="default")
    gw = gateway(bookinfo_world(off))  # a default-namespace Telemetry leaves the gateway alone
    assert all(
        log["name"] != "envoy.access_loggers.file" or log["typed_config"]["path"]
        for c in filters(gw, HCM)
        for log in c["access_log"]
    )
    assert any(log["name"] == "envoy.access_loggers.file" for c in filters(gw, HCM)
               for log in c["access_log"])  # fmt: skip


@pytest.mark.parametrize(
    ("override", "streams"),
    [
        ({"disabled": True}, False),
        (
            {"match": {"metric": "ALL_METRICS", "mode": "CLIENT_AND_SERVER"}, "disabled": True},
            False,
        ),
        ({"match": {"metric": "REQUEST_COUNT"}, "disabled": True}, True),  # others still count
        ({"match": {"mode": "CLIENT"}, "disabled": True}, True),  # the server side still reports
    ],
)
def test_metrics_disabled_for_everything_drops_the_access_log_stream(override, streams):
    off = telemetry("off", "istio-system", {"metrics": [{"overrides": [override]}]})
    res, _, _ = sidecar(bookinfo_world(off), app="productpage")
    assert all(bool(als(c)) == streams for c in filters(res, HCM))
    assert all(bool(als(c)) == streams for c in filters(res, TCP_PROXY) if "access_log" in c)
