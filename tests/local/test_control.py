"""The control API: JSON over a Unix socket, errors travel back as the same class."""

from __future__ import annotations

import pytest

from istiolab.errors import ConfigError, Finding, MeshError, ValidationError
from istiolab.local.control import ControlClient, ControlServer, NotRunning


def test_round_trip_and_errors(tmp_path):
    sock = tmp_path / "control.sock"

    def bad(body):
        raise ValidationError(
            [Finding("f.yaml", 2, "DestinationRule", "r", "spec.host", "required")]
        )

    routes = {
        ("GET", "/echo"): lambda body: {"got": body},
        ("POST", "/echo"): lambda body: {"got": body},
        ("POST", "/bad"): bad,
        ("POST", "/config"): lambda body: (_ for _ in ()).throw(ConfigError("octet=7 wrong")),
        ("POST", "/crash"): lambda body: 1 / 0,
    }
    server = ControlServer(sock, routes)
    server.start()
    try:
        client = ControlClient(sock, timeout=5)
        assert client.get("/echo", kind="Gateway", name=None) == {"got": {"kind": "Gateway"}}
        assert client.post("/echo", {"a": [1, 2]}) == {"got": {"a": [1, 2]}}
        with pytest.raises(ValidationError) as exc:
            client.post("/bad")
        assert str(exc.value) == "f.yaml: document 2 (DestinationRule/r): spec.host: required"
        assert exc.value.findings[0].path == "spec.host"
        with pytest.raises(ConfigError, match="octet=7 wrong"):
            client.post("/config")
        with pytest.raises(MeshError, match=r"internal error.*ZeroDivisionError"):
            client.post("/crash")
    finally:
        server.stop()
    assert not sock.exists()
    with pytest.raises(NotRunning, match=r"not running.*istiolab up"):
        ControlClient(sock).get("/echo")
