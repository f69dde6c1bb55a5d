"""Pure translation of the security layer: the Envoy config shapes for mTLS,
PeerAuthentication, RBAC and jwt_authn, each parsed into its protobuf (ParseDict)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509

from istiolab import manifests
from istiolab.errors import ConfigError
from istiolab.local import pki, tokens
from istiolab.local.model import EXTENSION_TYPE, MeshSettings, Proxy
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.translate import build_resources
from istiolab.local.translate.security import rbac, tls
from istiolab.local.translate.security.jwt import UNREACHABLE_JWKS, jwt_config
from istiolab.local.xds.protos import to_any

SETTINGS = MeshSettings(octet=199)


def objects(*extra: dict) -> list[dict]:
    out: list[dict] = []
    for ns in ("foo", "bar", "legacy"):
        out.append(manifests.namespace(ns, injection=ns != "legacy"))
        out += manifests.httpbin(ns) + manifests.sleep(ns)
    return out + list(extra)


def resources(objs: list[dict], deployment: str = "httpbin-v1", namespace: str = "foo"):
    registry, _ = build_registry(objs, SETTINGS, {})
    pod = next(p for p in registry.pods if p.deployment == deployment and p.namespace == namespace)
    res = build_resources(objs, registry, Proxy("sidecar", pod), SETTINGS)
    for table in res.by_type().values():
        for resource in table.values():
            to_any(resource)  # every resource parses into its proto
    return res


def pa(namespace: str, mode: str, app: str | None = None, ports: dict | None = None) -> dict:
    spec: dict = {"mtls": {"mode": mode}}
    if app:
        spec["selector"] = {"matchLabels": {"app": app}}
    if ports:
        spec["portLevelMtls"] = {p: {"mode": m} for p, m in ports.items()}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": app or "default", "namespace": namespace},
        "spec": spec,
    }


def chains(res) -> list[str | None]:
    listener = res.listeners[next(n for n in res.listeners if n.endswith("_8080"))]
    return [
        (c.get("filter_chain_match") or {}).get("transport_protocol")
        for c in listener["filter_chains"]
    ]


def test_auto_mtls_to_sidecars_plaintext_to_legacy():
    res = resources(objects(), "sleep", "foo")
    socket = res.clusters["outbound|8000||httpbin.bar.svc.cluster.local"]["transport_socket"]
    ctx = socket["typed_config"]
    assert ctx["sni"] == "outbound_.8000_._.httpbin.bar.svc.cluster.local"
    common = ctx["common_tls_context"]
    assert common["alpn_protocols"] == ["istio-peer-exchange", "istio"]
    assert common["tls_certificate_sds_secret_configs"][0]["name"] == "default"
    validation = common["combined_validation_context"]
    assert validation["validation_context_sds_secret_config"]["name"] == "ROOTCA"
    assert validation["default_validation_context"]["match_typed_subject_alt_names"] == [
        {"san_type": "URI", "matcher": {"exact": "spiffe://cluster.local/ns/bar/sa/httpbin"}}
    ]
    assert "transport_socket" not in res.clusters["outbound|8000||httpbin.legacy.svc.cluster.local"]


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ([], ["tls", "raw_buffer"]),
        ([pa("istio-system", "STRICT")], ["tls"]),
        ([pa("istio-system", "STRICT"), pa("foo", "PERMISSIVE")], ["tls", "raw_buffer"]),
        ([pa("foo", "STRICT"), pa("foo", "DISABLE", app="httpbin")], [None]),
        ([pa("foo", "UNSET", app="httpbin", ports={8080: "STRICT"})], ["tls"]),
        ([pa("foo", "STRICT", app="httpbin", ports={9999: "DISABLE"})], ["tls"]),
        ([pa("bar", "STRICT")], ["tls", "raw_buffer"]),
    ],
    ids=["default", "mesh", "ns-over-mesh", "workload", "port", "other-port", "other-ns"],
)
def test_peer_authentication_filter_chains(policies, expected):
    res = resources(objects(*policies))
    assert chains(res) == expected
    listener = res.listeners[next(n for n in res.listeners if n.endswith("_8080"))]
    if "tls" in expected:
        assert listener["listener_filters"][0]["name"] == "envoy.filters.listener.tls_inspector"
        tls_chain = listener["filter_chains"][0]
        assert tls_chain["transport_socket"]["typed_config"]["require_client_certificate"]


def test_disable_on_the_server_turns_client_mtls_off():
    res = resources(objects(pa("bar", "DISABLE")), "sleep", "foo")
    assert "transport_socket" not in res.clusters["outbound|8000||httpbin.bar.svc.cluster.local"]
    dr = manifests.destination_rule("httpbin", "bar", subsets=("v1",))
    dr["spec"]["trafficPolicy"] = {"tls": {"mode": "ISTIO_MUTUAL"}}
    res = resources(objects(pa("bar", "DISABLE"), dr), "sleep", "foo")
    assert "transport_socket" in res.clusters["outbound|8000||httpbin.bar.svc.cluster.local"]
    assert "transport_socket" in res.clusters["outbound|8000|v1|httpbin.bar.svc.cluster.local"]
    dr["spec"]["trafficPolicy"]["tls"].update(
        sni="httpbin.example", subjectAltNames=["spiffe://cluster.local/ns/bar/sa/other"]
    )
    res = resources(objects(dr), "sleep", "foo")
    ctx = res.clusters["outbound|8000||httpbin.bar.svc.cluster.local"]["transport_socket"]
    assert ctx["typed_config"]["sni"] == "httpbin.example"
    validation = ctx["typed_config"]["common_tls_context"]["combined_validation_context"]
    sans = validation["default_validation_context"]["match_typed_subject_alt_names"]
    assert [s["matcher"]["exact"] for s in sans] == ["spiffe://cluster.local/ns/bar/sa/other"]


def test_inbound_hcm_gets_xfcc_and_ecds_filters():
    res = resources(objects())
    listener = res.listeners[next(n for n in res.listeners if n.endswith("_8080"))]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["forward_client_cert_details"] == "APPEND_FORWARD"
    names = [f["name"] for f in hcm["http_filters"]]
    ecds = ["istio.jwt_authn", "istio.rbac.audit", "istio.rbac.deny", "istio.rbac.allow"]
    assert names[:4] == ecds
    assert set(res.extensions) == set(names[:4])
    assert all(e["@type"] == EXTENSION_TYPE for e in res.extensions.values())
    # no policy: every filter is a no-op (no rules, no providers)
    assert all(set(e["typed_config"]) == {"@type"} for e in res.extensions.values())


def test_rbac_semantics():
    allow_nothing = {"metadata": {"name": "a", "namespace": "foo"}, "spec": {}}
    configs = rbac.rbac_configs([allow_nothing])
    assert configs["allow"]["rules"] == {"action": "ALLOW", "policies": {}}
    assert "rules" not in configs["deny"] and "rules" not in configs["audit"]
    deny_no_rules = {"metadata": {"name": "d", "namespace": "foo"}, "spec": {"action": "DENY"}}
    assert "rules" not in rbac.rbac_configs([deny_no_rules])["deny"]
    seed = manifests.security_preset("deny-namespace", namespace="foo", from_namespace="bar")
    policy = rbac.rbac_configs(seed)["deny"]["rules"]["policies"]
    [(name, body)] = policy.items()
    assert name == "ns[foo]-policy[authdenypolicy]-rule[0]"
    assert body["principals"] == [
        {"authenticated": {"principal_name": {"safe_regex": {"regex": ".*/ns/bar/.*"}}}}
    ]
    method = {"header": {"name": ":method", "string_match": {"exact": "POST"}}}
    assert body["permissions"] == [method]


def test_rbac_fields_and_conditions_parse():
    rule = {
        "from": [
            {
                "source": {
                    "principals": ["cluster.local/ns/foo/sa/sleep", "*/sa/admin"],
                    "notNamespaces": ["legacy"],
                    "ipBlocks": ["127.0.0.0/8"],
                    "requestPrincipals": ["iss/sub", "*"],
                }
            }
        ],
        "to": [
            {
                "operation": {
                    "hosts": ["httpbin.foo:8000", "*.foo"],
                    "methods": ["GET"],
                    "notPaths": ["/admin*"],
                    "ports": ["8080"],
                }
            }
        ],
        "when": [
            {"key": "request.headers[x-a]", "values": ["1"]},
            {"key": "request.auth.claims[groups]", "values": ["g"]},
            {"key": "source.principal", "notValues": ["cluster.local/ns/bar/sa/sleep"]},
            {"key": "destination.port", "values": ["8080"]},
        ],
    }
    for action in ("ALLOW", "DENY", "AUDIT"):
        spec = {"action": action, "rules": [rule]}
        policy = {"metadata": {"name": "p", "namespace": "foo"}, "spec": spec}
        for config in rbac.rbac_configs([policy]).values():
            to_any({"@type": EXTENSION_TYPE, "name": "x", "typed_config": config})
    out = rbac.rule_policy(rule)
    text = json.dumps(out)
    assert '"exact": "spiffe://cluster.local/ns/foo/sa/sleep"' in text
    assert '"suffix": "/sa/admin"' in text
    assert '"not_rule"' in text and '"not_id"' in text
    assert '"list_match"' in text  # a list claim (groups) holding the value


def test_jwt_config_shapes():
    jwks = json.dumps({"keys": [{"kty": "RSA", "e": "AQAB", "n": "AQAB", "kid": "k"}]})
    ra = manifests.security_preset("request-authentication", namespace="foo", jwks=jwks)
    config, clusters = jwt_config(ra)
    assert clusters == {}
    [(name, provider)] = config["providers"].items()
    assert provider["issuer"] == "testing@secure.istio.io"
    assert provider["payload_in_metadata"] == "payload"
    assert provider["from_headers"] == [{"name": "Authorization", "value_prefix": "Bearer "}]
    reqs = config["rules"][0]["requires"]["requires_any"]["requirements"]
    assert reqs == [{"provider_name": name}, {"allow_missing": {}}]
    ra[0]["spec"]["jwtRules"][0] = {
        "issuer": "i",
        "jwksUri": "http://localhost:9999/jwks",
        "fromHeaders": [{"name": "x-jwt"}],
        "fromParams": ["t"],
        "forwardOriginalToken": True,
    }
    config, clusters = jwt_config(ra)
    assert clusters == {}  # the control plane fetches jwksUri and inlines it (jwksfetch)
    provider = next(iter(config["providers"].values()))
    # not fetched (yet, or failed): istiod's stand-in key set, no token verifies
    assert provider["local_jwks"] == {"inline_string": UNREACHABLE_JWKS}
    assert provider["forward"] is True
    to_any({"@type": EXTENSION_TYPE, "name": "x", "typed_config": config})


def test_gateway_gets_policies_selecting_it():
    ap = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "gw", "namespace": "istio-system"},
        "spec": {
            "selector": {"matchLabels": {"istio": "ingressgateway"}},
            "action": "DENY",
            "rules": [{"to": [{"operation": {"paths": ["/ip"]}}]}],
        },
    }
    objs = objects(ap, *manifests.bookinfo_gateway("foo"))
    registry, _ = build_registry(objs, SETTINGS, {})
    res = build_resources(objs, registry, Proxy("router", gateway_pod(SETTINGS)), SETTINGS)
    assert "rules" in res.extensions["istio.rbac.deny"]["typed_config"]
    sidecar = resources(objs)
    assert "rules" not in sidecar.extensions["istio.rbac.deny"]["typed_config"]
    assert tls.peer_mode([], gateway_pod(SETTINGS), 8080) == "PERMISSIVE"


def test_workload_certificates(tmp_path):
    ca = pki.MeshCA(tmp_path)
    secrets = ca.secrets("spiffe://cluster.local/ns/foo/sa/sleep", [])
    for s in secrets.values():
        to_any(s)
    chain = secrets["default"]["tls_certificate"]["certificate_chain"]["inline_string"]
    cert = x509.load_pem_x509_certificates(chain.encode())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://cluster.local/ns/foo/sa/sleep"
    ]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(hours=25)
    assert (tmp_path / "pki" / "root-key.pem").stat().st_mode & 0o777 == 0o600
    # the same root after a restart (a new CA object on the same state directory)
    root = secrets["ROOTCA"]["validation_context"]["trusted_ca"]["inline_string"]
    again = pki.MeshCA(tmp_path).secrets("spiffe://cluster.local/ns/foo/sa/sleep", [])
    assert again["ROOTCA"]["validation_context"]["trusted_ca"]["inline_string"] == root


def test_plug_in_ca_from_cacerts(tmp_path):
    root_key, root = pki.new_root("Root CA")
    inter_auth = pki.Authority(root_key, root, "", pki._pem(root))
    # an intermediate signed by the root (the seed's `make ... localcluster-cacerts`)
    inter_key, inter = pki.new_root("Intermediate CA")
    inter = (
        x509.CertificateBuilder()
        .subject_name(inter.subject)
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(inter.not_valid_before_utc)
        .not_valid_after(inter.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(inter_auth.key, pki.hashes.SHA256())
    )
    inter_pem, root_pem = pki._pem(inter), pki._pem(root)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "istio-system"},
        "stringData": {
            "ca-cert.pem": inter_pem,
            "ca-key.pem": pki._key_pem(inter_key),
            "root-cert.pem": root_pem,
            "cert-chain.pem": inter_pem + root_pem,
        },
    }
    secrets = pki.MeshCA(tmp_path).secrets("spiffe://cluster.local/ns/foo/sa/x", [secret])
    chain = x509.load_pem_x509_certificates(
        secrets["default"]["tls_certificate"]["certificate_chain"]["inline_string"].encode()
    )
    assert [c.issuer for c in chain] == [inter.subject, root.subject, root.subject]
    chain[0].verify_directly_issued_by(inter)
    assert secrets["ROOTCA"]["validation_context"]["trusted_ca"]["inline_string"] == root_pem
    with pytest.raises(ConfigError, match=r"lacks ca-key\.pem"):
        pki.plugin_authority({"stringData": {"ca-cert.pem": inter_pem}})


def test_tokens_verify_with_the_printed_jwks(tmp_path):
    import jwt as pyjwt

    key = tokens.load_key(tmp_path)
    tok = tokens.issue(key, subject="alice", claims={"groups": ["a"]}, expires_in=60)
    public = pyjwt.PyJWK(tokens.jwks(key)["keys"][0]).key
    claims = pyjwt.decode(tok, public, algorithms=["RS256"])
    assert claims["iss"] == tokens.DEFAULT_ISSUER
    assert (claims["sub"], claims["groups"]) == ("alice", ["a"])
    assert (tmp_path / "jwt" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert tokens.jwk(tokens.load_key(tmp_path)) == tokens.jwk(key)  # kept in the state dir


def test_tcp_rules_follow_istio_tcp_semantics():
    http_allow = {"to": [{"operation": {"methods": ["GET"]}}]}
    assert rbac.tcp_rule(http_allow, "ALLOW") is None
    deny = {
        "from": [{"source": {"namespaces": ["bar"], "requestPrincipals": ["*"]}}],
        "to": [{"operation": {"methods": ["GET"], "ports": ["8080"]}}],
        "when": [{"key": "request.headers[x]", "values": ["1"]}],
    }
    assert rbac.tcp_rule(deny, "DENY") == {
        "from": [{"source": {"namespaces": ["bar"]}}],
        "to": [{"operation": {"ports": ["8080"]}}],
    }
    allow = {"metadata": {"name": "a", "namespace": "foo"}, "spec": {"rules": [http_allow]}}
    [only] = rbac.network_rbac_filters([allow], "tcp.")
    assert only["typed_config"]["rules"] == {"action": "ALLOW", "policies": {}}  # nothing
    to_any(
        {
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
            "name": "l",
            "filter_chains": [{"filters": [only]}],
        }
    )
    assert rbac.network_rbac_filters([], "tcp.") == []


def test_jwt_cli_issue_and_jwks(tmp_path):
    import jwt as pyjwt
    from local.test_mesh import cli

    sd = ("--state-dir", str(tmp_path))
    code, out, err = cli("jwt", "jwks", *sd)
    assert code == 0, err
    public = pyjwt.PyJWK(json.loads(out)["keys"][0]).key
    args = ["--sub", "bob", "--iss", "me", "--exp", "120", "--claim", "level=3"]
    code, out, err = cli("jwt", "issue", *args, "--claim", "team=blue", "--groups", "a,b", *sd)
    assert code == 0, err
    claims = pyjwt.decode(out.strip(), public, algorithms=["RS256"])
    assert (claims["sub"], claims["iss"]) == ("bob", "me")
    assert (claims["level"], claims["team"]) == (3, "blue")
    assert claims["groups"] == ["a", "b"] and claims["exp"] - claims["iat"] == 120
    code, out, err = cli("jwt", "issue", "--claim", "novalue", *sd)
    assert code == 1
    assert "--claim='novalue' is not allowed: KEY=VALUE (e.g. --claim role=admin)" in err
