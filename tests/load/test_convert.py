"""Converters: fortio -json, Nighthawk's fortio-compatible JSON and h2load's summary (samples
written from each tool's documented format, in tests/load/samples) become one result format,
judged by the same expectations as a native run; istiolab's own results round-trip through
JSON and through fortio's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from istiolab.errors import ConfigError
from istiolab.load import convert, expect
from istiolab.load.result import Result, Sample

SAMPLES = Path(__file__).parent / "samples"


def read(name: str) -> str:
    return (SAMPLES / name).read_text()


def judged(result: Result, lines: str) -> list[tuple[str, bool, str]]:
    return [
        (v.expectation, v.passed, v.measured)
        for v in expect.judge_all(expect.parse_all(lines), result)
    ]


def test_formats_are_detected():
    assert convert.detect(read("fortio-circuit-breaker.json")) == "fortio"
    assert convert.detect(read("nighthawk-fortio.json")) == "nighthawk"
    assert convert.detect(read("h2load.txt")) == "h2load"
    assert convert.detect("hello") == "unknown"
    with pytest.raises(ConfigError, match=r"x.txt: cannot tell which tool wrote it .*--format"):
        convert.load("hello", "x.txt")


def test_fortio_json():
    r = convert.load(read("fortio-circuit-breaker.json"), "cb.json")
    assert (r.engine, r.requests, r.users, r.target) == ("fortio", 30, 3, "http://httpbin:8000/get")
    assert r.overall.codes == {200: 18, 503: 12}
    assert r.duration == pytest.approx(0.074513118)
    assert r.overall.latency(99) == pytest.approx(0.0178732)
    assert judged(r, "share(503) between 0.2 and 0.8\np99 < 250ms\nflag(UO) > 0") == [
        ("share(503) between 0.2 and 0.8", True, "0.400 (12/30)"),
        ("p99 < 250ms", True, "17.9ms"),
        ("flag(UO) > 0", False, "not measured"),
    ]


def test_nighthawk_knows_2xx_only():
    r = convert.load(read("nighthawk-fortio.json"))
    assert (r.engine, r.requests, r.users) == ("nighthawk", 249, 2)
    assert r.overall.codes == {200: 249}
    assert judged(r, "share(5xx) == 0\nshare(2xx) == 1\np90 < 5ms\nrps > 45") == [
        ("share(5xx) == 0", True, "0.000 (0/249)"),
        ("share(2xx) == 1", True, "1.000 (249/249)"),
        ("p90 < 5ms", True, "4.48ms"),
        ("rps > 45", True, "49.8"),
    ]
    data = json.loads(read("nighthawk-fortio.json"))
    data["DurationHistogram"]["Count"] = "250"  # one response that was not 2xx
    partial = convert.from_fortio(data, engine="nighthawk")
    (v,) = expect.judge(expect.parse("share(5xx) == 0"), partial)
    assert not v.passed and "reports 2xx only" in v.detail


def test_h2load_summary():
    r = convert.load(read("h2load.txt"))
    assert (r.engine, r.requests) == ("h2load", 10)
    assert r.duration == pytest.approx(0.01241)
    assert r.overall.mean == pytest.approx(0.00396)
    assert judged(r, "share(5xx) between 0.2 and 0.4\nshare(503) > 0\np99 < 1s\nmax < 10ms") == [
        ("share(5xx) between 0.2 and 0.4", True, "0.300 (3/10)"),
        ("share(503) > 0", False, "not measured"),
        ("p99 < 1s", False, "not measured"),
        ("max < 10ms", True, "9.88ms"),
    ]
    with pytest.raises(ConfigError, match=r"h\.txt: not h2load.s summary"):
        convert.from_h2load("finished in 1s, 2 req/s\nrequests: garbage", "h.txt")


def native() -> Result:
    samples = [
        Sample(i * 0.05, "GET /get", 503 if i % 3 else 200, 0.001 + i * 1e-4) for i in range(30)
    ]
    return Result.from_samples(
        samples, 1.5, engine="locust", target="http://httpbin:8000/get", users=3
    )


LINES = "share(503) between 0.2 and 0.8\nshare(5xx) < 0.5\np50 < 5ms\nrequests == 30\nrps >= 20"


def test_native_run_through_fortio_json_gives_the_same_verdicts():
    r = native()
    fortio = json.dumps(convert.to_fortio(r, "1.69.1"))
    assert convert.detect(fortio) == "fortio"
    back = convert.load(fortio)
    assert [v[:2] for v in judged(back, LINES)] == [v[:2] for v in judged(r, LINES)]
    assert [v[1] for v in judged(r, LINES)] == [True, False, True, True, True]


def test_result_json_round_trip():
    r = native()
    expect.judge_all(expect.parse_all(LINES), r)
    text = r.to_json()
    back = convert.load(text)
    assert back.to_dict() == json.loads(text)
    with pytest.raises(ConfigError, match=r"r\.json: format='other' is not 'istiolab\.load/v1'"):
        Result.from_dict({"format": "other"}, "r.json")
