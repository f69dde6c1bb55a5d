"""The ADS server's protocol handling, driven by a gRPC client playing Envoy."""

from __future__ import annotations

import queue

import grpc
import pytest
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from istiolab.errors import MeshError
from istiolab.local.model import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    EXTENSION_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    SECRET_TYPE,
    ProxyResources,
)
from istiolab.local.supervisor import wait_until
from istiolab.local.xds import XdsServer

from .envoy_harness import free_port, random_octet

CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


def cluster(name: str) -> dict:
    return {"@type": CLUSTER_TYPE, "name": name, "type": "EDS", "connect_timeout": "1s"}


def cla(name: str) -> dict:
    return {"@type": CLA, "cluster_name": name}


class FakeEnvoy:
    def __init__(self, address: str, node_id: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.requests: queue.Queue = queue.Queue()
        self.node_id = node_id
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        self.responses = stub.StreamAggregatedResources(iter(self.requests.get, None))

    def send(self, type_url: str, *, names=(), version="", nonce="", error=None) -> None:
        req = discovery_pb2.DiscoveryRequest(
            type_url=type_url,
            resource_names=list(names),
            version_info=version,
            response_nonce=nonce,
        )
        req.node.id = self.node_id
        if error:
            req.error_detail.code = 3
            req.error_detail.message = error
        self.requests.put(req)

    def recv(self):
        return next(self.responses)

    def close(self) -> None:
        self.requests.put(None)
        self.channel.close()


@pytest.fixture
def server(request):
    host = f"127.{random_octet()}.0.1"
    state = {"clusters": {"a": cluster("a"), "b": cluster("b")}}

    def resources_for(node_id: str):
        if node_id == "unknown":
            return None
        return ProxyResources(
            clusters=state["clusters"], endpoints={n: cla(n) for n in state["clusters"]}
        )

    xds = XdsServer(host, free_port(host), resources_for)
    xds.start()
    request.addfinalizer(xds.stop)
    xds.state = state
    return xds


@pytest.fixture
def envoy(request, server):
    fake = FakeEnvoy(f"{server.host}:{server.port}", "sidecar~127.0.0.9~x.default~default.svc")
    request.addfinalizer(fake.close)
    return fake


def test_sotw_ack_nack_and_named_resources(server, envoy):
    envoy.send(CLUSTER_TYPE)
    cds = envoy.recv()
    assert cds.type_url == CLUSTER_TYPE and len(cds.resources) == 2 and cds.nonce
    envoy.send(ENDPOINT_TYPE, names=["a"])
    eds = envoy.recv()
    assert len(eds.resources) == 1  # only what was asked for, by name
    envoy.send(CLUSTER_TYPE, version=cds.version_info, nonce=cds.nonce)  # ACK
    envoy.send(ENDPOINT_TYPE, names=["a"], version=eds.version_info, nonce=eds.nonce)
    envoy.send(LISTENER_TYPE)
    lds = envoy.recv()
    assert lds.type_url == LISTENER_TYPE and len(lds.resources) == 0
    envoy.send(LISTENER_TYPE, version=lds.version_info, nonce=lds.nonce)
    assert server.wait_synced([envoy.node_id], 5)
    [status] = server.status()
    assert [status.state(k) for k in ("CDS", "EDS", "LDS", "RDS")] == [
        "SYNCED",
        "SYNCED",
        "SYNCED",
        "NOT SENT",
    ]
    assert status.to_dict()["types"]["CDS"]["resources"] == 2

    # a push with the same content sends nothing; a change sends only the changed type
    server.push()
    server.state["clusters"] = {"a": cluster("a")}
    version = server.push()
    cds2 = envoy.recv()
    assert cds2.type_url == CLUSTER_TYPE and len(cds2.resources) == 1
    assert cds2.version_info != cds.version_info
    assert not server.wait_synced([envoy.node_id], 0.3)  # not ACKed yet
    assert server.status()[0].state("CDS") == "STALE"
    envoy.send(CLUSTER_TYPE, version=cds.version_info, nonce=cds2.nonce, error="bad cluster")
    envoy.send(CLUSTER_TYPE, version=cds.version_info, nonce="stale-nonce")  # ignored
    assert not server.wait_synced([envoy.node_id], 0.3)
    status = server.status()[0]
    assert status.state("CDS") == "NACK" and status.types["CDS"].nack == "bad cluster"
    assert status.push_version == version and not status.synced


def test_unknown_proxy_gets_nothing_until_it_has_resources(server):
    fake = FakeEnvoy(f"{server.host}:{server.port}", "unknown")
    try:
        fake.send(CLUSTER_TYPE)
        assert not server.wait_synced(["unknown"], 0.3)
        assert server.status()[0].state("CDS") == "NOT SENT"
    finally:
        fake.close()
    assert not server.wait_synced(["never-connected"], 0.1)


def test_port_in_use_is_a_mesh_error(server):
    other = XdsServer(server.host, server.port, lambda _: None)
    with pytest.raises(MeshError, match=rf"cannot listen on {server.host}:{server.port}"):
        other.start()


def test_each_distinct_resource_is_parsed_once(monkeypatch):
    from istiolab.local.xds import protos, server

    parsed = []
    real = protos.to_any
    monkeypatch.setattr(protos, "to_any", lambda r, t=None: parsed.append(r["name"]) or real(r, t))
    encoder = protos.Encoder()
    a, b = cluster("a"), cluster("a")  # equal content, two dicts (two proxies)
    first = encoder.encode(server.canonical(a), a)
    assert encoder.encode(server.canonical(b), b) is first and parsed == ["a"]
    changed = {**a, "connect_timeout": "2s"}
    assert encoder.encode(server.canonical(changed), changed) is not first
    bad = {**a, "no_such_field": 1}
    for _ in range(2):  # an invalid resource is refused every time, never cached
        with pytest.raises(MeshError, match=r"'a'.*not valid"):
            encoder.encode(server.canonical(bad), bad)
    assert parsed == ["a", "a", "a", "a"]


def test_content_version_ignores_order_and_follows_content():
    from istiolab.local.xds.server import content_version

    a, b = ("a", cluster("a")), ("b", cluster("b"))
    assert content_version([a, b]) == content_version([b, a])
    assert content_version([a, b]) != content_version([a, ("b", cluster("c"))])


def test_a_type_unsubscribed_by_name_is_not_waited_for(server, envoy):
    envoy.send(CLUSTER_TYPE)
    cds = envoy.recv()
    envoy.send(CLUSTER_TYPE, version=cds.version_info, nonce=cds.nonce)
    envoy.send(LISTENER_TYPE)
    lds = envoy.recv()
    envoy.send(LISTENER_TYPE, version=lds.version_info, nonce=lds.nonce)
    envoy.send(ENDPOINT_TYPE, names=["a"])
    eds = envoy.recv()
    envoy.send(ENDPOINT_TYPE, names=["a"], version=eds.version_info, nonce=eds.nonce)
    assert server.wait_synced([envoy.node_id], 5)
    # Envoy drops its last EDS watch: it would ignore any EDS response from now on
    envoy.send(ENDPOINT_TYPE, names=[], version=eds.version_info, nonce=eds.nonce)
    wait_until(lambda: "EDS" not in server.status()[0].types, 5, "the unsubscription")
    server.state["clusters"] = {"a": cluster("a"), "b": cluster("b"), "c": cluster("c")}
    server.push()
    cds2 = envoy.recv()
    assert cds2.type_url == CLUSTER_TYPE  # and no EDS response follows
    envoy.send(CLUSTER_TYPE, version=cds2.version_info, nonce=cds2.nonce)
    assert server.wait_synced([envoy.node_id], 5)
    assert "EDS" not in server.status()[0].types
    # subscribing again (answering the old nonce, as Envoy does) gets a response
    envoy.send(ENDPOINT_TYPE, names=["c"], version=eds.version_info, nonce=eds.nonce)
    again = envoy.recv()
    assert again.type_url == ENDPOINT_TYPE and len(again.resources) == 1


RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"


def gateway_resources(listening: bool, clusters: tuple[str, ...] = ("a",)) -> ProxyResources:
    """A gateway's resources: with its HTTPS listener (its routes, ECDS filters and secret
    are subscribed by name) or, once its last Gateway is deleted, without."""
    listeners = {"https": {"@type": LISTENER_TYPE, "name": "https"}} if listening else {}
    return ProxyResources(
        clusters={n: cluster(n) for n in clusters},
        listeners=listeners,
        routes={"https.443": {"@type": ROUTE_TYPE, "name": "https.443"}},
        secrets={"cred": {"@type": SECRET_TYPE, "name": "cred"}},
        extensions={
            n: {"@type": EXTENSION_TYPE, "name": n, "typed_config": {"@type": RBAC}}
            for n in ("gw.authz", "gw.jwt")
        },
    )


def test_after_the_last_gateway_is_deleted_pushes_do_not_wait_for_the_gateway(request):
    """Deleting the gateway's last Gateway makes Envoy drop its listener, then its RDS,
    ECDS (name by name) and SDS watches; it would ACK no response for those types again,
    so the next apply must be synced at once, not after the 10 s sync timeout."""
    host = f"127.{random_octet()}.0.1"
    state = {"resources": gateway_resources(True)}
    xds = XdsServer(host, free_port(host), lambda _: state["resources"])
    xds.start()
    request.addfinalizer(xds.stop)
    gw = FakeEnvoy(f"{host}:{xds.port}", "router~127.0.0.9~gw.istio-system~istio-system.svc")
    request.addfinalizer(gw.close)

    def subscribe(type_url: str, names=(), *, last=None):
        """Send a (re)subscription answering ``last``, ACK the response; return it."""
        version, nonce = (last.version_info, last.nonce) if last else ("", "")
        gw.send(type_url, names=names, version=version, nonce=nonce)
        response = gw.recv()
        assert response.type_url == type_url
        gw.send(type_url, names=names, version=response.version_info, nonce=response.nonce)
        return response

    subscribe(CLUSTER_TYPE)
    lds = subscribe(LISTENER_TYPE)
    rds = subscribe(ROUTE_TYPE, ["https.443"])
    ecds = subscribe(EXTENSION_TYPE, ["gw.authz", "gw.jwt"])
    sds = subscribe(SECRET_TYPE, ["cred"])
    assert xds.wait_synced([gw.node_id], 5)

    state["resources"] = gateway_resources(False)  # the Gateway is deleted
    xds.push()
    lds2 = gw.recv()
    assert lds2.type_url == LISTENER_TYPE and not lds2.resources
    gw.send(LISTENER_TYPE, version=lds2.version_info, nonce=lds2.nonce)
    ecds = subscribe(EXTENSION_TYPE, ["gw.jwt"], last=ecds)  # one filter config at a time
    for type_url, last in ((EXTENSION_TYPE, ecds), (ROUTE_TYPE, rds), (SECRET_TYPE, sds)):
        gw.send(type_url, names=[], version=last.version_info, nonce=last.nonce)
    wait_until(
        lambda: not {"RDS", "ECDS", "SDS"} & set(xds.status()[0].types), 5, "the unsubscriptions"
    )
    assert xds.wait_synced([gw.node_id], 5)

    # the next apply: only the changed type is sent, and its ACK is all the sync needs
    state["resources"] = gateway_resources(False, ("a", "b"))
    xds.push()
    cds = gw.recv()
    assert cds.type_url == CLUSTER_TYPE and len(cds.resources) == 2
    gw.send(CLUSTER_TYPE, version=cds.version_info, nonce=cds.nonce)
    assert xds.wait_synced([gw.node_id], 5)
    assert lds.version_info != lds2.version_info
    # listening again (a new Gateway), the gateway subscribes again and is answered
    state["resources"] = gateway_resources(True, ("a", "b"))
    xds.push()
    assert gw.recv().type_url == LISTENER_TYPE
    again = subscribe(ROUTE_TYPE, ["https.443"], last=rds)
    assert len(again.resources) == 1


def test_the_encoder_cache_is_bounded_least_recently_used_first():
    from istiolab.local.xds import protos, server

    encoder = protos.Encoder(max_bytes=2000)
    kept = cluster("kept")
    for i in range(200):  # far more than fits
        encoder.encode(server.canonical(kept), kept)  # used again and again: stays
        c = cluster(f"c{i}")
        encoder.encode(server.canonical(c), c)
    entries, size = encoder.size
    assert size <= 2000 and entries < 40
    first = encoder.encode(server.canonical(kept), kept)
    assert encoder.encode(server.canonical(kept), kept) is first
