"""Nothing accepted that the local mesh silently ignores: each unenforced kind is refused at
apply with its one-line reason (or accepted with a warning and an analyze finding where
Istio accepts it and the effect is optional); each removed API gets a migration message
naming the current resource; EnvoyFilter's supported patches are applied, others refused."""

from __future__ import annotations

import pytest
import yaml

from istiolab import manifests
from istiolab.errors import ValidationError
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import build_registry
from istiolab.local.store import ConfigStore
from istiolab.local.translate import build_resources, findings
from istiolab.manifests import check_objects

REFUSED = [
    (
        "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: vm\n"
        "spec:\n  address: 10.0.0.1\n",
        "WorkloadEntry is not supported by the local mesh: the local mesh has no VMs",
        "ServiceEntry (spec.endpoints)",
    ),
    (
        "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata:\n  name: vms\n"
        "spec:\n  template:\n    serviceAccount: default\n",
        "WorkloadGroup is not supported by the local mesh",
        "ServiceEntry",
    ),
    (
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: p\n"
        "spec:\n  url: oci://example/plugin:1\n",
        "WasmPlugin is not supported by the local mesh: the local mesh cannot fetch Wasm",
        "EnvoyFilter",
    ),
    (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ing\n"
        "  annotations:\n    kubernetes.io/ingress.class: istio\nspec:\n  rules:\n"
        "  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n"
        "          service:\n            name: productpage\n            port:\n"
        "              number: 9080\n",
        "Ingress is not supported by the local mesh: the local mesh runs no Kubernetes Ingress",
        "Gateway API Gateway + HTTPRoute",
    ),
    (
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: mygateway\n"
        "spec:\n  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n"
        "      number: 443\n      name: https\n      protocol: HTTPS\n    tls:\n"
        "      mode: SIMPLE\n      serverCertificate: /etc/istio/ingressgateway-certs/tls.crt\n"
        "      privateKey: /etc/istio/ingressgateway-certs/tls.key\n    hosts:\n"
        "    - httpbin.example.com\n",
        "spec.servers[0].tls.serverCertificate: file-mounted gateway certificates are not "
        "mounted into the local gateway",
        "tls.credentialName",
    ),
    (
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef\n"
        "spec:\n  configPatches:\n  - applyTo: CLUSTER\n    match:\n"
        "      context: SIDECAR_OUTBOUND\n"
        "    patch:\n      operation: MERGE\n      value:\n        connect_timeout: 1s\n",
        "spec.configPatches[0].applyTo: applyTo CLUSTER is not supported by the local mesh",
        "applyTo HTTP_FILTER",
    ),
]

REMOVED = [
    (
        "apiVersion: authentication.istio.io/v1alpha1\nkind: MeshPolicy\nmetadata:\n"
        "  name: default\nspec:\n  peers:\n  - mtls: {}\n",
        "was removed in Istio 1.6",
        "PeerAuthentication named 'default' in the root namespace (istio-system)",
    ),
    (
        "apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\nmetadata:\n  name: jwt\n"
        "spec:\n  origins:\n  - jwt:\n      issuer: testing@secure.istio.io\n",
        "authentication.istio.io/v1alpha1/Policy was removed",
        "PeerAuthentication for mTLS (peers) and security.istio.io/v1 RequestAuthentication",
    ),
    (
        "apiVersion: config.istio.io/v1alpha2\nkind: rule\nmetadata:\n  name: denyreviewsv3\n"
        "spec:\n  match: destination.labels['app'] == 'ratings'\n",
        "was removed in Istio 1.8 (Mixer)",
        "Telemetry API (telemetry.istio.io/v1 Telemetry)",
    ),
    (
        "apiVersion: config.istio.io/v1alpha2\nkind: handler\nmetadata:\n  name: h\nspec: {}\n",
        "config.istio.io/v1alpha2/handler was removed",
        "AuthorizationPolicy",
    ),
    (
        "apiVersion: rbac.istio.io/v1alpha1\nkind: ServiceRole\nmetadata:\n  name: r\nspec: {}\n",
        "rbac.istio.io/v1alpha1/ServiceRole was removed",
        "security.istio.io/v1 AuthorizationPolicy",
    ),
]


@pytest.fixture
def store(tmp_path):
    s = ConfigStore(tmp_path)
    s.apply([manifests.namespace("default"), *manifests.httpbin(), *manifests.sleep()], "samples")
    return s


@pytest.mark.parametrize(("text", "message", "hint"), REFUSED)
def test_unenforced_kinds_are_refused_with_the_reason(store, text, message, hint):
    before = store.version
    with pytest.raises(ValidationError) as err:
        store.apply([yaml.safe_load(text)], "task.yaml")
    line = str(err.value)
    assert "task.yaml: document 0" in line and message in line and hint in line, line
    assert store.version == before  # nothing applied


@pytest.mark.parametrize(("text", "message", "hint"), REMOVED)
def test_removed_apis_name_their_replacement(text, message, hint):
    [finding] = check_objects([yaml.safe_load(text)])
    assert finding.path == "apiVersion"
    assert message in finding.message and hint in finding.hint, finding


def test_proxy_config_is_accepted_with_a_warning_and_a_finding(store):
    doc = yaml.safe_load(
        "apiVersion: networking.istio.io/v1beta1\nkind: ProxyConfig\nmetadata:\n"
        "  name: per-workload\nspec:\n  concurrency: 0\n"
    )
    lines = store.apply([doc], "pc.yaml")
    assert lines[0].startswith("Warning: ProxyConfig/per-workload: ProxyConfig is stored but")
    assert lines[-1] == "proxyconfig.networking.istio.io/per-workload created"
    objects = store.objects()
    registry, _ = build_registry(objects, MeshSettings(), {})
    assert any(
        "[ISTL0101] (ProxyConfig default/per-workload)" in f for f in findings(objects, registry)
    )


# the Istio docs' local rate limit example (their line lengths)
LOCAL_RATE_LIMIT = """
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: httpbin
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: LOCAL_RATE_LIMIT_TYPE
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append_action: APPEND_IF_EXISTS_OR_ADD
                  header:
                    key: x-local-rate-limit
                    value: 'true'
""".replace(
    "LOCAL_RATE_LIMIT_TYPE",
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
)


def test_envoy_filter_local_rate_limit_is_inserted_into_the_inbound_hcm(store):
    store.apply([yaml.safe_load(LOCAL_RATE_LIMIT)], "ratelimit.yaml")
    objects = store.objects()
    registry, _ = build_registry(objects, MeshSettings(), {})
    settings = MeshSettings()
    for app, expected in (("httpbin", True), ("sleep", False)):
        pod = next(p for p in registry.pods if p.labels.get("app") == app)
        res = build_resources(objects, registry, Proxy("sidecar", pod), settings)
        for listener in res.listeners.values():
            hcm = listener["filter_chains"][0]["filters"][-1]["typed_config"]
            if "http_filters" not in hcm:
                continue
            names = [f["name"] for f in hcm["http_filters"]]
            inbound = listener["traffic_direction"] == "INBOUND"
            assert ("envoy.filters.http.local_ratelimit" in names) == (expected and inbound)
            if expected and inbound:
                config = hcm["http_filters"][0]["typed_config"]
                assert config["@type"].endswith("local_ratelimit.v3.LocalRateLimit")
                assert config["token_bucket"]["max_tokens"] == 4
