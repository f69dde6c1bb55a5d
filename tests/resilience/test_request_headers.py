"""What the upstream app sees of a request that went through the sidecars, as in the Istio
docs' `kubectl exec sleep -- curl http://httpbin:8000/headers` outputs."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(60)]


def test_httpbin_headers_from_sleep_show_the_attempt_count(clean):
    mesh = clean
    code, out, err = mesh.cli("request", "--from", "sleep", "http://httpbin:8000/headers", "--body")
    assert code == 0, err
    status, body = out.split("\n", 1)
    assert status == "200", out
    headers = json.loads(body)["headers"]
    assert headers["X-Envoy-Attempt-Count"] == ["1"], headers  # go-httpbin: lists
    assert headers["Host"] == ["httpbin:8000"]
