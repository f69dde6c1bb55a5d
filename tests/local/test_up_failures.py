"""A failed `up` leaves the state directory as it was: no settings of the failed run are kept,
and its error message is about this run only."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from istiolab.local.state import StateDir
from local.test_mesh import _other_octet, cli, cli_subprocess, up_args

pytestmark = pytest.mark.envoy


@contextlib.contextmanager
def held(host: str, port: int):
    """Hold `host:port` with a listening socket so the gateway cannot bind it."""
    holder = socket.socket()
    holder.bind((host, port))
    holder.listen(1)
    try:
        yield
    finally:
        holder.close()


@pytest.mark.parametrize("detach", [True, False], ids=["detached", "foreground"])
def test_failed_up_keeps_the_previous_settings(tmp_path, detach):
    octet = _other_octet(113 if detach else 127)
    host = f"127.{octet}.0.3"
    state = StateDir(tmp_path)
    with held(host, 18080):  # no settings yet: a failed first start leaves none
        proc = cli_subprocess(
            *up_args(tmp_path, octet, detach=detach, samples="none", gateway_port=18080)
        )
    assert proc.returncode == 1 and f"cannot listen on {host}:18080" in proc.stderr
    assert not state.settings_file.exists()

    previous = {"octet": octet, "gateway_host": host, "gateway_http_port": 18081}
    state.create()
    state.settings_file.write_text(json.dumps(previous))
    with held(host, 18082):
        proc = cli_subprocess(
            *up_args(tmp_path, octet, detach=detach, samples="none", gateway_port=18082)
        )
    assert proc.returncode == 1 and f"cannot listen on {host}:18082" in proc.stderr
    assert json.loads(state.settings_file.read_text()) == previous
    assert state.running_pid() is None
    code, out, err = cli("gateway-url", "--state-dir", str(tmp_path))
    assert (code, out.strip()) == (0, f"http://{host}:18081"), err


def test_failed_detached_up_reports_only_what_this_run_logged(tmp_path):
    """supervisor.log is appended to by every run: the error quotes this run's lines only."""
    octet = _other_octet(131)
    messages = []
    for name in ("first-envoy", "second-envoy"):
        proc = cli_subprocess(
            *up_args(tmp_path, octet, samples="none"),
            env={"ISTIOLAB_ENVOY": str(tmp_path / name)},
        )
        assert proc.returncode == 1
        messages.append(proc.stderr)
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert "first-envoy" in log and "second-envoy" in log
    assert "the mesh supervisor exited with code 1" in messages[1]
    assert "second-envoy: no executable Envoy there" in messages[1]
    assert "first-envoy" not in messages[1], messages[1]
