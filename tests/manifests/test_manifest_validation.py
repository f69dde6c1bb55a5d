"""Strict validation: Kubernetes schema, Istio API schema with unknown fields reported,
Istio's semantic rules, and the messages a learner sees."""

from __future__ import annotations

import json

import pytest
import yaml

from istiolab.env import environment_objects
from istiolab.errors import Finding, ValidationError
from istiolab.manifests import (
    check_objects,
    load_documents,
    read_documents,
    supported_kinds,
    traffic_preset,
    validate_objects,
)
from istiolab.manifests.validation import istio_api

CIRCUIT_BREAKER_TYPO = """\
apiVersion: v1
kind: Service
metadata:
  name: httpbin
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 8080
  selector:
    app: httpbin
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequest: 1
        maxRequestsPerConnection: 1
"""


def one(objects, source="t.yaml") -> Finding:
    findings = check_objects(objects, source)
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


def test_misspelled_http1_max_pending_requests(tmp_path):
    path = tmp_path / "circuit-breaker.yaml"
    path.write_text(CIRCUIT_BREAKER_TYPO)
    docs = load_documents(path)
    assert [(s, i) for s, i, _ in docs] == [(str(path), 0), (str(path), 1)]
    with pytest.raises(ValidationError) as exc:
        validate_objects([d for _, _, d in docs][1:], source=str(path))
    (finding,) = exc.value.findings
    assert finding.kind == "DestinationRule"
    assert finding.name == "httpbin"
    assert finding.path == "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest"
    assert finding.hint == "did you mean http1MaxPendingRequests?"
    from istiolab.manifests import check_documents

    (finding,) = check_documents(docs)
    assert str(finding) == (
        f"{path}: document 1 (DestinationRule/httpbin): "
        "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest: "
        'unknown field "http1MaxPendingRequest" (did you mean http1MaxPendingRequests?)'
    )


def test_unknown_field_in_kubernetes_object():
    dep = next(o for o in environment_objects() if o["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    finding = one([dep])
    assert finding.path == "spec.template.spec.containers[0].imagePullPolcy"
    assert finding.message == 'unknown field "imagePullPolcy"'
    assert finding.hint == "did you mean imagePullPolicy?"


def test_kubernetes_types_and_required_fields():
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": "eighty"}], "selector": {"app": "web"}},
    }
    finding = one([svc])
    assert (finding.path, finding.message) == (
        "spec.ports[0].port",
        "'eighty' is a string, expected integer",
    )
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"image": "nginx"}]},
            },
        },
    }
    finding = one([dep])
    assert (finding.path, finding.message) == (
        "spec.template.spec.containers[0].name",
        "required field is missing",
    )


def test_istio_types_enums_and_python_names():
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews"},
        "spec": {
            "host": "reviews",
            "trafficPolicy": {
                "loadBalancer": {"simple": "ROUND_ROBN"},
                "connectionPool": {"tcp": {"max_connections": 1}, "http": {"maxRetries": "3"}},
            },
        },
    }
    findings = {f.path: f for f in check_objects([dr])}
    enum = findings["spec.trafficPolicy.loadBalancer.simple"]
    assert enum.message == "'ROUND_ROBN' is not allowed"
    assert enum.hint.startswith("did you mean ROUND_ROBIN? allowed: UNSPECIFIED, LEAST_CONN")
    snake = findings["spec.trafficPolicy.connectionPool.tcp.max_connections"]
    assert snake.hint == "did you mean maxConnections?"
    typed = findings["spec.trafficPolicy.connectionPool.http.maxRetries"]
    assert typed.message == "'3' is a string, expected an integer"
    assert len(findings) == 3


