"""The Kubernetes API's pure parts, without a mesh: the kind table, patches, selectors,
protobuf bodies, SPDY framing, curl's options, discovery and error wording."""

from __future__ import annotations

import struct
import zlib

import pytest

from istiolab.errors import Finding, ParameterError, ValidationError
from istiolab.local.kubeapi import discovery, patch, protobuf, spdy
from istiolab.local.kubeapi.curl import parse_curl
from istiolab.local.kubeapi.selectors import field_selector, label_selector
from istiolab.local.kubeapi.status import ApiError, from_project_error
from istiolab.manifests.kinds import BY_KIND, by_resource, canonical_kind, kind_info, lookup


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("vs", "VirtualService"),
        ("virtualservices.networking.istio.io", "VirtualService"),
        ("DestinationRule", "DestinationRule"),
        ("dr", "DestinationRule"),
        ("gw", "Gateway"),
        ("se", "ServiceEntry"),
        ("pa", "PeerAuthentication"),
        ("ra", "RequestAuthentication"),
        ("ap", "AuthorizationPolicy"),
        ("deploy", "Deployment"),
        ("po", "Pod"),
        ("ns", "Namespace"),
        ("gtw", "Gateway.gateway.networking.k8s.io"),
        ("gateways.gateway.networking.k8s.io", "Gateway.gateway.networking.k8s.io"),
        ("gateways.networking.istio.io", "Gateway"),
        ("httproute", "HTTPRoute"),
        ("refgrant", "ReferenceGrant"),
    ],
)
def test_kind_aliases(word, kind):
    assert canonical_kind(word) == kind
    assert kind_info(word).store_kind == kind


def test_kind_table_facts():
    assert by_resource("networking.istio.io", "virtualservices") is BY_KIND["VirtualService"]
    assert BY_KIND["Deployment"].api_version == "apps/v1"
    assert not BY_KIND["Namespace"].namespaced and BY_KIND["Pod"].read_only
    assert lookup("virtualservices.apps") is None
    with pytest.raises(ParameterError, match="VirtualService \\(vs\\)"):
        kind_info("virtualsvc")


def test_merge_and_strategic_patches():
    live = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}}
    assert patch.merge_patch(live, {"metadata": {"labels": {"b": None, "c": "3"}}}) == {
        "metadata": {"labels": {"a": "1", "c": "3"}},
        "spec": {"x": 1},
    }
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                        {"name": "side", "image": "s:1"},
                    ]
                }
            }
        }
    }
    smp = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                    "containers": [
                        {"name": "app", "image": "a:2"},
                        {"name": "side", "$patch": "delete"},
                    ],
                }
            }
        }
    }
    out = patch.strategic_merge(deployment, smp)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "app", "image": "a:2", "env": [{"name": "X", "value": "1"}]}]
    ports = patch.strategic_merge(
        {"ports": [{"port": 80, "name": "http"}]}, {"ports": [{"port": 443, "name": "https"}]}
    )
    assert [p["port"] for p in ports["ports"]] == [80, 443]
    entry = {"ports": [{"number": 80, "name": "http"}]}  # no merge key: replaced whole
    new = patch.strategic_merge(entry, {"ports": [{"number": 443, "name": "tls"}]})
    assert new == {"ports": [{"number": 443, "name": "tls"}]}


def test_json_patch():
    doc = {"spec": {"hosts": ["a"], "x": 1}}
    out = patch.json_patch(
        doc,
        [
            {"op": "add", "path": "/spec/hosts/-", "value": "b"},
            {"op": "replace", "path": "/spec/x", "value": 2},
            {"op": "remove", "path": "/spec/hosts/0"},
            {"op": "test", "path": "/spec/x", "value": 2},
        ],
    )
    assert out == {"spec": {"hosts": ["b"], "x": 2}}
    with pytest.raises(ApiError, match="test failed"):
        patch.json_patch(doc, [{"op": "test", "path": "/spec/x", "value": 9}])


def test_selectors():
    obj = {"metadata": {"name": "p", "namespace": "foo", "labels": {"app": "r", "version": "v2"}}}
    assert label_selector("app=r,version!=v1")(obj)
    assert label_selector("version in (v2,v3),!canary")(obj)
    assert not label_selector("version notin (v2)")(obj)
    assert label_selector("app")(obj) and not label_selector("team")(obj)
    assert field_selector("metadata.name=p,metadata.namespace!=bar")(obj)
    assert not field_selector("metadata.namespace=bar")(obj)
    with pytest.raises(ApiError):
        label_selector("app=(")


def _field(number: int, value: bytes) -> bytes:
    return bytes([number << 3 | 2, len(value)]) + value


