"""The expectation language: parsing (with clear errors) and judging results exactly or with
a stated interval, per request name and overall."""

from __future__ import annotations

import pytest

from istiolab.load import expect
from istiolab.load.result import CounterDelta, Result, Sample

CLUSTER = "cluster.outbound|8000||httpbin.default.svc.cluster.local"


def breaker_result(n200: int = 10, n503: int = 20, overflow: int | None = None) -> Result:
    """A 3-user run against httpbin: n200 answers 200 in 5 ms, n503 answer 503 in 1 ms."""
    samples = [Sample(i * 0.01, "GET /get", 200, 0.005) for i in range(n200)]
    samples += [Sample(i * 0.01, "GET /get", 503, 0.001) for i in range(n503)]
    samples += [Sample(0.2, "GET /headers", 200, 0.2)]
    r = Result.from_samples(samples, duration=0.5, engine="locust", users=3)
    r.flags = {"UO": n503, "-": n200 + 1}
    grown = n503 if overflow is None else overflow
    r.counters = {
        "fortio-deploy.default": {
            f"{CLUSTER}.upstream_rq_pending_overflow": CounterDelta(4, 4 + grown),
            f"{CLUSTER}.upstream_rq_completed": CounterDelta(0, 31),
            f"{CLUSTER}.external.upstream_rq_completed": CounterDelta(0, 31),
            f"{CLUSTER}.outlier_detection.ejections_enforced_total": CounterDelta(0, 0),
        }
    }
    return r


def verdicts(text: str, result: Result) -> list[expect.Verdict]:
    return expect.judge(expect.parse(text), result)


@pytest.mark.parametrize(
    ("text", "passed", "measured"),
    [
        ("share(503) between 0.2 and 0.8", True, "0.645 (20/31)"),
        ("share(503) > 0.7", False, "0.645 (20/31)"),
        ("share(5xx) == 0", False, "0.645 (20/31)"),
        ("share(2xx) + share(5xx) == 1", True, "1.000"),
        ("count(200) == 11", True, "11"),
        ("requests == 31", True, "31"),
        ("rps >= 60", True, "62"),
        ("flag(UO) > 0", True, "20"),
        ("flag(UO) == count(503)", True, "20"),
        ("stat(upstream_rq_pending_overflow) grew >= share(503) * requests", True, "20"),
        ("stat(upstream_rq_pending_overflow) == 24", True, "24"),
        ("stat(outlier_detection.ejections_enforced_total) grew == 0", True, "0"),
        ("stat(upstream_rq_completed) grew == requests", True, "31"),  # not also external.
        ("p99 < 250ms", True, "141ms"),
        ("p50 <= 2ms", True, "1ms"),
        ("max < 0.1s", False, "200ms"),
        ("share(error) == 0", True, "0.000 (0/31)"),
    ],
)
def test_overall_expectations(text, passed, measured):
    (v,) = verdicts(text, breaker_result())
    assert (v.passed, v.measured, v.scope, v.interval) == (passed, measured, "overall", "exact")
    if not passed:
        assert v.detail.startswith("wanted") or v.detail.startswith("outside")


def test_scopes_each_and_named():
    r = breaker_result()
    each = verdicts("each: share(5xx) == 0", r)
    assert [(v.scope, v.passed) for v in each] == [("GET /get", False), ("GET /headers", True)]
    (named,) = verdicts('in "GET /headers": p50 > 100ms', r)
    assert (named.scope, named.passed, named.measured) == ("GET /headers", True, "200ms")
    (missing,) = verdicts('in "GET /nope": requests > 0', r)
    assert not missing.passed and "GET /get, GET /headers" in missing.detail


def test_a_counter_that_was_not_read_fails_naming_it():
    (v,) = verdicts("stat(upstream_rq_retry) grew > 0", breaker_result())
    assert (v.passed, v.measured) == (False, "not measured")
    assert "no Envoy counter named *.upstream_rq_retry among the 4 read" in v.detail


def test_exact_counters_catch_one_missing_overflow():
    """Deterministic mode: every 503 must be one overflow, no more and no less."""
    (v,) = verdicts(
        "stat(upstream_rq_pending_overflow) grew == count(503)", breaker_result(overflow=19)
    )
    assert (v.passed, v.measured, v.detail) == (False, "19", "wanted == 20")


