"""One running local mesh for the whole resilience suite (Bookinfo, httpbin, sleep, fortio on
real Envoy sidecars), on this session's own 127.<octet> prefix with the gateway on
127.<octet>.0.3:8080. Tests apply presets or seed YAML and the `clean` fixture puts the
samples back; teardown stops every process by PID and checks nothing is left."""

from __future__ import annotations

import time

import pytest
from local.test_mesh import cli, cli_subprocess
from support import require

from istiolab.local import envoy
from istiolab.local.state import pid_alive

from .harness import GATEWAY, OCTET, PORT, ExternalServer, ResilienceMesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory):
    try:
        envoy.find_envoy()
    except Exception as exc:
        require(False, f"the Envoy binary ({exc})")
    root = tmp_path_factory.mktemp("resilience-mesh")
    began = time.monotonic()
    proc = cli_subprocess(
        "up",
        "--detach",
        "--state-dir",
        str(root),
        "--samples",
        "bookinfo,httpbin,sleep,fortio",
        "--octet",
        str(OCTET),
        "--gateway-host",
        GATEWAY,
        "--gateway-port",
        str(PORT),
        "--gateway-https-port",
        "8443",
    )
    m = ResilienceMesh(root)
    try:
        assert proc.returncode == 0, proc.stderr + proc.stdout
        print(f"resilience mesh up in {time.monotonic() - began:.1f}s on 127.{OCTET}")
        yield m
    finally:
        supervisor = m.state.running_pid()
        pids = [r["pid"] for r in m.state.read_processes()]
        cli("down", *m.sd)
        left = [p for p in [*pids, supervisor] if p is not None and pid_alive(p)]
        assert left == [], f"processes left running after down: {left}"


@pytest.fixture
def clean(mesh):
    """Give the test the default samples and no routing; restore them afterwards."""
    yield mesh
    mesh.restore_samples()


@pytest.fixture
def external(request):
    """Start HTTP servers outside the mesh on loopback; each is stopped after the test."""

    def start(**kwargs) -> ExternalServer:
        server = ExternalServer(**kwargs)
        request.addfinalizer(server.stop)
        return server

    return start