def test_protobuf_namespace_and_configmap_bodies():
    entry = _field(1, b"istio-injection") + _field(2, b"enabled")
    meta = _field(1, b"foo") + _field(11, entry)
    type_meta = _field(1, b"v1") + _field(2, b"Namespace")
    body = protobuf.MAGIC + _field(1, type_meta) + _field(2, _field(1, meta))
    assert protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "foo", "labels": {"istio-injection": "enabled"}},
    }
    cm = _field(1, _field(1, b"cm")) + _field(2, _field(1, b"a") + _field(2, b"b"))
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, cm)
    assert protobuf.decode(body)["data"] == {"a": "b"}
    deploy = protobuf.MAGIC + _field(1, _field(1, b"apps/v1") + _field(2, b"Deployment"))
    with pytest.raises(ApiError, match="kubectl apply -f"):
        protobuf.decode(deploy)


def test_spdy_dictionary_and_frames():
    assert len(spdy.DICTIONARY) == 1423 and spdy.DICTIONARY.endswith(b"enq=0.")
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    # a client's SYN_STREAM, compressed as the Go framer does (zlib with the dictionary)
    deflate = zlib.compressobj(9, zdict=spdy.DICTIONARY)
    pairs = {"streamtype": "data", "port": "8080", "requestid": "0"}
    raw = struct.pack(">I", len(pairs)) + b"".join(
        struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        for k, v in pairs.items()
    )
    block = deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)
    syn = spdy.Codec.control(spdy.SYN_STREAM, struct.pack(">IIBB", 3, 0, 0, 0) + block)
    data = spdy.Codec.data(3, b"hello", fin=True)
    codec = spdy.Codec()
    frames = codec.feed(syn[:5]) + codec.feed(syn[5:] + data)
    assert frames[0].type == spdy.SYN_STREAM and frames[0].stream_id == 3
    assert frames[0].headers == pairs
    assert (frames[1].stream_id, frames[1].payload, frames[1].flags) == (3, b"hello", 1)
    reply = codec.syn_reply(3)
    assert reply[:4] == b"\x80\x03\x00\x02"
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert inflate.decompress(reply[12:]) == b"\x00\x00\x00\x00"


def test_curl_options():
    opts = parse_curl(["-sSI", "-o/dev/null", "-w", "%{http_code}", "-H", "a: b", "http://x"])
    assert (opts.silent, opts.show_error, opts.head, opts.output) == (True, True, True, "/dev/null")
    assert opts.headers == {"a": "b"} and opts.url == "http://x"
    assert parse_curl(["-d", "x=1", "-X", "PUT", "x:80/"]).method == "PUT"
    tls = parse_curl(
        [
            "-k",
            "--resolve",
            "a.example.com:443:127.1.0.3",
            "--cacert",
            "ca.pem",
            "https://a.example.com/",
        ]
    )
    assert tls.insecure and tls.cacert == "ca.pem"
    assert tls.resolve == {("a.example.com", 443): "127.1.0.3"}
    with pytest.raises(ValueError, match="is unknown"):
        parse_curl(["--frobnicate", "http://x"])


def test_discovery_and_openapi_documents():
    groups = {g["name"] for g in discovery.api_group_list()["groups"]}
    assert {"apps", "networking.istio.io", "security.istio.io", "telemetry.istio.io"} <= groups
    core = {r["name"]: r for r in discovery.resource_list("", "v1")["resources"]}
    assert core["pods"]["verbs"] == ["get", "list", "watch", "delete"] and "pods/exec" in core
    doc = discovery.openapi_v3_gv("networking.istio.io", "v1")
    item = doc["paths"][
        "/apis/networking.istio.io/v1/namespaces/{namespace}/virtualservices/{name}"
    ]
    params = [p["name"] for p in item["patch"]["parameters"]]
    assert "fieldValidation" in params
    assert item["patch"]["x-kubernetes-group-version-kind"]["kind"] == "VirtualService"
    index = discovery.openapi_v3_index()["paths"]
    assert index["apis/networking.istio.io/v1"]["serverRelativeURL"].startswith(
        "/openapi/v3/apis/networking.istio.io/v1?hash="
    )


