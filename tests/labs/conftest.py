"""One local mesh for every lab test that needs one (Bookinfo, httpbin, sleep, fortio on real
Envoy), on this run's own 127.<octet> prefix (tests/loopback.py), gateway on
127.<octet>.0.3:8080/8443. Every lab's start and cleanup keep it reusable across tests."""

from __future__ import annotations

import loopback
import pytest
from local.test_mesh import Mesh, running_mesh

from istiolab.backends.local import LocalBackend

OCTET = loopback.take("labs")


@pytest.fixture(scope="session")
def lab_mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("labs-mesh")
    with running_mesh(root, OCTET, "bookinfo,httpbin,sleep,fortio", Mesh, "labs mesh") as m:
        yield m


@pytest.fixture(scope="session")
def backend(lab_mesh):
    with LocalBackend(lab_mesh.root) as b:
        yield b
