"""One running mesh for the hardening suite: namespace ``foo`` (sidecars) with httpbin and
sleep, on this run's own 127.<octet> prefix; teardown stops every process by PID."""

from __future__ import annotations

import os

import loopback
import pytest
from local.test_mesh import cli, running_mesh
from security.harness import SecurityMesh

from istiolab import manifests
from istiolab.local.logrotate import ENV_MAX_BYTES
from istiolab.local.pki import ENV_CERT_TTL
from istiolab.local.state import StateDir

LOG_CAP = 65536
OCTET = loopback.take("harden")


# only this mesh's supervisor gets them: certificates rotate every 10 s, logs over 64 KiB
ENVIRONMENT = {ENV_CERT_TTL: "20", ENV_MAX_BYTES: str(LOG_CAP)}


@pytest.fixture(scope="session")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("harden")

    def setup(m: SecurityMesh) -> None:
        for name in ENVIRONMENT:
            os.environ.pop(name, None)
        m.apply([manifests.namespace("foo"), *manifests.httpbin("foo"), *manifests.sleep("foo")])

    os.environ.update(ENVIRONMENT)
    try:
        with running_mesh(root, OCTET, "none", SecurityMesh, "harden mesh", setup) as m:
            yield m
    finally:
        for name in ENVIRONMENT:
            os.environ.pop(name, None)


@pytest.fixture
def state(tmp_path):
    """A private state directory whose mesh is stopped after the test, whatever happened
    (tests that start and stop their own mesh on the "harden-solo" octet)."""
    state = StateDir(tmp_path / "m")
    yield state
    cli("down", "--state-dir", str(state.root))
