"""`up --samples` on a running mesh adds the samples; `apply` of an empty input is an error."""

from __future__ import annotations

import loopback
import pytest

from istiolab.local.state import StateDir, pid_alive
from local.test_mesh import cli, cli_subprocess, up_args

pytestmark = pytest.mark.envoy


def test_up_with_samples_on_a_running_mesh_applies_them(tmp_path):
    octet = loopback.take("up-running")
    started = cli_subprocess(*up_args(tmp_path, octet, samples="sleep"))
    assert started.returncode == 0, started.stderr
    state = StateDir(tmp_path)
    try:
        code, out, err = cli(*up_args(tmp_path, octet, samples="httpbin"))
        assert code == 0, err
        assert "already running; applied samples: httpbin" in out
        assert "deployment.apps/httpbin-v1 created" in out
        assert "pod/default/httpbin-v1-" in out
        code, out, err = cli(
            "request", "--from", "sleep", "http://httpbin:8000/get", "--state-dir", str(tmp_path)
        )
        assert (code, out.strip()) == (0, "200"), err
        code, _, err = cli(*up_args(tmp_path, octet))  # no --samples: says it runs, exit 1
        assert code == 1 and "is already running" in err
    finally:
        pids = [r["pid"] for r in state.read_processes()]
        assert cli("down", "--state-dir", str(tmp_path))[0] == 0
    assert [p for p in pids if pid_alive(p)] == []


def test_apply_of_an_empty_input_is_an_error(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n---\n")
    code, _, err = cli("apply", "-f", str(empty), "--state-dir", str(tmp_path / "s"))
    assert code == 1
    assert f"{empty}: no objects passed to apply" in err
    code, _, err = cli("apply", "-f", "-", "--state-dir", str(tmp_path / "s"), stdin="")
    assert code == 1 and "<stdin>: no objects passed to apply" in err
