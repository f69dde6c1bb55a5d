"""KubeBackend's pure parts: curl's and fortio's output, istiod's syncz, Pod objects.

Inputs are what the upstream tools print: ``curl -s -S -i -w '\\n%{http_code} %{time_total}'``
(status line, CRLF headers, blank line, body, then the write-out), curl's exit codes (7
failed to connect, 28 timeout, 56 recv failure), fortio's ``-json`` result, CSDS
ClientConfigs, and a Deployment's pod (owned by ReplicaSet ``<deployment>-<template hash>``).
"""

from __future__ import annotations

import pytest

from istiolab.backends.kube import parse_curl, parse_syncz, pod_from_object
from istiolab.workloads.fortiojson import from_json, to_json
from istiolab.workloads.loadgen import LoadResult, Sample


def test_curl_output_with_headers_and_write_out():
    out = (
        b"HTTP/1.1 418 I'm a teapot\r\nserver: envoy\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
        b"-=[ teapot ]=-\n418 0.004213"
    )
    got = parse_curl(0, out, b"", 1.0)
    assert (got.status, got.body, got.error, got.elapsed) == (
        418,
        b"-=[ teapot ]=-",
        None,
        0.004213,
    )
    assert got.headers == {"server": "envoy", "x-a": "1,2"}


@pytest.mark.parametrize(
    ("code", "stderr", "error"),
    [
        (56, b"curl: (56) Recv failure: Connection reset by peer", "reset"),
        (7, b"curl: (7) Failed to connect", "refused"),
        (28, b"curl: (28) Operation timed out", "timeout"),
        (52, b"curl: (52) Empty reply from server", "empty"),
    ],
)
def test_curl_failures_keep_curls_exit_code(code, stderr, error):
    got = parse_curl(code, b"\n000 0.001", stderr, 1.0)
    assert (got.status, got.error, got.exit_code) == (0, error, code)
    assert got.detail == stderr.decode()


def test_fortio_json_round_trip_keeps_counts_codes_and_rate():
    samples = [Sample(200, 0.0015)] * 7 + [Sample(503, 0.0004)] * 3
    result = LoadResult("http://httpbin:8000/get", 10, 2, None, samples, elapsed=0.5, sockets=4)
    data = to_json(result)
    assert data["RetCodes"] == {"200": 7, "503": 3} and data["RequestedQPS"] == "max"
    assert data["ActualDuration"] == 500_000_000 and data["NumThreads"] == 2
    back = from_json(data)
    assert back.codes == {200: 7, 503: 3} and back.sockets == 4
    assert back.actual_qps == pytest.approx(20.0) and back.concurrency == 2
    assert sum(b["Count"] for b in data["DurationHistogram"]["Data"]) == 10


GATEWAY = "istio-ingressgateway-x"


def test_syncz_client_configs():
    data = [
        {
            "node": {"id": "sidecar~10.0.0.7~sleep-1.default~default.svc.cluster.local"},
            "genericXdsConfigs": [
                {
                    "typeUrl": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                    "configStatus": "SYNCED",
                },
                {
                    "typeUrl": "type.googleapis.com/envoy.config.listener.v3.Listener",
                    "configStatus": "STALE",
                },
            ],
        },
        {
            "node": {
                "id": f"router~10.0.0.9~{GATEWAY}.istio-system~istio-system.svc.cluster.local"
            },
            "genericXdsConfigs": [
                {
                    "typeUrl": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                    "configStatus": "SYNCED",
                },
                {
                    "typeUrl": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
                    "configStatus": "NOT_SENT",
                },
            ],
        },
    ]
    sleep, gateway = parse_syncz(data)
    assert (sleep.name, sleep.kind, sleep.synced) == ("sleep-1.default", "sidecar", False)
    assert sleep.detail == {"CDS": "SYNCED", "LDS": "STALE"}
    assert (gateway.kind, gateway.synced, gateway.detail["RDS"]) == ("gateway", True, "NOT SENT")


def test_pod_object_as_typed_pod():
    obj = {
        "metadata": {
            "name": "reviews-v1-7d8f9-abcde",
            "namespace": "default",
            "labels": {"app": "reviews", "version": "v1", "pod-template-hash": "7d8f9"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "reviews-v1-7d8f9"}],
            "creationTimestamp": "1970-01-12T13:46:40Z",
        },
        "spec": {
            "serviceAccountName": "bookinfo-reviews",
            "containers": [
                {"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.2"},
            ],
        },
        "status": {
            "podIP": "10.0.0.3",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "reviews", "ready": True, "restartCount": 1},
                {"name": "istio-proxy", "ready": True, "restartCount": 0},
            ],
        },
    }
    pod = pod_from_object(obj)
    assert (pod.workload, pod.app, pod.version, pod.sidecar) == (
        "reviews-v1",
        "reviews",
        "v1",
        True,
    )
    assert (pod.ready, pod.ready_containers, pod.restarts, pod.created) == (True, 2, 1, 1_000_000.0)
    assert pod.containers == ("reviews", "istio-proxy") and pod.ip == "10.0.0.3"