def test_gateway_api_kinds_beside_istios():
    """The Gateway API's Gateway is served at its own group and keyed apart from Istio's
    (snapshot keys, table columns), so neither replaces the other."""
    from istiolab.local.kubeapi.tables import table
    from istiolab.local.kubeapi.view import snapshot

    gtw = by_resource("gateway.networking.k8s.io", "gateways")
    assert (gtw.kind, gtw.store_kind, gtw.short_names) == (
        "Gateway",
        "Gateway.gateway.networking.k8s.io",
        ("gtw",),
    )
    assert by_resource("networking.istio.io", "gateways") is BY_KIND["Gateway"]
    assert BY_KIND["Gateway.gateway.networking.k8s.io"] is gtw
    listed = {g["name"]: g for g in discovery.api_group_list()["groups"]}
    versions = [v["version"] for v in listed["gateway.networking.k8s.io"]["versions"]]
    assert versions[0] == "v1" and {"v1beta1", "v1alpha2", "v1alpha3"} <= set(versions)
    v1 = {r["name"]: r for r in discovery.resource_list("gateway.networking.k8s.io", "v1")[
        "resources"
    ]}  # fmt: skip
    assert set(v1) == {"gatewayclasses", "gateways", "httproutes", "grpcroutes"}
    assert v1["gateways"]["shortNames"] == ["gtw"] and not v1["gatewayclasses"]["namespaced"]
    doc = discovery.openapi_v3_gv("gateway.networking.k8s.io", "v1")
    assert "io.k8s.networking.gateway.v1.Gateway" in doc["components"]["schemas"]
    spec = {"gatewayClassName": "istio", "listeners": []}
    objects = [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default"}, "spec": {"servers": []}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default"}, "spec": spec,
         "status": {"addresses": [{"value": "10.0.0.9"}],
                    "conditions": [{"type": "Programmed", "status": "True"}]}},
    ]  # fmt: skip
    served = snapshot(objects, [], "2026-01-01T00:00:00Z")
    assert served[("Gateway", "default", "gw")]["spec"] == {"servers": []}
    k8s = served[("Gateway.gateway.networking.k8s.io", "default", "gw")]
    rows = table(gtw.store_kind, [k8s], "1")
    assert [c["name"] for c in rows["columnDefinitions"]] == [
        "Name",
        "Class",
        "Address",
        "Programmed",
        "Age",
    ]
    assert rows["rows"][0]["cells"][:4] == ["gw", "istio", "10.0.0.9", "True"]


def test_project_errors_in_the_api_servers_words():
    finding = Finding(
        "f",
        0,
        "DestinationRule",
        "x",
        "spec.trafficPolicy.tls.mod",
        'unknown field "mod"',
        "did you mean mode?",
    )
    err = from_project_error(ValidationError([finding]), BY_KIND["DestinationRule"], "x")
    assert err.code == 400 and err.message == (
        'DestinationRule in version "v1" cannot be handled as a DestinationRule: strict decoding '
        'error: unknown field "spec.trafficPolicy.tls.mod" (did you mean mode?)'
    )
    bad_value = Finding("f", 0, "DestinationRule", "x", "spec.host", "is required")
    err = from_project_error(ValidationError([bad_value]), BY_KIND["DestinationRule"], "x")
    assert err.code == 422 and "spec.host: Invalid value: is required" in err.message


# ------------------------------------------------------------------ services/proxy
def _service(selector: dict | None, ports: list[dict]) -> dict:
    return {"metadata": {"name": "httpbin", "namespace": "default"},
            "spec": {"selector": selector, "ports": ports}}  # fmt: skip


def _pod(name: str, ready: bool, ip: str, labels: dict, ns: str = "default") -> dict:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "httpbin",
                                 "ports": [{"name": "web", "containerPort": 8080}]}]},
        "status": {"podIP": ip, "conditions": [{"type": "Ready",
                                                "status": "True" if ready else "False"}]},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "target"),
    [("httpbin", ("httpbin", "")), ("httpbin:8000", ("httpbin", "8000")),
     ("http:httpbin:http", ("httpbin", "http"))],
)  # fmt: skip
def test_service_proxy_names(name, target):
    from istiolab.local.kubeapi.svcproxy import parse_target

    assert parse_target(name) == target


def test_service_proxy_refuses_https_and_bad_names():
    from istiolab.local.kubeapi.svcproxy import parse_target

    with pytest.raises(ApiError, match="plain HTTP"):
        parse_target("https:httpbin:8000")
    with pytest.raises(ApiError, match=r"use \[http:\]NAME\[:PORT\]"):
        parse_target("a:b:c:d")


def test_service_proxy_picks_a_ready_selected_pod_at_the_target_port():
    from istiolab.local.kubeapi.svcproxy import endpoint, tail_path

    ports = [{"name": "http", "port": 8000, "targetPort": 8080},
             {"name": "admin", "port": 9000, "targetPort": "web"}]  # fmt: skip
    svc = _service({"app": "httpbin"}, ports)
    pods = [
        _pod("other", True, "127.9.1.1", {"app": "sleep"}),
        _pod("httpbin-a", False, "127.9.1.2", {"app": "httpbin"}),
        _pod("httpbin-elsewhere", True, "127.9.1.5", {"app": "httpbin"}, ns="legacy"),
        _pod("httpbin-b", True, "127.9.1.3", {"app": "httpbin", "version": "v1"}),
    ]
    assert endpoint(svc, pods, "8000") == ("127.9.1.3", 8080)
    assert endpoint(svc, pods, "") == ("127.9.1.3", 8080)  # the first port
    assert endpoint(svc, pods, "admin") == ("127.9.1.3", 8080)  # named target port
    with pytest.raises(ApiError, match='no endpoints available for service "httpbin"'):
        endpoint(svc, pods[:2], "8000")
    with pytest.raises(ApiError, match="no endpoints available"):
        endpoint(_service(None, ports), pods, "8000")  # no selector: nothing picked
    base = "/api/v1/namespaces/default/services/httpbin:8000/proxy"
    assert tail_path(base + "/status/418", "httpbin:8000") == "/status/418"
    assert tail_path(base, "httpbin:8000") == "/"
