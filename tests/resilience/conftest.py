"""One running local mesh for the whole resilience suite (Bookinfo, httpbin, sleep, fortio on
real Envoy sidecars), on this session's own 127.<octet> prefix with the gateway on
127.<octet>.0.3:8080. Tests apply presets or seed YAML and the `clean` fixture puts the
samples back; teardown stops every process by PID and checks nothing is left."""

from __future__ import annotations

import pytest
from local.test_mesh import running_mesh

from .harness import OCTET, ExternalServer, ResilienceMesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("resilience-mesh")
    samples = "bookinfo,httpbin,sleep,fortio"
    # `up` deploys the default DestinationRules too; every test starts without any
    with running_mesh(
        root, OCTET, samples, ResilienceMesh, "resilience mesh", ResilienceMesh.restore_samples
    ) as m:
        yield m


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
