"""One running local mesh for the Gateway API, TCP and egress suites (Bookinfo, httpbin,
sleep on real Envoy sidecars) on this session's own 127.<octet> prefix. The ``clean``
fixture deletes every routing and policy object a test applied; teardown stops every
process by PID."""

from __future__ import annotations

import json

import loopback
import pytest
from local.test_mesh import running_mesh
from resilience.harness import ResilienceMesh

OCTET = loopback.take("gwapi")
# what tests apply and `clean` removes (kind words as `istiolab get` takes them)
ROUTING = (
    "httproute",
    "grpcroute",
    "tcproute",
    "tlsroute",
    "referencegrant",
    "gtw",
    "VirtualService",
    "DestinationRule",
    "ServiceEntry",
    "Gateway",
    "RequestAuthentication",
    "AuthorizationPolicy",
    "EnvoyFilter",
)

# the samples' own gateways and routes (both APIs) stay
KEEP = ("bookinfo", "bookinfo-gateway")


class GatewayApiMesh(ResilienceMesh):
    def clear(self) -> None:
        for kind in ROUTING:
            for item in json.loads(self.ok("get", kind, "-A", "-o", "json"))["items"]:
                md = item["metadata"]
                if md["name"] in KEEP:
                    continue
                self.ok("delete", kind, md["name"], "-n", md.get("namespace", "default"))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("gwapi-mesh")
    with running_mesh(root, OCTET, "bookinfo,httpbin,sleep", GatewayApiMesh, "gwapi mesh") as m:
        yield m


@pytest.fixture
def clean(mesh):
    yield mesh
    mesh.clear()
