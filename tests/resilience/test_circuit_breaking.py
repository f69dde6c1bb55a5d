"""Circuit breaking on the local mesh: the fortio pod's sidecar against httpbin, as in the
Istio "Circuit Breaking" task and the seeds' fortio runs."""

from __future__ import annotations

import re
import threading
import time

import pytest

from istiolab import manifests

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

CLUSTER = "cluster.outbound|8000||httpbin.default.svc.cluster.local"
OVERFLOW = f"{CLUSTER}.upstream_rq_pending_overflow"

# Seed 001 ("Circuit Breaker" on httpbin), verbatim.
SEED_CIRCUIT_BREAKER = """\
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
"""


def test_one_client_never_trips_the_breaker(clean):
    """Istio task "Circuit Breaking": with maxConnections 1 / http1MaxPendingRequests 1,
    one client calling serially (`fortio load -c 1`) always gets 200."""
    mesh = clean
    out = mesh.apply_yaml(SEED_CIRCUIT_BREAKER)
    assert "destinationrule.networking.istio.io/httpbin created" in out
    before = mesh.stat("fortio-deploy", OVERFLOW)
    result = mesh.load("fortio-deploy", "http://httpbin:8000/get", 30, 1)
    assert result["codes"] == {"200": 30}
    assert mesh.stat("fortio-deploy", OVERFLOW) == before


def test_three_clients_overflow_with_uo_and_x_envoy_overloaded(clean):
    """Istio task "Circuit Breaking" / seed 003's fortio run (`-c 3`): 3 concurrent clients
    x 30 requests from the fortio pod's sidecar trip the breaker: a large share of 503, each
    with `x-envoy-overloaded: true` and response flag UO in the sidecar's access log, and
    `upstream_rq_pending_overflow` counts every one of them."""
    mesh = clean
    mesh.apply_yaml(SEED_CIRCUIT_BREAKER)
    before = mesh.stat("fortio-deploy", OVERFLOW)
    logged = len(mesh.log_lines("fortio-deploy", "/get", " 503 UO "))
    responses = []
    lock = threading.Lock()
    send = mesh.sender("fortio-deploy")

    def client() -> None:
        for _ in range(30):
            r = send("http://httpbin:8000/get", timeout=10)
            with lock:
                responses.append(r)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [r.status for r in responses]
    assert set(codes) <= {200, 503}, codes
    overflowed = [r for r in responses if r.status == 503]
    print(f"circuit breaker: {len(overflowed)} of {len(responses)} answered 503")
    assert len(overflowed) >= 0.15 * len(responses), codes  # seeds: 60 % and 100 %
    assert codes.count(200) >= 1
    assert all(r.headers.get("x-envoy-overloaded") == "true" for r in overflowed)
    assert not any("x-envoy-overloaded" in r.headers for r in responses if r.status == 200)
    assert mesh.stat("fortio-deploy", OVERFLOW) - before == len(overflowed)
    lines = mesh.wait_log("fortio-deploy", "/get", " 503 UO ", count=logged + len(overflowed))
    assert len(lines) == logged + len(overflowed)
    assert all("upstream_reset_before_response_started{overflow}" in ln for ln in lines[logged:])


def test_cli_fortio_summary_and_proxy_stats(clean):
    """Seed 003's commands on the local mesh: `istiolab request --from fortio ... --count 30
    --concurrency 3` prints fortio's `Code 503 : N (x %)` lines and `istiolab proxy-stats
    fortio --filter pending` shows `...httpbin...upstream_rq_pending_overflow` > 0 (the
    `circuit-breaker` preset: the seed's DestinationRule)."""
    mesh = clean
    mesh.apply(manifests.traffic_preset("circuit-breaker"))
    code, out, err = mesh.cli("request", "--from", "fortio", "http://httpbin:8000/get")
    assert (code, out.strip()) == (0, "200"), err
    out = mesh.ok(
        "request",
        "--from",
        "fortio",
        "http://httpbin:8000/get",
        "--count",
        "30",
        "--concurrency",
        "3",
    )
    lines = dict(re.findall(r"^Code (\d+) : (\d+ \([\d.]+ %\))$", out, re.M))
    assert set(lines) <= {"200", "503"} and "503" in lines, out
    n503, pct = re.fullmatch(r"(\d+) \(([\d.]+) %\)", lines["503"]).groups()
    assert int(n503) >= 1 and float(pct) == round(int(n503) / 30 * 100, 1)
    assert "All done 30 calls" in out

    stats = mesh.ok("proxy-stats", "fortio", "--filter", "pending")
    found = re.search(rf"^{re.escape(OVERFLOW)}: (\d+)$", stats, re.M)
    assert found and int(found.group(1)) >= int(n503), stats
    assert re.search(rf"^{re.escape(CLUSTER)}.upstream_rq_pending_total: \d+$", stats, re.M)


def test_a_changed_rule_acts_at_once(clean):
    """The circuit-breaking task applies the DestinationRule and runs fortio right away:
    `apply` returns once every proxy ACKed, and the changed cluster is active at once (not
    left warming, waiting for endpoints, until Envoy's initial fetch timeout)."""
    mesh = clean
    for step, done in (("apply", "created"), ("delete", "deleted")):
        began = time.monotonic()
        code, out, err = mesh.cli(step, "-f", "-", stdin=SEED_CIRCUIT_BREAKER)
        assert code == 0, err
        assert f"destinationrule.networking.istio.io/httpbin {done}" in out
        assert re.search(r"^\d+ proxies synced in \d+ ms$", err, re.M), err
        assert time.monotonic() - began < 5
        assert mesh.stat("fortio-deploy", "cluster_manager.warming_clusters") == 0
        remaining = mesh.stat(
            "fortio-deploy", f"{CLUSTER}.circuit_breakers.default.remaining_pending"
        )
        assert remaining == (1 if step == "apply" else 4294967295)
