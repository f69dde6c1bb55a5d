"""One running local mesh for the security suite, shaped like Istio's mTLS and
authorization tasks: namespaces ``foo`` and ``bar`` (sidecars) and ``legacy`` (no
injection), each running sleep and httpbin, on this session's own 127.<octet> prefix with
the gateway on 127.<octet>.0.3. Tests apply policies and the ``clean`` fixture removes
every security object afterwards; teardown stops every process by PID."""

from __future__ import annotations

import random
import time

import pytest
from local.conftest import SESSION_OCTET as LOCAL_OCTET
from local.test_mesh import cli, cli_subprocess
from support import require

from istiolab import manifests
from istiolab.local import envoy
from istiolab.local.state import pid_alive

from .harness import SecurityMesh

OCTET = random.SystemRandom().choice([o for o in range(100, 250) if o != LOCAL_OCTET])
NAMESPACES = ("foo", "bar", "legacy")
SECURITY_KINDS = ("PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication")


def workloads() -> list[dict]:
    out: list[dict] = []
    for ns in NAMESPACES:
        out.append(manifests.namespace(ns, injection=ns != "legacy"))
        out += manifests.httpbin(ns) + manifests.sleep(ns)
    return out


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    try:
        envoy.find_envoy()
    except Exception as exc:
        require(False, f"the Envoy binary ({exc})")
    root = tmp_path_factory.mktemp("security-mesh")
    began = time.monotonic()
    proc = cli_subprocess(
        "up",
        "--detach",
        "--state-dir",
        str(root),
        "--samples",
        "none",
        "--octet",
        str(OCTET),
        "--gateway-host",
        f"127.{OCTET}.0.3",
        "--gateway-port",
        "8080",
        "--gateway-https-port",
        "8443",
    )
    m = SecurityMesh(root)
    try:
        assert proc.returncode == 0, proc.stderr + proc.stdout
        m.apply(workloads())
        print(f"security mesh up in {time.monotonic() - began:.1f}s on 127.{OCTET}")
        yield m
    finally:
        supervisor = m.state.running_pid()
        pids = [r["pid"] for r in m.state.read_processes()]
        cli("down", *m.sd)
        left = [p for p in [*pids, supervisor] if p is not None and pid_alive(p)]
        assert left == [], f"processes left running after down: {left}"


@pytest.fixture
def clean(mesh):
    """Remove every PeerAuthentication, AuthorizationPolicy and RequestAuthentication after
    the test (the mesh is back to Istio's defaults: PERMISSIVE, allow all)."""
    yield mesh
    mesh.remove_security()