def test_semantic_checks_of_the_webhook():
    vs = yaml.safe_load(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - match:
            - uri: {exact: /a, prefix: /b}
            fault:
              delay: {fixedDelay: -5s, percentage: {value: 150}}
            timeout: soon
            route:
            - destination: {host: reviews, subset: v1}
              weight: 90
            - destination: {host: reviews, subset: v2}
              weight: 20
        """
    )
    got = {(f.path, f.message) for f in check_objects([vs])}
    assert got == {
        ("spec.http[0].route", "route weights sum to 110, not 100"),
        (
            "spec.http[0].match[0].uri",
            "exactly one of exact, prefix, regex must be set (found exact, prefix)",
        ),
        ("spec.http[0].fault.delay.fixedDelay", "'-5s' is not a valid duration"),
        ("spec.http[0].fault.delay.percentage.value", "150 is outside 0..100"),
        ("spec.http[0].timeout", "'soon' is not a valid duration"),
    }


def test_semantic_required_fields_and_limits():
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "cb"},
        "spec": {
            "trafficPolicy": {
                "connectionPool": {"tcp": {"maxConnections": -1}},
                "outlierDetection": {"baseEjectionTime": "3 minutes", "maxEjectionPercent": 120},
            },
            "subsets": [{"name": "v1"}, {"name": "v1"}],
        },
    }
    got = {(f.path, f.message) for f in check_objects([dr])}
    assert got == {
        ("spec.host", "required field is missing"),
        ("spec.trafficPolicy.connectionPool.tcp.maxConnections", "-1 is negative"),
        (
            "spec.trafficPolicy.outlierDetection.baseEjectionTime",
            "'3 minutes' is not a valid duration",
        ),
        ("spec.trafficPolicy.outlierDetection.maxEjectionPercent", "120 is outside 0..100"),
        ("spec.subsets[1].name", "duplicate subset name 'v1'"),
    }


def test_webhook_duration_and_retry_rules():
    """Istio's webhook refuses durations under 1ms or finer than 1ms (timeout: 0s included),
    unknown retryOn conditions (no spaces after commas), and retry settings while attempts
    is 0 (off); it accepts HTTP codes and Envoy's conditions, e.g. the docs' retryOn."""
    vs = yaml.safe_load(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings}
        spec:
          hosts: [ratings]
          http:
          - route: [{destination: {host: ratings}}]
            timeout: 0s
            fault: {delay: {fixedDelay: 500us, percentage: {value: 10}}}
            retries: {perTryTimeout: 1500us, retryOn: "5xx, gateway-error,bogus,599,503"}
          - route: [{destination: {host: ratings}}]
            fault: {delay: {exponentialDelay: 1s}}
          - route: [{destination: {host: ratings}}]
            timeout: 1.5s
            fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}}
            retries:
              attempts: 3
              perTryTimeout: 1m30s
              retryOn: gateway-error,connect-failure,refused-stream,retriable-status-codes,503
        """
    )
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "ratings"},
        "spec": {
            "host": "ratings",
            "trafficPolicy": {
                "connectionPool": {"tcp": {"connectTimeout": "0s"}, "http": {"idleTimeout": "1s"}},
                "outlierDetection": {"interval": "0.5ms", "baseEjectionTime": "30s"},
            },
        },
    }
    got = {(f.path, f.message) for f in check_objects([vs, dr])}
    retry_on = "spec.http[0].retries.retryOn"
    assert got == {
        ("spec.http[0].timeout", "'0s' is shorter than 1ms"),
        ("spec.http[0].fault.delay.fixedDelay", "'500us' is shorter than 1ms"),
        ("spec.http[0].retries.perTryTimeout", "'1500us' is finer than 1ms"),
        (
            "spec.http[0].retries.attempts",
            "retries are off (attempts 0) but perTryTimeout, retryOn are set",
        ),
        (retry_on, "' gateway-error' is not a valid retryOn policy"),
        (retry_on, "'bogus' is not a valid retryOn policy"),
        (retry_on, "'599' is not a valid retryOn policy"),
        ("spec.http[1].fault.delay.exponentialDelay", "is not supported yet"),
        ("spec.trafficPolicy.connectionPool.tcp.connectTimeout", "'0s' is shorter than 1ms"),
        ("spec.trafficPolicy.outlierDetection.interval", "'0.5ms' is shorter than 1ms"),
    }
    [bogus] = [f for f in check_objects([vs]) if "'bogus'" in f.message]
    assert str(bogus) == (
        "<builder>: document 0 (VirtualService/ratings): spec.http[0].retries.retryOn: 'bogus' "
        "is not a valid retryOn policy (a comma-separated list, no spaces, of HTTP status "
        "codes and of 5xx, gateway-error, reset, reset-before-request, connect-failure, "
        "retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, "
        "envoy-ratelimited, http3-post-connect-failure, cancelled, deadline-exceeded, "
        "internal, resource-exhausted, unavailable)"
    )


