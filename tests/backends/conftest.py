"""One local mesh for the backend tests, driven through both backends: ``LocalBackend``
(its control API) and ``KubeBackend`` (its own Kubernetes API, context ``istiolab`` of the
kubeconfig it writes). Samples: httpbin v1 and v2, sleep and fortio (injected, namespace
``default``) and sleep in ``legacy`` (no sidecar), on this run's own 127.<octet> prefix
(tests/loopback.py), gateway on 127.<octet>.0.3:8080."""

from __future__ import annotations

import loopback
import pytest
from local.test_mesh import Mesh, running_mesh

from istiolab import manifests
from istiolab.backends import Backend
from istiolab.backends.kube import KubeBackend
from istiolab.backends.local import LocalBackend

OCTET = loopback.take("backends")
SAMPLES = "httpbin,sleep,fortio"
CONTEXT = "istiolab"  # the local mesh's kubeconfig context


GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: httpbin-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [httpbin.example.com]
"""


def _extra_samples(m: Mesh) -> None:
    legacy = manifests.namespace("legacy", injection=False)
    m.apply([*manifests.httpbin(versions=("v1", "v2")), legacy, *manifests.sleep("legacy")])
    m.ok("apply", "-f", "-", stdin=GATEWAY)  # the gateway keeps a port 80 listener throughout


@pytest.fixture(scope="session")
def local_mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("backends-mesh")
    with running_mesh(root, OCTET, SAMPLES, Mesh, "backends mesh", _extra_samples) as m:
        yield m


@pytest.fixture(scope="session")
def local(local_mesh) -> LocalBackend:
    return LocalBackend(local_mesh.root)


@pytest.fixture(scope="session")
def kube(local_mesh) -> KubeBackend:
    backend = KubeBackend(CONTEXT, kubeconfig=str(local_mesh.state.kubeconfig))
    yield backend
    backend.close()


@pytest.fixture(params=["local", "kube"])
def backend(request) -> Backend:
    """The same mesh through either backend: every test using it runs on both."""
    return request.getfixturevalue(request.param)
