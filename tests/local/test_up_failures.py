"""A failed `up` leaves the state directory as it was: no settings of the failed run are kept,
and its error message is about this run only."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from istiolab.local.envoy import install_hint
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
    host = f"127.{octet}.0.3"
    messages = []
    for port in (18091, 18092):  # each run's supervisor fails on its own held port
        with held(host, port):
            proc = cli_subprocess(
                *up_args(tmp_path, octet, detach=True, samples="none", gateway_port=port)
            )
        assert proc.returncode == 1
        messages.append(proc.stderr)
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert f"{host}:18091" in log and f"{host}:18092" in log
    assert "the mesh supervisor exited with code 1" in messages[1]
    assert f"cannot listen on {host}:18092" in messages[1]
    assert f"{host}:18091" not in messages[1], messages[1]


def test_up_without_an_envoy_fails_before_the_supervisor_starts(tmp_path):
    """A missing Envoy is one line from `up` itself, detached or not; nothing is logged."""
    octet = _other_octet(131)
    proc = cli_subprocess(
        *up_args(tmp_path, octet, detach=True, samples="none"),
        env={"ISTIOLAB_ENVOY": str(tmp_path / "no-envoy")},
    )
    assert proc.returncode == 1
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        f"error: ISTIOLAB_ENVOY={tmp_path / 'no-envoy'}: no executable Envoy there; "
        + install_hint()
    ]
    assert not (tmp_path / "logs" / "supervisor.log").exists()


@pytest.mark.parametrize("value", ["0", "-1"])
def test_up_refuses_a_timeout_that_is_not_positive(tmp_path, value):
    code, _, err = cli("up", "--state-dir", str(tmp_path), "--timeout", value)
    assert code == 2
    assert (
        "Invalid value for '--timeout'" in err and f"{float(value)} is not in the range x>0" in err
    )
    assert not (tmp_path / "settings.json").exists()


@pytest.mark.parametrize("value", ["gateway.local", "127.0.0.300", "::1", ""])
def test_up_refuses_a_gateway_host_that_is_no_ipv4_address(tmp_path, value):
    code, _, err = cli("up", "--state-dir", str(tmp_path), "--gateway-host", value)
    assert code == 1
    assert f"--gateway-host {value}: the gateway host must be an IPv4 address or localhost" in err
    assert "ISTIOLAB_GATEWAY_HOST" in err
    assert not (tmp_path / "settings.json").exists()


def test_gateway_host_from_the_environment_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("ISTIOLAB_GATEWAY_HOST", "my-laptop")
    code, _, err = cli("up", "--state-dir", str(tmp_path))
    assert code == 1
    assert "ISTIOLAB_GATEWAY_HOST=my-laptop: the gateway host must be an IPv4 address" in err


def test_localhost_is_the_loopback_address():
    state = StateDir("/nonexistent-istiolab-state")
    assert state.load_settings(gateway_host="localhost").gateway_host == "127.0.0.1"
    assert state.load_settings(gateway_host=" 127.1.2.3").gateway_host == "127.1.2.3"


def test_every_interface_gets_a_note(tmp_path):
    """0.0.0.0 is allowed, with a one-line note (the start fails here before binding:
    no Envoy)."""
    proc = cli_subprocess(
        "up",
        "--state-dir",
        str(tmp_path),
        "--samples",
        "none",
        "--gateway-host",
        "0.0.0.0",
        env={"ISTIOLAB_ENVOY": str(tmp_path / "no-envoy")},
    )
    assert proc.returncode == 1 and "no-envoy" in proc.stderr
    note = "note: the gateway listens on 0.0.0.0 (every interface): it is reachable from other"
    assert note in proc.stderr
