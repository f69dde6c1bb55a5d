"""One running mesh for the hardening suite: namespace ``foo`` (sidecars) with httpbin and
sleep, on this run's own 127.<octet> prefix; teardown stops every process by PID."""

from __future__ import annotations

import os

import loopback
import pytest
from local.test_mesh import running_mesh
from security.harness import SecurityMesh

from istiolab import manifests
from istiolab.local.pki import ENV_CERT_TTL

OCTET = loopback.take("harden")


CERT_TTL = "20"  # seconds: workload certificates rotate every 10 s in this mesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("harden")

    def setup(m: SecurityMesh) -> None:
        os.environ.pop(ENV_CERT_TTL, None)  # only this mesh's supervisor has it
        m.apply([manifests.namespace("foo"), *manifests.httpbin("foo"), *manifests.sleep("foo")])

    os.environ[ENV_CERT_TTL] = CERT_TTL
    try:
        with running_mesh(root, OCTET, "none", SecurityMesh, "harden mesh", setup) as m:
            yield m
    finally:
        os.environ.pop(ENV_CERT_TTL, None)
