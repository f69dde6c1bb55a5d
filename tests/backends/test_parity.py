"""One suite, both backends (LocalBackend over the control API, KubeBackend over the mesh's
Kubernetes API): request routing, a fault, a circuit breaker trip read from Envoy's stats,
and a refusal under mTLS STRICT.

Expected values are Istio's documented behaviour: a header match routes to its subset and
the sidecar counts each request on ``cluster.outbound|<port>|<subset>|<fqdn>``; an abort
fault answers its ``httpStatus``; with ``maxConnections: 1`` and
``http1MaxPendingRequests: 1`` concurrent requests overflow (``upstream_rq_pending_overflow``,
503); a client without a sidecar calling a STRICT workload gets its connection reset
(curl exit code 56).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from istiolab.backends import Backend

pytestmark = pytest.mark.envoy

HTTPBIN = "http://httpbin:8000"
FQDN = "httpbin.default.svc.cluster.local"


@contextlib.contextmanager
def applied(backend: Backend, objects: list[dict]) -> Iterator[None]:
    """`objects` applied for the block, deleted afterwards (config converged both times)."""
    backend.apply(objects, source="test_parity")
    backend.wait_converged()
    try:
        yield
    finally:
        backend.delete(
            [
                (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "default"))
                for o in objects
            ]
        )
        backend.wait_converged()


def obj(api: str, kind: str, name: str, spec: dict, namespace: str = "default") -> dict:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


SUBSETS = obj(
    "networking.istio.io/v1",
    "DestinationRule",
    "httpbin",
    {"host": "httpbin", "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")]},
)
BY_HEADER = obj(
    "networking.istio.io/v1",
    "VirtualService",
    "httpbin",
    {
        "hosts": ["httpbin"],
        "http": [
            {
                "match": [{"headers": {"end-user": {"exact": "jason"}}}],
                "route": [{"destination": {"host": "httpbin", "subset": "v2"}}],
            },
            {"route": [{"destination": {"host": "httpbin", "subset": "v1"}}]},
        ],
    },
)


def outbound_2xx(backend: Backend, source: str, subset: str) -> int:
    name = f"cluster.outbound|8000|{subset}|{FQDN}.upstream_rq_2xx"
    return backend.proxy_stats(source).get(name, 0)


def test_routing_by_header_to_a_subset(backend: Backend):
    with applied(backend, [SUBSETS, BY_HEADER]):
        before = {v: outbound_2xx(backend, "sleep", v) for v in ("v1", "v2")}
        for _ in range(4):
            assert (
                backend.request("sleep", f"{HTTPBIN}/get", headers={"end-user": "jason"}).status
                == 200
            )
            assert backend.request("sleep", f"{HTTPBIN}/get").status == 200
        after = {v: outbound_2xx(backend, "sleep", v) for v in ("v1", "v2")}
    assert {v: after[v] - before[v] for v in after} == {"v1": 4, "v2": 4}


def test_abort_fault(backend: Backend):
    fault = obj(
        "networking.istio.io/v1",
        "VirtualService",
        "httpbin",
        {
            "hosts": ["httpbin"],
            "http": [
                {
                    "fault": {"abort": {"httpStatus": 418, "percentage": {"value": 100.0}}},
                    "route": [{"destination": {"host": "httpbin"}}],
                }
            ],
        },
    )
    with applied(backend, [fault]):
        got = backend.request("sleep", f"{HTTPBIN}/get")
        assert got.status == 418 and got.text == "fault filter abort"
    assert backend.request("sleep", f"{HTTPBIN}/get").status == 200


def test_circuit_breaker_trips_and_envoy_counts_the_overflow(backend: Backend):
    breaker = obj(
        "networking.istio.io/v1",
        "DestinationRule",
        "httpbin",
        {
            "host": "httpbin",
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 1},
                    "http": {"http1MaxPendingRequests": 1, "maxRequestsPerConnection": 1},
                }
            },
        },
    )
    stat = f"cluster.outbound|8000||{FQDN}.upstream_rq_pending_overflow"
    with applied(backend, [breaker]):
        before = backend.proxy_stats("fortio").get(stat, 0)
        for _attempt in range(4):  # concurrency makes the trip likely, not certain, per run
            result = backend.load("fortio", f"{HTTPBIN}/get", count=30, concurrency=3)
            overflow = backend.proxy_stats("fortio").get(stat, 0) - before
            if result.codes.get(503) and overflow:
                break
        assert set(result.codes) <= {200, 503} and result.codes.get(200), result.codes
        assert result.codes.get(503, 0) > 0 and overflow > 0, (result.codes, overflow)


def test_mtls_strict_refuses_a_client_without_sidecar(backend: Backend):
    url = "http://httpbin.default:8000/get"
    assert backend.request("sleep.legacy", url).status == 200  # PERMISSIVE: plain text passes
    strict = obj(
        "security.istio.io/v1",
        "PeerAuthentication",
        "default",
        {"mtls": {"mode": "STRICT"}},
    )
    with applied(backend, [strict]):
        refused = backend.request("sleep.legacy", url, timeout=10)
        assert refused.status == 0 and refused.exit_code == 56, refused
        assert backend.request("sleep", f"{HTTPBIN}/get").status == 200  # mTLS from a sidecar
    assert backend.request("sleep.legacy", url).status == 200
