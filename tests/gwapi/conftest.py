"""One running local mesh (session-scoped) for the Gateway API, TCP and egress suites
(Bookinfo, httpbin, sleep on real Envoy sidecars) on this session's own 127.<octet>
prefix. The ``clean`` fixture deletes every routing and policy object a test applied;
teardown stops every process by PID."""

from __future__ import annotations

import json
import os

import loopback
import pytest
from local.test_mesh import running_mesh
from resilience.harness import ResilienceMesh

from .tlsserver import issue

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


# the control plane fetches jwksUri itself (HTTPS verified with the system's roots or
# SSL_CERT_FILE): the mesh is started trusting this suite's JWKS server's CA
JWKS_HOST = f"127.{OCTET}.250.40"


@pytest.fixture(scope="session")
def jwks_ca(tmp_path_factory):
    """(ca.pem, cert.pem, key.pem) for the JWKS server on JWKS_HOST."""
    return issue(tmp_path_factory.mktemp("jwks-ca"), JWKS_HOST)


@pytest.fixture(scope="session")
def mesh(tmp_path_factory, jwks_ca):
    root = tmp_path_factory.mktemp("gwapi-mesh")
    old = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(jwks_ca[0])  # only for `up` (the detached supervisor)
    started = running_mesh(root, OCTET, "bookinfo,httpbin,sleep", GatewayApiMesh, "gwapi mesh")
    try:
        m = started.__enter__()
    finally:
        if old is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = old
    try:
        yield m
    finally:
        started.__exit__(None, None, None)


@pytest.fixture
def clean(mesh):
    yield mesh
    mesh.clear()
