"""One running local mesh for the security suite, shaped like Istio's mTLS and
authorization tasks: namespaces ``foo`` and ``bar`` (sidecars) and ``legacy`` (no
injection), each running sleep and httpbin, on this session's own 127.<octet> prefix with
the gateway on 127.<octet>.0.3. Tests apply policies and the ``clean`` fixture removes
every security object afterwards; teardown stops every process by PID."""

from __future__ import annotations

import loopback
import pytest
from local.test_mesh import running_mesh

from istiolab import manifests

from .harness import SecurityMesh

OCTET = loopback.take("security")
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
    root = tmp_path_factory.mktemp("security-mesh")

    def setup(m: SecurityMesh) -> None:
        m.apply(workloads())

    with running_mesh(root, OCTET, "none", SecurityMesh, "security mesh", setup) as m:
        yield m


@pytest.fixture
def clean(mesh):
    """Remove every PeerAuthentication, AuthorizationPolicy and RequestAuthentication after
    the test (the mesh is back to Istio's defaults: PERMISSIVE, allow all)."""
    yield mesh
    mesh.remove_security()
