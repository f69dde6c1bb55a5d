"""One local mesh (httpbin, sleep, fortio on real Envoy sidecars) for the backend tests, on
this run's own 127.<octet> prefix (tests/loopback.py), gateway on 127.<octet>.0.3:8080."""

from __future__ import annotations

import loopback
import pytest
from local.test_mesh import Mesh, running_mesh

from istiolab.backends.local import LocalBackend

OCTET = loopback.take("backends")
SAMPLES = "httpbin,sleep,fortio"


@pytest.fixture(scope="session")
def local_mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("backends-mesh")
    with running_mesh(root, OCTET, SAMPLES, Mesh, "backends mesh") as m:
        yield m


@pytest.fixture(scope="session")
def local(local_mesh) -> LocalBackend:
    return LocalBackend(local_mesh.root)
