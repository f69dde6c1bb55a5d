"""Every builder: the facts it must carry (names, ports, labels, images) and that its
objects pass the strict validation."""

from __future__ import annotations

import json

import pytest
import yaml

from istiolab import versions
from istiolab.errors import ParameterError
from istiolab.manifests import (
    ADDONS,
    addons,
    bookinfo,
    bookinfo_gateway,
    destination_rules,
    fortio,
    httpbin,
    namespace,
    sleep,
    validate_objects,
)


def by(objects, kind, name):
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, (
        f"{kind}/{name} in {[(o['kind'], o['metadata']['name']) for o in objects]}"
    )
    return hits[0]


def containers(deployment):
    return deployment["spec"]["template"]["spec"]["containers"]


def test_namespace_with_and_without_injection():
    labelled = namespace("lab")
    assert labelled == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "lab", "labels": {"istio-injection": "enabled"}},
    }
    plain = namespace("legacy", injection=False)
    assert "labels" not in plain["metadata"]
    validate_objects([labelled, plain])


def test_namespace_rejects_bad_name():
    with pytest.raises(ParameterError, match=r"namespace='Book_Info' is not allowed: a DNS-1123"):
        namespace("Book_Info")


def test_bookinfo_services_accounts_deployments():
    objs = bookinfo("bookinfo")
    validate_objects(objs)
    assert all(o["metadata"]["namespace"] == "bookinfo" for o in objs)
    deployments = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Deployment")
    assert deployments == [
        "details-v1",
        "productpage-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
    ]
    for svc in ("details", "ratings", "reviews", "productpage"):
        service = by(objs, "Service", svc)
        assert service["spec"]["ports"] == [{"name": "http", "port": 9080}]
        assert service["spec"]["selector"] == {"app": svc}
        by(objs, "ServiceAccount", f"bookinfo-{svc}")
    reviews_v3 = by(objs, "Deployment", "reviews-v3")
    labels = reviews_v3["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "reviews", "version": "v3"}
    assert reviews_v3["spec"]["selector"]["matchLabels"] == labels
    assert reviews_v3["spec"]["template"]["spec"]["serviceAccountName"] == "bookinfo-reviews"
    (container,) = containers(reviews_v3)
    assert container["image"] == (
        "registry.istio.io/release/examples-bookinfo-reviews-v3:1.20.3"  # 1.30.3 bookinfo.yaml
    )
    assert container["ports"] == [{"containerPort": 9080}]


def test_httpbin_versions_and_ports():
    objs = httpbin(versions=("v1", "v2"))
    validate_objects(objs)
    service = by(objs, "Service", "httpbin")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": 8080}]
    for version in ("v1", "v2"):
        deployment = by(objs, "Deployment", f"httpbin-{version}")
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"] == {"app": "httpbin", "version": version}
        assert pod["spec"]["serviceAccountName"] == "httpbin"
        assert containers(deployment)[0]["image"] == versions.HTTPBIN_IMAGE
        assert containers(deployment)[0]["ports"] == [{"containerPort": 8080}]
    assert [o["metadata"]["name"] for o in httpbin() if o["kind"] == "Deployment"] == ["httpbin-v1"]


def test_httpbin_rejects_unknown_version():
    with pytest.raises(ParameterError, match=r"versions=\('v3',\) .* subset of v1, v2"):
        httpbin(versions=("v3",))


def test_sleep_is_a_curl_client():
    objs = sleep("foo")
    validate_objects(objs)
    (container,) = containers(by(objs, "Deployment", "sleep"))
    assert "curlimages/curl" in container["image"]
    assert container["command"] == ["/bin/sleep", "infinity"]
    assert by(objs, "Service", "sleep")["spec"]["ports"] == [{"name": "http", "port": 80}]


def test_fortio_client_exposes_circuit_breaker_stats():
    objs = fortio()
    validate_objects(objs)
    deployment = by(objs, "Deployment", "fortio-deploy")
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"] == {"app": "fortio"}
    config = pod["metadata"]["annotations"]["proxy.istio.io/config"]
    assert config == (
        '{"proxyStatsMatcher":{"inclusionPrefixes":["cluster.outbound","cluster_manager",'
        '"listener_manager","server","cluster.xds-grpc"]}}'
    )
    assert json.loads(config)["proxyStatsMatcher"]["inclusionPrefixes"][0] == "cluster.outbound"
    assert containers(deployment)[0]["image"] == versions.FORTIO_IMAGE
    assert by(objs, "Service", "fortio")["spec"]["selector"] == {"app": "fortio"}


def test_bookinfo_gateway_and_virtual_service():
    gateway, vs = bookinfo_gateway(hosts=("bookinfo.app",))
    validate_objects([gateway, vs])
    assert gateway["apiVersion"] == "networking.istio.io/v1"
    assert gateway["metadata"]["name"] == "bookinfo-gateway"
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    assert gateway["spec"]["servers"] == [
        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["bookinfo.app"]}
    ]
    assert vs["metadata"]["name"] == "bookinfo"
    assert vs["spec"]["hosts"] == ["bookinfo.app"]
    assert vs["spec"]["gateways"] == ["bookinfo-gateway"]
    (route,) = vs["spec"]["http"]
    assert route["match"] == [
        {"uri": {"exact": "/productpage"}},
        {"uri": {"prefix": "/static"}},
        {"uri": {"exact": "/login"}},
        {"uri": {"exact": "/logout"}},
        {"uri": {"prefix": "/api/v1/products"}},
    ]
    assert route["route"] == [{"destination": {"host": "productpage", "port": {"number": 9080}}}]
    assert bookinfo_gateway()[0]["spec"]["servers"][0]["hosts"] == ["*"]