def test_seed_yaml_in_older_api_versions_is_accepted():
    docs = list(
        yaml.safe_load_all(
            """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: authdenypolicy, namespace: bookinfo}
spec:
  action: DENY
  rules:
  - from: [{source: {namespaces: ["bar"]}}]
    to: [{operation: {methods: ["POST"]}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: bookinfo-ratings-port}
spec:
  host: ratings.prod.svc.cluster.local
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      loadBalancer: {simple: LEAST_CONN}
"""
        )
    )
    validate_objects(docs)


def test_deprecated_abort_percent_of_old_seeds_is_accepted_and_range_checked():
    # seed 004 aborts with `percent: 100`, the deprecated integer form of `percentage`
    text = """
        apiVersion: networking.istio.io/v1alpha3
        kind: VirtualService
        metadata: {name: backend-app}
        spec:
          hosts: [backend-app]
          http:
          - fault: {abort: {httpStatus: 500, percent: %s}}
            route: [{destination: {host: backend-app}, weight: 100}]
        """
    validate_objects([yaml.safe_load(text % 100)])
    finding = one([yaml.safe_load(text % 150)])
    assert finding.path == "spec.http[0].fault.abort.percent"
    assert finding.message == "150 is outside 0..100"
    finding = one([yaml.safe_load((text % 100).replace("percent:", "percnt:"))])
    assert finding.path == "spec.http[0].fault.abort.percnt"
    assert finding.hint.startswith("did you mean percent")


