"""State directory: resolution, settings precedence and validation, pid file liveness."""

from __future__ import annotations

import subprocess
import sys

import pytest

from istiolab.errors import ConfigError
from istiolab.local.model import MeshSettings
from istiolab.local.state import StateDir, resolve_state_dir
from local.test_mesh import cli


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ISTIOLAB_STATE_DIR", raising=False)
    assert resolve_state_dir() == tmp_path / ".istiolab"
    monkeypatch.setenv("ISTIOLAB_STATE_DIR", str(tmp_path / "env"))
    assert resolve_state_dir() == tmp_path / "env"
    assert resolve_state_dir("opt") == tmp_path / "opt"


def test_settings_precedence_and_persistence(tmp_path, monkeypatch):
    for env in ("ISTIOLAB_OCTET", "ISTIOLAB_GATEWAY_HOST", "ISTIOLAB_GATEWAY_PORT"):
        monkeypatch.delenv(env, raising=False)
    state = StateDir(tmp_path)
    assert state.load_settings() == MeshSettings()
    state.save_settings(MeshSettings(octet=42, gateway_http_port=9080))
    assert state.load_settings().octet == 42
    monkeypatch.setenv("ISTIOLAB_OCTET", "43")
    assert state.load_settings().octet == 43
    assert state.load_settings(octet=44, gateway_host=None).octet == 44
    assert state.load_settings().gateway_http_port == 9080


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"octet": 0},
            r"^--octet 0: must be within 1..254 \(set with --octet or ISTIOLAB_OCTET\)$",
        ),
        ({"octet": "ten"}, r"^--octet ten: not an integer \(allowed: 1..254; set with --octet"),
        (
            {"gateway_http_port": 70000},
            r"^--gateway-port 70000: must be within 1..65535 "
            r"\(set with --gateway-port or ISTIOLAB_GATEWAY_PORT\)$",
        ),
        (
            {"gateway_https_port": 0},
            r"^--gateway-https-port 0: must be within 1..65535 "
            r"\(set with --gateway-https-port or ISTIOLAB_GATEWAY_HTTPS_PORT\)$",
        ),
        (
            {"privileged_ports": "maybe"},
            r"privileged_ports='maybe' \(ISTIOLAB_PRIVILEGED_PORTS\) is not allowed; "
            "use true, false or auto",
        ),
    ],
)
def test_bad_settings(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        StateDir(tmp_path).load_settings(**overrides)


def test_bad_settings_name_the_env_var_or_file_they_came_from(tmp_path, monkeypatch):
    state = StateDir(tmp_path)
    monkeypatch.setenv("ISTIOLAB_GATEWAY_PORT", "http")
    with pytest.raises(ConfigError, match=r"^ISTIOLAB_GATEWAY_PORT=http: not an integer"):
        state.load_settings()
    monkeypatch.delenv("ISTIOLAB_GATEWAY_PORT")
    state.create()
    state.settings_file.write_text('{"gateway_http_port": 70000}')
    with pytest.raises(ConfigError) as exc:
        state.load_settings()
    assert str(exc.value) == (
        f"{state.settings_file}: gateway_http_port=70000: must be within 1..65535 "
        "(set with --gateway-port or ISTIOLAB_GATEWAY_PORT)"
    )


def test_cli_names_the_flag(tmp_path):
    code, _, err = cli("up", "--state-dir", str(tmp_path), "--gateway-port", "70000")
    assert code == 1
    assert err == (
        "error: --gateway-port 70000: must be within 1..65535 "
        "(set with --gateway-port or ISTIOLAB_GATEWAY_PORT)\n"
    )
    assert not (tmp_path / "settings.json").exists()


def test_privileged_ports_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("ISTIOLAB_PRIVILEGED_PORTS", raising=False)
    state = StateDir(tmp_path)
    assert state.load_settings().privileged_ports is None  # decided by `up`
    for word, value in (("false", False), ("TRUE", True), ("auto", None), ("0", False)):
        monkeypatch.setenv("ISTIOLAB_PRIVILEGED_PORTS", word)
        assert state.load_settings().privileged_ports is value
    state.save_settings(state.load_settings(privileged_ports=False))
    monkeypatch.delenv("ISTIOLAB_PRIVILEGED_PORTS")
    assert state.load_settings().privileged_ports is False  # persisted like the others


def test_stale_pid_file_is_cleaned(tmp_path):
    state = StateDir(tmp_path)
    state.create()
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    state.pid_file.write_text(f"{p.pid}\n")
    assert state.running_pid() is None
    assert not state.pid_file.exists()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "istiolab"])
    try:
        state.pid_file.write_text(f"{live.pid}\n")
        assert state.running_pid() == live.pid
    finally:
        live.kill()
        live.wait()
    assert state.running_pid() is None