def test_bookinfo_gateway_rejects_bad_hosts():
    with pytest.raises(ParameterError, match=r"hosts=\('Bad Host',\) .* '\*', 'bookinfo.app'"):
        bookinfo_gateway(hosts=("Bad Host",))
    with pytest.raises(ParameterError, match=r"hosts=\(\) is not allowed"):
        bookinfo_gateway(hosts=())


@pytest.mark.parametrize("mtls", [False, True])
def test_destination_rules_plain_and_mutual(mtls):
    rules = destination_rules(mtls=mtls)
    validate_objects(rules)
    assert [r["metadata"]["name"] for r in rules] == [
        "details",
        "ratings",
        "reviews",
        "productpage",
    ]
    reviews = by(rules, "DestinationRule", "reviews")
    assert reviews["spec"]["host"] == "reviews"
    assert reviews["spec"]["subsets"] == [
        {"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")
    ]
    policy = reviews["spec"].get("trafficPolicy")
    assert policy == ({"tls": {"mode": "ISTIO_MUTUAL"}} if mtls else None)


def test_destination_rules_for_httpbin_and_unknown_service():
    (rule,) = destination_rules(services=["httpbin"])
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["v1", "v2"]
    with pytest.raises(ParameterError, match=r"services=\('nginx',\) .* details, ratings"):
        destination_rules(services=["nginx"])


def _kiali_config(objs):
    return yaml.safe_load(by(objs, "ConfigMap", "kiali")["data"]["config.yaml"])


def test_kiali_links_only_to_the_addons_that_are_deployed():
    services = _kiali_config(addons(names=["prometheus", "kiali"]))["external_services"]
    assert services["grafana"] == {"enabled": False}
    assert services["tracing"] == {"enabled": False}
    services = _kiali_config(addons())["external_services"]
    assert services["grafana"]["enabled"] and services["tracing"]["enabled"]
    assert services["tracing"]["internal_url"] == "http://tracing.istio-system:16685/jaeger"


def test_kiali_may_read_the_injection_webhooks():
    role = by(addons(names=["kiali"]), "ClusterRole", "kiali")
    assert any(
        "admissionregistration.k8s.io" in r["apiGroups"]
        and "mutatingwebhookconfigurations" in r["resources"]
        and {"get", "list", "watch"} <= set(r["verbs"])
        for r in role["rules"]
    )


def test_jaeger_2_reads_its_config_and_takes_zipkin_and_otlp():
    objs = addons(names=["jaeger"])
    validate_objects(objs)
    config = yaml.safe_load(by(objs, "ConfigMap", "jaeger")["data"]["config.yaml"])
    assert config["receivers"]["zipkin"]["endpoint"].endswith(":9411")
    assert config["extensions"]["jaeger_query"]["base_path"] == "/jaeger"
    (container,) = by(objs, "Deployment", "jaeger")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "docker.io/jaegertracing/jaeger:2.14.0"
    assert container["args"] == ["--config", "/jaeger-configuration/config.yaml"]
    assert by(objs, "Service", "zipkin")["spec"]["ports"][0]["port"] == 9411


