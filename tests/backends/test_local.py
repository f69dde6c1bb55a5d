"""LocalBackend over a running local mesh: objects, typed pods, requests from inside a pod
through its sidecar, the gateway, proxy admin and stats, sync state, logs and loads.

Expected values are upstream facts: httpbin's ``/status/<code>`` answers that code, Envoy's
admin ``/server_info`` reports ``"state": "LIVE"``, a sidecar's stats count requests per
``cluster.outbound|<port>||<fqdn>`` cluster, Istio's default access log line holds the
request line ("GET /path HTTP/1.1").
"""

from __future__ import annotations

import json

import pytest

from istiolab.backends import open_backend
from istiolab.backends.local import LocalBackend
from istiolab.errors import MeshError, NotFoundError
from istiolab.local.control import NotRunning
from istiolab.local.supervisor import wait_until

pytestmark = pytest.mark.envoy

HTTPBIN = "http://httpbin:8000"  # the httpbin sample's Service port (samples/httpbin)

GATEWAY_YAML = [
    {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "teapot-gateway"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": ["teapot.example.com"],
                }
            ],
        },
    },
    {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "teapot"},
        "spec": {
            "hosts": ["teapot.example.com"],
            "gateways": ["teapot-gateway"],
            "http": [{"route": [{"destination": {"host": "httpbin", "port": {"number": 8000}}}]}],
        },
    },
]


def test_pods_are_typed_with_containers_and_readiness(local: LocalBackend):
    local.wait_ready(timeout=60)
    sleep = local.pod("sleep")
    assert sleep.namespace == "default" and sleep.ready
    assert sleep.containers == ("sleep", "istio-proxy") and sleep.sidecar
    assert sleep.workload == "sleep" and sleep.app == "sleep"
    assert sleep.ip.startswith(f"127.{local_octet(local)}.")
    gateway = local.pod("istio-ingressgateway.istio-system")
    assert gateway.containers == ("istio-proxy",)
    assert gateway.labels["istio"] == "ingressgateway"
    names = {(p.namespace, p.app) for p in local.pods()}
    assert {
        ("default", "httpbin"),
        ("default", "fortio"),
        ("istio-system", "istio-ingressgateway"),
    } <= names
    assert all(p.namespace == "istio-system" for p in local.pods("istio-system"))
    with pytest.raises(
        NotFoundError,
        match=r"no workload 'nope' in namespace default \(running: .*httpbin-v1.default",
    ):
        local.pod("nope")


def local_octet(local: LocalBackend) -> int:
    return int(local.status()["settings"]["octet"])


def test_request_goes_from_the_pod_through_its_sidecar(local: LocalBackend):
    got = local.request("sleep", f"{HTTPBIN}/headers", headers={"X-Probe": "backends"})
    assert got.status == 200 and got.error is None and got.exit_code == 0
    # go-httpbin (the Istio sample's image) lists every header's values
    headers = {k.lower(): v for k, v in got.json()["headers"].items()}
    assert headers["x-probe"] == ["backends"]
    # the server side of the sidecar-to-sidecar hop was mutual TLS (Istio's auto mTLS)
    assert "spiffe://cluster.local/ns/default/sa/sleep" in headers["x-forwarded-client-cert"][0]
    teapot = local.request("sleep", f"{HTTPBIN}/status/418")
    assert teapot.status == 418
    refused = local.request("sleep", "http://nothing-here:8000/", timeout=5)
    assert refused.status != 200


def test_egress_names_the_app_address_and_the_sidecar(local: LocalBackend):
    source_ip, proxy, hosts = local.egress("sleep")
    pod = local.pod("sleep")
    assert proxy == f"http://{pod.ip}:15001" and hosts is None
    assert source_ip != pod.ip and source_ip.startswith(pod.ip.rsplit(".", 2)[0])


def test_load_counts_codes(local: LocalBackend):
    result = local.load("fortio", f"{HTTPBIN}/status/200", count=12, concurrency=3)
    assert result.codes == {200: 12}


