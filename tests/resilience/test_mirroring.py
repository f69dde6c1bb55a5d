"""Traffic mirroring on the local mesh: httpbin v1 serves, v2 gets a shadow copy."""

from __future__ import annotations

import uuid

import pytest

from istiolab import manifests

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def test_mirror_all_of_v1_to_v2(clean):
    """Istio task "Mirroring": all traffic to httpbin v1 with `mirror: v2` and
    `mirrorPercentage: 100`; v2 receives a copy of each request with the `-shadow` host (its
    sidecar's access log), v1 the original, and the client only sees v1's answers."""
    mesh = clean
    mesh.apply(manifests.httpbin(versions=("v1", "v2")) + manifests.traffic_preset("mirror"))
    v1_ip = mesh.pod("httpbin-v1")["ip"]
    tag = uuid.uuid4().hex[:8]
    paths = [f"/anything/mirror-{tag}-{i}" for i in range(5)]
    send = mesh.sender("sleep")
    for path in paths:
        response = send(f"http://httpbin:8000{path}")
        assert response.status == 200
        echoed = response.json()
        assert echoed["url"] == f"http://httpbin:8000{path}"
        host = echoed["headers"]["Host"]  # go-httpbin lists header values
        assert host in ("httpbin:8000", ["httpbin:8000"])  # the original, not the shadow

    for path in paths:
        [primary] = mesh.wait_log("sleep", f'"GET {path} ', " 200 ")
        assert f'"{v1_ip}:8080" outbound|8000|v1|httpbin.default.svc.cluster.local' in primary
        [served] = mesh.wait_log("httpbin-v1", f'"GET {path} ', "inbound|8080||")
        assert '"httpbin:8000"' in served
        [shadow] = mesh.wait_log("httpbin-v2", f'"GET {path} ', "inbound|8080||")
        assert '"httpbin-shadow:8000"' in shadow, shadow
    assert not mesh.log_lines("httpbin-v1", f"mirror-{tag}", "-shadow")
    assert not mesh.log_lines("httpbin-v2", f"mirror-{tag}", '"httpbin:8000"')


def test_mirror_percentage_zero_sends_no_copy(clean):
    """Istio task "Mirroring" with `mirrorPercentage: 0`: v1 still serves everything and
    v2 receives nothing (the mirror policy's runtime fraction is honoured)."""
    mesh = clean
    mesh.apply(
        manifests.httpbin(versions=("v1", "v2")) + manifests.traffic_preset("mirror", percent=0)
    )
    tag = uuid.uuid4().hex[:8]
    send = mesh.sender("sleep")
    for i in range(10):
        assert send(f"http://httpbin:8000/anything/none-{tag}-{i}").status == 200
    mesh.wait_log("httpbin-v1", f"/anything/none-{tag}-9", "inbound|8080||")
    assert len(mesh.log_lines("httpbin-v1", f"/anything/none-{tag}-")) == 10
    assert mesh.log_lines("httpbin-v2", f"/anything/none-{tag}-") == []
