"""``istiolab request|proxy-stats|proxy-config|analyze --context istiolab`` (the local mesh's
own kubeconfig context, through its Kubernetes API) give the same results as the same
commands on the local mesh directly."""

from __future__ import annotations

import json

import pytest
from local.test_mesh import cli

from .conftest import CONTEXT

pytestmark = pytest.mark.envoy


@pytest.fixture
def both(local_mesh, monkeypatch):
    """Run one istiolab command line both ways: (local result, --context result)."""
    monkeypatch.setenv("KUBECONFIG", str(local_mesh.state.kubeconfig))
    monkeypatch.delenv("ISTIOLAB_CONTEXT", raising=False)

    def run(*args: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
        local = cli(*args, "--state-dir", str(local_mesh.root))
        kube = cli(*args, "--context", CONTEXT)
        return local, kube

    return run


def test_request(both):
    local, kube = both("request", "--from", "sleep", "http://httpbin:8000/status/418")
    assert local == kube == (0, "418\n", "")
    local, kube = both(
        "request", "--from", "sleep.legacy", "http://httpbin.default:8000/get", "-o", "json"
    )
    got = [json.loads(r[1]) for r in (local, kube)]
    assert [g["status"] for g in got] == [200, 200]
    assert (
        got[0]["headers"]["content-type"] == got[1]["headers"]["content-type"] == "application/json"
    )
    local, kube = both(
        "request", "--from", "fortio", "http://httpbin:8000/get", "-n", "6", "-c", "2", "-o", "json"
    )
    assert [json.loads(r[1])["codes"] for r in (local, kube)] == [{"200": 6}, {"200": 6}]


def test_proxy_stats(both):
    stable = (
        r"^(server\.concurrency|cluster_manager\.active_clusters"
        r"|listener_manager\.total_listeners_active)$"
    )
    local, kube = both("proxy-stats", "sleep", "--filter", stable)
    assert local == kube and local[0] == 0 and len(local[1].splitlines()) == 3, local


@pytest.mark.parametrize("what", ["clusters", "listeners", "routes", "endpoints", "secrets"])
def test_proxy_config(both, what):
    local, kube = both("proxy-config", what, "httpbin")
    assert local[0] == 0 and local[1].startswith(
        ("NAME", "SERVICE FQDN", "ENDPOINT", "ADDRESS", "RESOURCE")
    )
    assert local == kube


def test_analyze(both, tmp_path):
    local, kube = both("analyze")
    assert local == kube, (local, kube)
    assert "IST0102" in local[1] and "legacy" in local[1]  # pods without injection
    bad = tmp_path / "vs.yaml"  # routes to a gateway that does not exist: IST0101
    bad.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ghost}\n"
        "spec: {hosts: [ghost.example.com], gateways: [nosuch], "
        "http: [{route: [{destination: {host: httpbin}}]}]}\n"
    )
    local, kube = both("analyze", "-f", str(bad))
    assert local == kube and local[0] == 1 and "IST0101" in local[1], local


@pytest.mark.usefixtures("both")  # KUBECONFIG: the local mesh's
def test_an_unknown_context_names_the_known_ones():
    code, out, err = cli("proxy-stats", "sleep", "--context", "nosuch")
    assert code == 1 and out == ""
    assert (
        err.strip()
        == "error: --context='nosuch' is not allowed: a context of the kubeconfig: istiolab"
    ), err


@pytest.mark.usefixtures("both")  # KUBECONFIG: the local mesh's (no Prometheus addon)
def test_graph_without_the_prometheus_addon_says_what_to_install():
    code, out, err = cli("graph", "--context", CONTEXT)
    assert code == 1 and out == ""
    assert 'services "prometheus" not found' in err and "addons: [prometheus]" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_proxy_status(both):
    """istiod's /debug/syncz (``kubectl exec`` into istiod's pod) gives the same table."""
    local, kube = both("proxy-status")
    assert local == kube and local[0] == 0, (local, kube)
    rows = [line.split() for line in local[1].splitlines()]
    assert rows[0] == ["NAME", "CDS", "LDS", "EDS", "RDS", "VERSION"]
    assert all(r[1:5] == ["SYNCED"] * 4 for r in rows[1:]) and len(rows) > 4