def test_apply_gateway_request_delete(local: LocalBackend):
    change = local.apply(GATEWAY_YAML, source="test")
    try:
        verbs = {(kind, name): verb for kind, _, name, verb in change.changes}
        assert verbs == {
            ("Gateway", "teapot-gateway"): "created",
            ("VirtualService", "teapot"): "created",
        }
        assert change.sync_error is None and change.proxies >= 4
        assert local.gateway_url().startswith(f"http://127.{local_octet(local)}.0.3:")
        got = local.gateway_request("/status/418", host="teapot.example.com")
        assert got.status == 418
        again = local.apply(GATEWAY_YAML, source="test")
        assert {verb for *_, verb in again.changes} == {"unchanged"}
        assert "teapot" in [o["metadata"]["name"] for o in local.get("vs")]
    finally:
        gone = local.delete([("Gateway", "teapot-gateway", "default"), ("vs", "teapot", "default")])
    assert [verb for *_, verb in gone.changes] == ["deleted", "deleted"]
    assert "teapot" not in [o["metadata"]["name"] for o in local.get("virtualservices")]
    # the gateway's port 80 still serves other hosts: no route for this one is Envoy's 404
    assert local.gateway_request("/status/418", host="teapot.example.com").status == 404
    with pytest.raises(NotFoundError):
        local.delete([("VirtualService", "teapot", "default")])


def test_proxy_admin_stats_and_sync(local: LocalBackend):
    assert json.loads(local.proxy_admin("sleep", "server_info"))["state"] == "LIVE"
    assert (
        json.loads(local.proxy_admin("istio-ingressgateway.istio-system", "server_info"))["state"]
        == "LIVE"
    )
    local.request("sleep", f"{HTTPBIN}/get")
    stats = local.proxy_stats("sleep", r"outbound\|8000\|\|httpbin\..*upstream_rq_2xx$")
    assert stats and all(v >= 1 for v in stats.values()), stats
    with pytest.raises(MeshError, match="404"):
        local.proxy_admin("sleep", "no-such-admin-page")
    local.wait_converged(timeout=30)
    rows = {p.name: p for p in local.proxy_status()}
    sleep = local.pod("sleep")
    assert rows[f"{sleep.name}.default"].synced and rows[f"{sleep.name}.default"].kind == "sidecar"
    assert rows["istio-ingressgateway.istio-system"].kind == "gateway"
    assert set(rows[f"{sleep.name}.default"].detail) >= {"CDS", "LDS", "EDS", "RDS"}


def test_logs_access_log_and_app(local: LocalBackend):
    local.request("sleep", f"{HTTPBIN}/anything/backend-log-probe")
    wait_until(
        lambda: "GET /anything/backend-log-probe HTTP/1.1" in local.logs("sleep", "istio-proxy"),
        15,
        "the request in sleep's access log",
    )
    assert local.logs("sleep", "istio-proxy", tail=0) == ""
    assert len(local.logs("sleep", "istio-proxy", tail=1).splitlines()) <= 1
    assert "ready" in local.logs("httpbin")  # the app's own output
    with pytest.raises(NotFoundError, match="choose one of: httpbin, istio-proxy"):
        local.logs("httpbin", "nope")


def test_store_without_a_running_mesh(tmp_path):
    backend = open_backend(state_dir=tmp_path / "idle")
    assert isinstance(backend, LocalBackend)
    change = backend.apply(GATEWAY_YAML[1:], source="idle.yaml")
    assert change.changes == [("VirtualService", "default", "teapot", "created")]
    names = [o["metadata"]["name"] for o in backend.get("VirtualService", namespace=None)]
    assert names == ["teapot"]
    with pytest.raises(NotRunning, match="istiolab up"):
        backend.pods()
    assert backend.delete([("vs", "teapot", "default")]).changes == [
        ("vs", "default", "teapot", "deleted")
    ]
