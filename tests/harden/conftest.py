"""One running mesh for the hardening suite: namespace ``foo`` (sidecars) with httpbin and
sleep, on this run's own 127.<octet> prefix; teardown stops every process by PID."""

from __future__ import annotations

import loopback
import pytest
from local.test_mesh import running_mesh
from security.harness import SecurityMesh

from istiolab import manifests

OCTET = loopback.take("harden")


@pytest.fixture(scope="session")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("harden")

    def setup(m: SecurityMesh) -> None:
        m.apply([manifests.namespace("foo"), *manifests.httpbin("foo"), *manifests.sleep("foo")])

    with running_mesh(root, OCTET, "none", SecurityMesh, "harden mesh", setup) as m:
        yield m