def test_unknown_kind_lists_the_supported_kinds():
    finding = one(
        [
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualServce",
                "metadata": {"name": "a"},
            }
        ]
    )
    assert finding.path == "kind"
    assert finding.message == "unknown kind 'VirtualServce' for apiVersion networking.istio.io/v1"
    assert finding.hint.startswith("did you mean VirtualService? supported kinds of networking")
    assert "DestinationRule, EnvoyFilter, Gateway" in finding.hint

    finding = one(
        [{"apiVersion": "jaegertracing.io/v1", "kind": "Jaeger", "metadata": {"name": "j"}}]
    )
    assert finding.message == "unknown apiVersion/kind jaegertracing.io/v1/Jaeger"
    assert "supported kinds: " in finding.hint
    for kind in ("AuthorizationPolicy", "Deployment", "Service", "VirtualService"):
        assert kind in finding.hint
    assert "Deployment" in supported_kinds()

    finding = one([{"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "d"}}])
    assert "Deployment is served at apiVersion apps/v1" in finding.hint

    finding = one(
        [{"apiVersion": "networking.istio.io/v2", "kind": "Gateway", "metadata": {"name": "g"}}]
    )
    assert finding.message == "Gateway is not served at networking.istio.io/v2"
    assert finding.hint == (
        "use one of: networking.istio.io/v1, networking.istio.io/v1beta1, "
        "networking.istio.io/v1alpha3"
    )


def test_common_fields():
    findings = check_objects(
        [
            {"kind": "Service", "metadata": {"name": "x"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Web_1"}},
            {"apiVersion": "v1", "kind": "Service"},
            ["not", "an", "object"],
        ]
    )
    assert [(f.index, f.path, f.message) for f in findings] == [
        (0, "apiVersion", "required field is missing (a string)"),
        (1, "metadata.name", "'Web_1' is not a valid name"),
        (2, "metadata", "required field is missing (a mapping with name)"),
        (3, "", "not a Kubernetes object but a list"),
    ]


@pytest.mark.parametrize(
    "spec",
    [[], "x", {"http": "x"}, {"http": [None, 1, {"route": "x"}]}, {"hosts": [1], "http": [{}]}],
)
def test_odd_input_gives_findings_not_crashes(spec):
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "v"},
    }
    findings = check_objects([{**vs, "spec": spec}])
    assert findings
    assert all(isinstance(f, Finding) for f in findings)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\nkind: x\n  bad: [1\n"
    )
    docs, findings = read_documents(path)
    assert [d[1] for d in docs] == [0]
    (finding,) = findings
    assert finding.line == 7
    assert str(finding).startswith(f"{path}:7:")
    assert ": document 1: invalid YAML: " in str(finding)
    with pytest.raises(ValidationError, match=r"bad.yaml:7:\d+: document 1: invalid YAML"):
        load_documents(path)


def test_directories_are_read_recursively_and_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    (tmp_path / "notes.txt").write_text("not yaml: [")
    docs = load_documents(tmp_path)
    assert [d["metadata"]["name"] for _, _, d in docs] == ["a", "b"]


def test_kubernetes_list_is_expanded():
    from istiolab.manifests.io import parse_yaml

    text = "apiVersion: v1\nkind: List\nitems:\n"
    text += "- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
    docs, findings = parse_yaml(text, "l.yaml")
    assert findings == []
    assert [(s, i, d["kind"]) for s, i, d in docs] == [("l.yaml", 0, "Namespace")]


def test_every_preset_output_passes_validation_of_its_yaml_round_trip():
    from istiolab.manifests import to_yaml

    objs = traffic_preset("circuit-breaker") + traffic_preset("fault-delay")
    validate_objects(list(yaml.safe_load_all(to_yaml(objs))))


def test_shipped_istio_api_table_matches_the_installed_models():
    shipped = json.loads(istio_api.TABLE_PATH.read_text())
    fresh = json.loads(json.dumps(istio_api.compile_table()))
    assert shipped["source"] == fresh["source"]
    assert shipped == fresh, "run: python -m istiolab.manifests.validation.istio_api"


def test_duplicate_keys_are_reported_with_both_lines(tmp_path):
    path = tmp_path / "vs.yaml"
    path.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\n"
        "spec:\n  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n"
        "  http:\n  - route: [{destination: {host: ratings}}]\n"
    )
    docs, findings = read_documents(path)
    assert docs == []
    (finding,) = findings
    assert str(finding).startswith(
        f"{path}:9:3: document 0: invalid YAML: "
        "found duplicate key 'http' (first defined on line 7)"
    )


def test_yaml_merge_keys_still_work():
    from istiolab.manifests.io import parse_yaml

    docs, findings = parse_yaml("base: &b {x: 1, y: 2}\nobj:\n  <<: *b\n  y: 3\n", "m.yaml")
    assert findings == []
    assert docs[0][2]["obj"] == {"x": 1, "y": 3}


def test_api_server_rules_for_workloads_and_services():
    from istiolab.manifests import httpbin

    sa, svc, dep = httpbin()
    dep["spec"]["template"]["metadata"]["labels"]["version"] = "v2"
    svc["spec"]["ports"].append({"name": "http", "port": 70000})
    got = {(f.path, f.message, f.hint) for f in check_objects([sa, svc, dep])}
    assert got == {
        ("spec.ports[1].port", "70000 is not a port", "1..65535"),
        ("spec.ports[1].name", "duplicate port name 'http'", ""),
        (
            "spec.template.metadata.labels",
            "selector does not match template labels",
            "the pod labels must include version=v1",
        ),
    }


def test_https_gateway_server_needs_tls():
    from istiolab.manifests import bookinfo_gateway

    gateway, _ = bookinfo_gateway()
    gateway["spec"]["servers"][0]["port"] = {"number": 443, "name": "https", "protocol": "HTTPS"}
    finding = one([gateway])
    assert (finding.path, finding.message) == (
        "spec.servers[0].tls",
        "a HTTPS server needs TLS settings",
    )
    gateway["spec"]["servers"][0]["tls"] = {"mode": "SIMPLE", "credentialName": "bookinfo-cert"}
    validate_objects([gateway])