def test_addons_cluster_ip_by_default_and_node_ports_of_seed_002():
    plain = addons()
    validate_objects(plain)
    for name in ("prometheus", "grafana", "kiali", "jaeger"):
        by(plain, "Deployment", name)
    assert all(o["spec"].get("type") is None for o in plain if o["kind"] == "Service")

    exposed = addons(node_port=True)
    validate_objects(exposed)
    kiali = by(exposed, "Service", "kiali")
    assert kiali["spec"]["type"] == "NodePort"
    ports = {p["name"]: (p["port"], p["nodePort"]) for p in kiali["spec"]["ports"]}
    assert ports == {"http": (20001, 30007), "http-metrics": (9090, 30008)}
    prometheus = by(exposed, "Service", "prometheus")
    assert prometheus["spec"]["type"] == "NodePort"
    assert prometheus["spec"]["ports"][0]["port"] == 9090
    assert prometheus["spec"]["ports"][0]["nodePort"] == 30009
    assert by(exposed, "Service", "grafana")["spec"]["ports"][0]["port"] == 3000
    tracing = by(exposed, "Service", "tracing")
    assert tracing["spec"]["ports"][0] == {
        "name": "http-query",
        "port": 80,
        "protocol": "TCP",
        "targetPort": 16686,
        "nodePort": 30011,
    }


def test_grafana_provisions_prometheus_and_the_mesh_dashboard():
    """Grafana opens with Prometheus as its datasource and an Istio dashboard in the folder
    `istio` (as Istio's Grafana addon does): every mounted file is one the builder wrote,
    every panel names the provisioned datasource, and queries use Istio's metric names."""
    import yaml

    objs = addons(names=["prometheus", "grafana"])
    validate_objects(objs)
    pod = by(objs, "Deployment", "grafana")["spec"]["template"]["spec"]
    volumes = {v["name"]: v["configMap"] for v in pod["volumes"] if "configMap" in v}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    files = {}  # mounted path -> content
    for name, source in volumes.items():
        data = by(objs, "ConfigMap", source["name"])["data"]
        keys = [i["key"] for i in source.get("items", [])] or list(data)
        files.update({f"{mounts[name]}/{k}": data[k] for k in keys})

    [datasource] = yaml.safe_load(files["/etc/grafana/provisioning/datasources/datasources.yaml"])[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus.istio-system:9090"
    assert datasource["isDefault"] is True
    [provider] = yaml.safe_load(
        files["/etc/grafana/provisioning/dashboards/dashboardproviders.yaml"]
    )["providers"]
    assert (provider["type"], provider["folder"]) == ("file", "istio")
    dashboard_files = [p for p in files if p.startswith(provider["options"]["path"] + "/")]
    assert dashboard_files == ["/var/lib/grafana/dashboards/istio/istiolab-mesh.json"]

    dashboard = json.loads(files[dashboard_files[0]])
    assert dashboard["uid"] == "istiolab-mesh" and len(dashboard["panels"]) >= 4
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
            exprs.append(expr)
    text = "\n".join(exprs)
    for metric in (
        'istio_requests_total{reporter="destination"}',
        'istio_requests_total{reporter="source"}',
        "istio_request_duration_milliseconds_bucket",
        "envoy_cluster_upstream_rq_pending_overflow",
    ):
        assert metric in text
    assert "response_flags" in text  # UO / UF / URX as the resilience labs show them
    # the overflow counter reaches Prometheus only through the fortio pod's stats matcher
    fortio_pod = by(fortio(), "Deployment", "fortio-deploy")["spec"]["template"]
    assert "cluster.outbound" in fortio_pod["metadata"]["annotations"]["proxy.istio.io/config"]


def test_addons_subset_and_unknown():
    objs = addons(names=["kiali"])
    assert {o["metadata"]["name"] for o in objs} == {"kiali"}
    with pytest.raises(ParameterError, match=r"addons=\('zipkin',\) .* prometheus, grafana"):
        addons(names=["zipkin"])
    assert ADDONS == ("prometheus", "grafana", "kiali", "jaeger")
