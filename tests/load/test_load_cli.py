"""`istiolab load verdict|compare|list` in-process (no Locust needed to judge a file), the
option parsers, the --find-max-rps search, and the report files and plots."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from local.test_mesh import cli

from istiolab.commands.load import parse_duration, parse_sweep
from istiolab.errors import ParameterError
from istiolab.load import report
from istiolab.load.result import Result, Sample
from istiolab.load.search import find_max_rps

SAMPLES = Path(__file__).parent / "samples"


def test_verdict_passes_and_fails_naming_the_measured_value():
    f = str(SAMPLES / "fortio-circuit-breaker.json")
    code, out, err = cli("load", "verdict", f, "--expect", "share(503) between 0.2 and 0.8")
    assert code == 0, err
    assert "0.400 (12/30)" in out and "pass" in out
    code, out, err = cli(
        "load", "verdict", f, "--expect", "share(503) > 0.5", "--expect", "p99 < 1ms"
    )
    assert code == 1
    assert err.strip() == (
        "error: 2 of 2 expectation(s) failed: share(503) > 0.5 [overall]: measured 0.400 (12/30) "
        "(wanted > 0.5); p99 < 1ms [overall]: measured 17.9ms (wanted < 1ms)"
    )


def test_verdict_reads_h2load_and_nighthawk_and_says_what_it_cannot_measure():
    code, out, err = cli(
        "load", "verdict", str(SAMPLES / "h2load.txt"), "--expect", "p99 < 1s", "-o", "json"
    )
    assert code == 1
    result = json.loads(out)
    assert result["engine"] == "h2load"
    assert result["expectations"][0]["measured"] == "not measured"
    assert "p99 < 1s [overall]: not measured (p99 is not in this result)" in err
    code, out, err = cli(
        "load", "verdict", str(SAMPLES / "nighthawk-fortio.json"), "--expect", "share(5xx) == 0"
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json", "--expect", "rps > 1"], "error: missing.json: No such file or directory"),
        (
            ["{h2}", "--expect", "rps >"],
            "error: --expect: 'rps >' at column 6: unexpected end (expected a value)",
        ),
        (
            ["{h2}", "--expect", "rps > 1", "--format", "fortio"],
            "error: {h2}: not fortio's JSON output",
        ),
    ],
)
def test_verdict_bad_input_is_one_line(args, message):
    h2 = str(SAMPLES / "h2load.txt")
    code, _, err = cli("load", "verdict", *[a.replace("{h2}", h2) for a in args])
    assert code == 1
    assert err.startswith(message.replace("{h2}", h2)), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def run(codes: list[int], name: str = "before") -> Result:
    samples = [
        Sample(i * 0.1, "GET /get", c, 0.002 + 0.001 * (c == 200)) for i, c in enumerate(codes)
    ]
    return Result.from_samples(samples, 3.0, engine="locust", scenario=name)


def test_compare_puts_two_runs_side_by_side(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(run([200] * 30).to_json())
    b.write_text(run([200] * 12 + [503] * 18, "after").to_json())
    code, out, err = cli("load", "compare", str(a), str(b))
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 4}
    assert "1.000 (30)" in rows["share(200)"] and "0.400 (12)" in rows["share(200)"]
    assert "0.600 (18)" in rows["share(503)"]


def test_list_names_the_scenarios():
    code, out, _ = cli("load", "list")
    assert code == 0
    assert out.split() == [
        "bookinfo-mix", "circuit-breaker", "fault-injection",
        "outlier-detection", "rate-limit", "retries", "timeouts",
    ]  # fmt: skip


def test_option_parsers():
    assert (
        parse_duration("30s") == 30 and parse_duration("2m") == 120 and parse_duration("45") == 45
    )
    assert parse_sweep("users=1..4") == [1, 2, 3, 4] and parse_sweep("users=1,2,8") == [1, 2, 8]
    with pytest.raises(ParameterError, match=r"--sweep='users=3\.\.1' is not allowed: 1 <= A <= B"):
        parse_sweep("users=3..1")
    with pytest.raises(ParameterError, match="a duration like 30s"):
        parse_duration("soon")


def test_find_max_rps_doubles_then_bisects():
    """A target that holds up to 333 rps: 10, 20 ... 320 pass, 640 fails, then bisection
    narrows [320, 640) to within 10 %."""
    found = find_max_rps(lambda rate: rate <= 333, start=10)
    assert found.passed is not None and found.failed is not None
    assert found.passed <= 333 < found.failed and found.failed / found.passed <= 1.1
    assert [r for r, _ in found.trials[:7]] == [10, 20, 40, 80, 160, 320, 640]
    assert found.describe().startswith(f"max rps in [{found.passed:g}, {found.failed:g})")
    assert find_max_rps(lambda rate: False).describe() == "no rate held: 10 rps already failed"
    capped = find_max_rps(lambda rate: True, cap=50)
    assert (capped.passed, capped.failed) == (50, None)


def test_report_files_are_private_and_plots_are_pngs(tmp_path):
    r = run([200] * 20 + [503] * 10)
    written = report.write_report(tmp_path / "rep", r, "<html>report</html>")
    names = sorted(p.name for p in written)
    assert names == ["codes.png", "fortio.json", "latency.png", "report.html", "result.json"]
    assert stat.S_IMODE((tmp_path / "rep").stat().st_mode) == 0o700
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert (tmp_path / "rep" / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "rep" / "fortio.json").read_text())["RetCodes"] == {
        "200": 20,
        "503": 10,
    }
    sweep = report.plot_sweep([(1, run([200] * 10)), (3, r)], tmp_path / "rep")
    assert sweep.read_bytes()[:4] == b"\x89PNG"


PACING = """
import time, gevent
from istiolab.load.runner import Pacer, Rounds

