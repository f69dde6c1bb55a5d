"""The config store: kubectl-like apply, validation before commit, persistence, atomicity."""

from __future__ import annotations

import copy
import json
import os

import pytest

from istiolab import manifests as m
from istiolab.errors import ConfigError, NotFoundError, ValidationError
from istiolab.local.store import ConfigStore, canonical_kind

from .helpers import destination_rule, mesh_config


@pytest.fixture
def store(tmp_path):
    return ConfigStore(tmp_path)


def test_apply_answers_like_kubectl(store):
    objects = [m.namespace("default"), *m.bookinfo()]
    lines = store.apply(objects, "bookinfo.yaml")
    assert "namespace/default created" in lines
    assert "service/details created" in lines
    assert "deployment.apps/reviews-v2 created" in lines
    assert "serviceaccount/bookinfo-details created" in lines
    assert store.version == 1
    again = store.apply(objects)
    assert set(again) == {line.replace("created", "unchanged") for line in lines}
    assert store.version == 1  # nothing changed, no new version
    vs = m.traffic_preset("all-v1")
    assert "virtualservice.networking.istio.io/reviews created" in store.apply(vs)
    changed = copy.deepcopy(vs)
    changed[2]["spec"]["http"][0]["route"][0]["destination"]["subset"] = "v2"
    name = changed[2]["metadata"]["name"]
    lines = store.apply(changed)
    assert f"virtualservice.networking.istio.io/{name} configured" in lines
    assert lines.count(f"virtualservice.networking.istio.io/{name} configured") == 1
    assert store.version == 3
    [stored] = store.get("vs", name)
    assert stored["metadata"]["generation"] == 2
    assert stored["metadata"]["namespace"] == "default"


def test_refused_batch_changes_nothing(store, tmp_path):
    store.apply(m.destination_rules())
    before = (tmp_path / "store" / "objects.json").read_bytes()
    typo = destination_rule(
        "reviews",
        "reviews",
        trafficPolicy={"connectionPool": {"http": {"http1MaxPendingRequest": 1}}},
    )
    good = m.traffic_preset("all-v1")
    with pytest.raises(ValidationError) as err:
        store.apply([*good, typo], "cb.yaml")
    message = str(err.value)
    assert "cb.yaml" in message and "http1MaxPendingRequest" in message
    assert store.version == 1
    assert store.get("vs", namespace=None) == []  # the good objects were not applied either
    assert (tmp_path / "store" / "objects.json").read_bytes() == before
    reloaded = ConfigStore(tmp_path)
    assert reloaded.objects() == store.objects()


def test_missing_name_is_refused_with_the_field(store):
    with pytest.raises(ValidationError, match=r"x.yaml: document 0 .*metadata.name: is required"):
        store.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {}}], "x.yaml")


def test_bad_mesh_config_is_refused(store):
    with pytest.raises(ValidationError, match=r"data.mesh: .*mode='OPEN'.*REGISTRY_ONLY"):
        store.apply([mesh_config("outboundTrafficPolicy: {mode: OPEN}")], "mesh.yaml")
    assert store.objects() == []


def test_untranslatable_config_is_refused(store):
    svc = m.bookinfo()[0]
    svc = copy.deepcopy(next(o for o in m.bookinfo() if o["kind"] == "Service"))
    svc["spec"]["ports"][0]["targetPort"] = "no-such-port"
    with pytest.raises(ConfigError, match=r"targetPort='no-such-port' names no container port"):
        store.apply([svc], "svc.yaml")
    assert store.objects() == [] and store.version == 0


def test_persistence_across_instances(tmp_path):
    first = ConfigStore(tmp_path)
    first.apply([m.namespace("default"), *m.httpbin()])
    second = ConfigStore(tmp_path)
    assert second.version == first.version == 1
    assert second.objects() == first.objects()
    second.delete("deploy", "httpbin-v1")
    assert len(ConfigStore(tmp_path).get("deployment", namespace=None)) == 0


def test_write_is_atomic(store, tmp_path, monkeypatch):
    store.apply(m.httpbin())
    path = tmp_path / "store" / "objects.json"
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.apply(m.sleep())
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert store.get("deploy", namespace=None)[0]["metadata"]["name"] == "httpbin-v1"
    assert [p.name for p in path.parent.iterdir()] == ["objects.json"]  # no temp file left
    assert ConfigStore(tmp_path).objects() == store.objects()


def test_corrupt_store_file_is_a_clear_error(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "objects.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"objects.json: the config store is unreadable"):
        ConfigStore(tmp_path)


def test_delete(store):
    store.apply(m.traffic_preset("all-v1"))
    assert store.delete("virtualservice", "reviews") == (
        "virtualservice.networking.istio.io/reviews deleted"
    )
    with pytest.raises(NotFoundError, match=r'VirtualService "reviews" not found in namespace'):
        store.delete("vs", "reviews")
    with pytest.raises(NotFoundError, match=r"namespace prod"):
        store.delete("vs", "ratings", "prod")


def test_get_aliases_and_namespaces(store):
    store.apply([m.namespace("default"), m.namespace("other"), *m.sleep(), *m.sleep("other")])
    assert len(store.get("ns")) == 2  # cluster scoped: any namespace argument
    assert len(store.get("deploy")) == 1
    assert len(store.get("Deployment", namespace=None)) == 2
    assert len(store.get("svc", "sleep", "other")) == 1
    assert len(store.get("sa", namespace="other")) == 1
    with pytest.raises(NotFoundError, match=r'Service "nope" not found in namespace default'):
        store.get("services", "nope")
    for alias in ("vs", "virtualservices", "VirtualService", "virtualservice.networking.istio.io"):
        assert canonical_kind(alias) == "VirtualService"
    for alias, kind in [("dr", "DestinationRule"), ("gw", "Gateway"), ("se", "ServiceEntry")]:
        assert canonical_kind(alias) == kind
    assert canonical_kind("pa") == "PeerAuthentication"
    assert canonical_kind("ap") == "AuthorizationPolicy"


def test_subscribers_hear_each_commit(store):
    heard = []
    store.subscribe(heard.append)
    store.apply(m.httpbin())
    store.apply(m.httpbin())  # unchanged: no commit
    store.delete("svc", "httpbin")
    assert heard == [1, 2]
    data = json.loads((store.path).read_text())
    assert data["version"] == 2


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        (
            {"fault": {"abort": {"httpStatus": 500, "percentage": {"value": 150}}}},
            r"fault.abort.percentage.value: 150 is outside 0..100",
        ),
        ({"timeout": "-1s"}, r"timeout: .*-1s.* is not a valid duration"),
    ],
)
def test_issue4_bad_values_are_refused_with_the_field(store, http, expected):
    from .helpers import virtual_service

    vs = virtual_service(
        "ratings", ["ratings"], [{**http, "route": [{"destination": {"host": "ratings"}}]}]
    )
    with pytest.raises(ValidationError, match=expected):
        store.apply([vs], "bad.yaml")
    assert store.objects() == []
