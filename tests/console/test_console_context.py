"""The console against a kubeconfig context (here the console mesh's own Kubernetes API, as
a cluster would be reached): traces come from the cluster's Zipkin read API, the mesh page's
proxy sync state from istiod, and a page whose addon is missing says which addon to install
instead of failing."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from istiolab.console import server
from istiolab.local.supervisor import wait_until

from .conftest import OCTET

pytestmark = pytest.mark.envoy


@pytest.fixture
def cluster_console(console_mesh, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(console_mesh.state.kubeconfig))
    monkeypatch.delenv("ISTIOLAB_CONTEXT", raising=False)
    prepared = server.prepare(Path(console_mesh.root), "istiolab", f"127.{OCTET}.0.10")
    running = server.serve(prepared.app, prepared.host, prepared.port, prepared.token, True)
    try:
        yield prepared
    finally:
        running.stop()


def get(prepared, path: str) -> tuple[int, object]:
    conn = http.client.HTTPConnection(prepared.host, prepared.port, timeout=15)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {prepared.token}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def sampled_request(marker: str) -> None:
    conn = http.client.HTTPConnection(f"127.{OCTET}.0.3", 8080, timeout=10)
    try:  # x-b3-sampled: 1 makes the gateway trace this request whatever the sampling rate
        conn.request("GET", "/productpage", headers={"x-b3-sampled": "1", "user-agent": marker})
        assert conn.getresponse().read()
    finally:
        conn.close()


def test_traces_from_the_clusters_zipkin_and_the_graph_names_its_addon(cluster_console):
    def answered() -> bool:
        try:
            return get(cluster_console, "/api/labs")[0] == 200
        except OSError:
            return False

    wait_until(answered, 10.0, "the cluster console to answer")
    sampled_request("console-context")
    found: dict = {}

    def traced() -> bool:
        code, body = get(cluster_console, "/api/traces?service=istio-ingressgateway&limit=50")
        assert code == 200, body
        for t in body:
            code, trace = get(cluster_console, f"/api/traces/{t['trace_id']}")
            agents = {s.get("tags", {}).get("user_agent") for s in trace["spans"]}
            services = {s["service"].split(".")[0] for s in trace["spans"]}
            if "console-context" in agents and {"productpage", "details"} <= services:
                found["trace"] = trace
                return True
        return False

    # each proxy reports its spans in its own batches: wait for the gateway's and the app's
    wait_until(traced, 30.0, "the sampled trace, read through the Kubernetes API")
    code, mesh = get(cluster_console, "/api/mesh")  # proxies' sync state from istiod's syncz
    assert code == 200, mesh
    assert mesh["proxies"] and all(p["synced"] for p in mesh["proxies"]), mesh["proxies"]
    code, body = get(cluster_console, "/api/graph")
    assert code == 409
    assert "Prometheus addon" in body["error"] and "addons: [prometheus]" in body["error"]
