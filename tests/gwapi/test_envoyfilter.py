"""The Istio docs' local rate limit EnvoyFilter on real Envoy: httpbin's inbound sidecar
answers 429 with x-local-rate-limit once its 4 tokens are spent."""

from __future__ import annotations

import pytest

from .test_honesty import LOCAL_RATE_LIMIT

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def test_local_rate_limit(clean):
    mesh = clean
    mesh.apply_yaml(LOCAL_RATE_LIMIT)
    send = mesh.sender("sleep")
    codes = []
    for _ in range(8):
        response = send("http://httpbin:8000/get")
        codes.append(response.status)
        if response.status == 429:
            assert response.headers.get("x-local-rate-limit") == "true"
            assert response.text == "local_rate_limited"
    assert codes[:4] == [200] * 4 and 429 in codes[4:], codes
