"""Outlier detection on the local mesh: two httpbin pods behind one Service, one of them
really broken, ejected by the caller's sidecar and let back in after baseEjectionTime."""

from __future__ import annotations

import re
import time

import pytest

from istiolab import manifests
from istiolab.local.supervisor import wait_until

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

CLUSTER = "cluster.outbound|8000||httpbin.default.svc.cluster.local"
EJECTIONS_ACTIVE = f"{CLUSTER}.outlier_detection.ejections_active"

# The circuit-breaking task's outlierDetection (seed 001), with a short ejection time and
# two consecutive errors needed, so that the test sees both ejection and return.
OUTLIER_RULE = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 1s
      maxEjectionPercent: 100
"""


def broken_httpbin_v2() -> list[dict]:
    """httpbin v1 and v2 behind the one Service; v2's container declares port 8081, so its
    app listens there while the Service still targets 8080: every request that reaches v2
    ends in its sidecar's refused connection (503 UF), a real broken replica."""
    objects = manifests.httpbin(versions=("v1", "v2"))
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "httpbin-v2":
            o["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8081}]
    return objects


def outlier_column(mesh, ip: str) -> str:
    """`istiolab proxy-config endpoints fortio`'s OUTLIER CHECK for ip on the httpbin cluster."""
    table = mesh.ok("proxy-config", "endpoints", "fortio")
    row = re.search(
        rf"^{re.escape(ip)}:8080\s+(\S+)\s+(\S+)\s+outbound\|8000\|\|httpbin\.default\.svc",
        table,
        re.M,
    )
    assert row, table
    return row.group(2)


def test_failing_replica_is_ejected_then_returns(clean):
    """Istio "Circuit Breaking" task's outlierDetection / seed 001 ("Outlier Detection"):
    after consecutive5xxErrors 5xx answers the failing httpbin pod is ejected
    (`outlier_detection.ejections_active` 1, OUTLIER CHECK FAILED) and every later request
    succeeds on the healthy pod; after baseEjectionTime (1 s) it is back in the pool and
    gets traffic again."""
    mesh = clean
    mesh.apply(broken_httpbin_v2())
    mesh.apply_yaml(OUTLIER_RULE)
    bad_ip = mesh.pod("httpbin-v2")["ip"]
    send = mesh.sender("fortio-deploy")
    url = "http://httpbin:8000/get"

    codes = []
    while mesh.stat("fortio-deploy", EJECTIONS_ACTIVE) == 0:
        assert len(codes) < 60, f"no ejection after {codes}"
        codes.append(send(url).status)
    ejected_at = time.monotonic()
    assert set(codes) <= {200, 503} and codes.count(503) >= 2, codes
    assert mesh.stat("fortio-deploy", f"{CLUSTER}.outlier_detection.ejections_enforced_total") >= 1
    assert outlier_column(mesh, bad_ip) == "FAILED"
    # the broken pod's own sidecar could not reach its app: 503 UF on inbound|8080||
    mesh.wait_log("httpbin-v2", "/get", " 503 UF ", "inbound|8080||")

    after = [send(url).status for _ in range(20)]
    assert after == [200] * 20

    wait_until(
        lambda: mesh.stat("fortio-deploy", EJECTIONS_ACTIVE) == 0,
        15,
        "the ejected httpbin pod to return after baseEjectionTime",
    )
    assert time.monotonic() - ejected_at >= 0.9  # not before baseEjectionTime (1 s)
    assert outlier_column(mesh, bad_ip) == "OK"
    again = []
    while 503 not in again:  # back in the load-balancing pool: it is picked again
        assert len(again) < 40, again
        again.append(send(url).status)