def test_tolerance_uses_the_wilson_interval_and_says_so():
    """12/30 = 0.4 is 'below 0.5' as a point, but the 99 % interval reaches above 0.5, so a
    tolerant '>= 0.5' does not fail it; 0/30 is certainly below 0.2."""
    r = breaker_result(n200=17, n503=12)
    (v,) = verdicts("share(503) >= 0.5 (tolerance 99%)", r)
    assert v.passed and v.interval.startswith("Wilson 99% [0.")
    (exact,) = verdicts("share(503) >= 0.5", r)
    assert not exact.passed
    none = breaker_result(n200=29, n503=0)
    (v,) = verdicts("share(503) between 0.2 and 0.8 (tolerance 99%, retries 2)", none)
    assert not v.passed and v.interval == "Wilson 99% [0.000, 0.181]"
    assert v.detail == "outside [0.200, 0.800]"


def test_options_are_parsed():
    e = expect.parse("share(503) > 0.1 (tolerance 95%, retries 3, abort after 10s)")
    assert (e.tolerance, e.retries, e.abort_after, e.statistical) == (95.0, 3, 10.0, True)
    assert expect.parse("p99 < 1s  # a comment").text == "p99 < 1s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "share(503) betwen 0.2 and 0.8",
            "found 'betwen' (use <, <=, >, >=, ==, != or between A and B)",
        ),
        ("p99 <", "unexpected end (expected a value)"),
        ("share(50x) > 0", "'50x' is not a status code (503, 5xx or error (no response))"),
        ("latency < 3ms", "unknown name 'latency'"),
        ("p99 < 1s (tolerance 99%)", "tolerance applies to a share"),
        ("share(503) > 0 (tolerance 97%)", "confidence 97% is not one of 90%, 95%, 99%, 99.9%"),
        ("share(503) > 0 (retries two)", "unknown option 'retries two'"),
        ("in GET: p99 < 1s", "the request name must be quoted"),
        ("p99 < 1s p50", "unexpected 'p50' (one comparison per line)"),
        ("p200 < 1s", "p200 is not a percentile"),
        ("share() > 0", "share() needs an argument"),
    ],
)
def test_bad_expectations_name_the_text_and_the_fix(text, message):
    with pytest.raises(expect.ExpectationError) as err:
        expect.parse(text, "loadtests/x.py EXPECT line 3")
    assert str(err.value).startswith(f"loadtests/x.py EXPECT line 3: {text!r}")
    assert message in str(err.value)


def test_parse_all_numbers_lines_and_skips_comments():
    lines = "# the breaker\nshare(503) > 0\n\n   p99 < 1s\n"
    parsed = expect.parse_all(lines, "loadtests/cb.py")
    assert [e.text for e in parsed] == ["share(503) > 0", "p99 < 1s"]
    with pytest.raises(expect.ExpectationError, match=r"loadtests/cb\.py line 2: 'p99 <<"):
        expect.parse_all("share(503) > 0\np99 << 1s", "loadtests/cb.py")


def test_judge_all_records_verdicts_in_the_result():
    r = breaker_result()
    vs = expect.judge_all(expect.parse_all("share(503) > 0\nshare(5xx) == 0"), r)
    assert [v.passed for v in vs] == [True, False]
    assert r.passed is False
    assert r.expectations[1] == {
        "expectation": "share(5xx) == 0",
        "scope": "overall",
        "measured": "0.645 (20/31)",
        "value": pytest.approx(20 / 31),
        "verdict": "fail",
        "interval": "exact",
        "detail": "wanted == 0",
    }


def test_per_code_counters_envoy_has_not_created_yet_read_as_zero():
    """Envoy creates upstream_rq_503 at the first 503: absent is 0 once the cluster's
    counters were read; any other absent counter is 'not measured'."""
    r = breaker_result()
    (v,) = verdicts("stat(upstream_rq_5xx) grew == 0", r)
    assert (v.passed, v.measured) == (True, "0")
    r.counters = {}
    (v,) = verdicts("stat(upstream_rq_5xx) grew == 0", r)
    assert (v.passed, v.measured) == (False, "not measured")