# Rounds: 3 greenlets send together each round, never ahead of the slowest
rounds, sent = Rounds(3), []
def user(i, pause):
    for r in range(4):
        gevent.sleep(pause)
        rounds.wait()
        sent.append((r, i, time.perf_counter()))
gevent.joinall([gevent.spawn(user, i, 0.05 * i) for i in range(3)])
by_round = {}
for r, i, t in sent:
    by_round.setdefault(r, []).append(t)
print(max(max(ts) - min(ts) for ts in by_round.values()))

# Pacer: 4 greenlets share 50 arrivals/s, evenly spaced
pacer, times = Pacer(50), []
def paced():
    for _ in range(5):
        pacer.wait()
        times.append(time.perf_counter())
gevent.joinall([gevent.spawn(paced) for _ in range(4)])
times.sort()
gaps = [b - a for a, b in zip(times, times[1:])]
print(min(gaps), max(gaps), times[-1] - times[0])
"""


def test_lockstep_rounds_and_even_pacing():
    """Lockstep: the users of a round are released together (within a few ms), however
    staggered they arrive; the pacer spaces arrivals 20 ms apart at 50/s across users."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", PACING], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    spread, (low, high, total) = (
        float(proc.stdout.split()[0]),
        [float(x) for x in proc.stdout.split()[1:]],
    )
    assert spread < 0.03, spread
    assert low > 0.002 and high < 0.1, (low, high)  # never two on one tick
    assert 0.35 < total < 0.8, total  # 19 gaps of 20 ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", ":1: invalid syntax"),
        ("import no_such_module_xyz\n", "importing it failed: ModuleNotFoundError"),
        ("X = 1\n", "no user class (write `class Client(MeshUser):`"),
        (
            "from istiolab.load.user import MeshUser\nEXPECT = 'p99 << 1s'\n"
            "class C(MeshUser):\n    pass\n",
            "EXPECT line 1: 'p99 << 1s'",
        ),
        (
            "from istiolab.load.user import MeshUser\nUSERS = 'three'\n"
            "class C(MeshUser):\n    pass\n",
            "USERS='three' is not allowed: a whole number",
        ),
    ],
)
def test_a_bad_scenario_file_is_one_line_naming_it(tmp_path, text, message):
    """Loading imports Locust (gevent), so it runs in a subprocess like `istiolab load`."""
    import subprocess
    import sys

    path = tmp_path / "bad.py"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "istiolab", "load", str(path), "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {path}"), proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_verdict_writes_fortio_json_too():
    """`-o fortio`: the result in fortio's -json shape (what fortio's tools read)."""
    code, out, err = cli(
        "load", "verdict", str(SAMPLES / "fortio-circuit-breaker.json"),
        "--expect", "share(503) > 0", "-o", "fortio",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["RetCodes"] == {"200": 18, "503": 12} and data["DurationHistogram"]["Count"] == 30
