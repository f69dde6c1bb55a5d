"""The Istio docs' local rate limit EnvoyFilter on real Envoy: the selected workload's
inbound sidecar answers 429 with x-local-rate-limit once its 4 tokens are spent. (details
here, not a workload the other tests count on: pooled connections keep the old filter chain
of a replaced listener until they close, as on a cluster.)"""

from __future__ import annotations

import pytest

from .test_honesty import LOCAL_RATE_LIMIT

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def test_local_rate_limit(clean):
    mesh = clean
    mesh.apply_yaml(LOCAL_RATE_LIMIT.replace("app: httpbin", "app: details"))
    send = mesh.sender("sleep")
    codes = []
    for _ in range(8):
        response = send("http://details:9080/details/0")
        codes.append(response.status)
        if response.status == 429:
            assert response.headers.get("x-local-rate-limit") == "true"
            assert response.text == "local_rate_limited"
    assert codes[:4] == [200] * 4 and 429 in codes[4:], codes
