"""Judging one response against a check's `expect`: what passes, and the measured line a
failure prints (curl's view: status 000 and the exit code when no response came)."""

from __future__ import annotations

import pytest

from istiolab.backends import HttpResult
from istiolab.labs.measure import describe_expect, judge, lines_after

OK = HttpResult(200, {"x-envoy-upstream-service-time": "3"}, b'{"hostname": "httpbin-v2-a-b"}', 0.2)
RESET = HttpResult(0, error="reset", detail="Connection reset by peer", elapsed=0.01)
DENIED = HttpResult(403, {}, b"RBAC: access denied", 0.01)


@pytest.mark.parametrize(
    ("response", "expect", "passed", "measured"),
    [
        (OK, {"status": 200, "version": "v2"}, True, "status 200, version v2"),
        (OK, {"status": 200, "version": "v1"}, False, "status 200, version v2"),
        (OK, {"header": {"x-envoy-upstream-service-time": "*"}}, True, "status 200"),
        (OK, {"header": {"x-custom": "1"}}, False, "status 200, header x-custom: <absent>"),
        (OK, {"latency": {"min": "1s"}}, False, "status 200, latency 0.20s"),
        (
            RESET,
            {"status": 0, "exit": 56},
            True,
            "status 000 (curl exit 56: Connection reset by peer)",
        ),
        (RESET, {"status": 200}, False, "status 000 (curl exit 56: Connection reset by peer)"),
        (DENIED, {"status": 403, "body": "RBAC: access denied"}, True, "status 403"),
        (DENIED, {"status": 200}, False, "status 403"),
        (DENIED, {"not_body": "RBAC"}, False, "status 403, body contains 'RBAC'"),
    ],
)
def test_judge(response, expect, passed, measured):
    assert judge(response, expect) == (passed, measured)


def test_expected_line_and_log_tails():
    assert describe_expect({"status": 0, "exit": 56}) == "status 0, exit 56"
    assert describe_expect({"latency": {"max": "2s"}}) == "latency 0..2s"
    assert lines_after(["a", "b", "c"], ["a", "b"]) == ["c"]
    assert lines_after(["c", "d"], ["a", "b"]) == ["c", "d"]  # the old tail scrolled away
    assert lines_after(["a"], []) == ["a"]
