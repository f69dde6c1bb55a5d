"""IstioMesh under Pulumi's mocks: the charts, their order, values and the plug-in CA."""

from __future__ import annotations

import re
import subprocess

import pulumi_kubernetes as k8s
import pytest
from cryptography import x509
from pulumi_harness import PEM_CERT_BEGIN
from support import require_binary

from components import plugin_ca
from components.istio_mesh import IstioMesh, IstioMeshArgs
from istiolab import versions
from istiolab.errors import ConfigError


def mesh_program(**kwargs):
    def program():
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1\nkind: Config\n")
        IstioMesh("istio", IstioMeshArgs(provider=provider, **kwargs))

    return program


def test_charts_versions_and_order(run_pulumi):
    run = run_pulumi(mesh_program())
    releases = run.of_type("kubernetes:helm.sh/v3:Release")
    assert [(r.name, r.inputs["name"], r.inputs["chart"]) for r in releases] == [
        ("istio-base", "istio-base", "base"),
        ("istio-istiod", "istiod", "istiod"),
        ("istio-ingress", "istio-ingressgateway", "gateway"),
    ]
    for r in releases:
        assert r.inputs["version"] == versions.ISTIO_VERSION
        assert r.inputs["repositoryOpts"] == {"repo": versions.ISTIO_HELM_REPO}
        assert r.inputs["namespace"] == "istio-system"
        assert run.ancestors(r.name) == ["istio"]
        assert r.provider.startswith(run.named("k8s").urn)
    ns = run.named("istio-ns-istio-system")
    assert ns.type == "kubernetes:core/v1:Namespace"
    assert ns.inputs["metadata"] == {"name": "istio-system"}
    assert run.depends_on("istio-base", "istio-ns-istio-system")
    assert run.depends_on("istio-istiod", "istio-base")  # CRDs before istiod
    assert run.depends_on("istio-ingress", "istio-istiod")  # istiod before gateways
    assert not run.depends_on("istio-base", "istio-istiod")


def test_mesh_config_values(run_pulumi):
    run = run_pulumi(
        mesh_program(
            outbound_traffic_policy="REGISTRY_ONLY",
            tracing_sampling=25.0,
            zipkin_address="zipkin.istio-system:9411",
        )
    )
    istiod = run.named("istio-istiod").inputs
    values = istiod["values"]
    # tracing through the current mesh config: a zipkin provider chosen by default
    assert values["meshConfig"] == {
        "accessLogFile": "/dev/stdout",
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "enableTracing": True,
        "extensionProviders": [
            {"name": "zipkin",
             "zipkin": {"service": "zipkin.istio-system.svc.cluster.local", "port": 9411}}
        ],
        "defaultProviders": {"tracing": ["zipkin"]},
    }  # fmt: skip
    assert values["pilot"] == {"autoscaleEnabled": False, "traceSampling": 25.0}
    assert "profile" not in values and "revision" not in values
    # a cold node pulls istiod's and the proxies' images within Helm's wait
    for r in run.of_type("kubernetes:helm.sh/v3:Release"):
        assert r.inputs["timeout"] >= 600, r.name


def test_no_tracing_without_a_collector(run_pulumi):
    run = run_pulumi(mesh_program(tracing_sampling=100.0))
    mesh = run.named("istio-istiod").inputs["values"]["meshConfig"]
    assert "extensionProviders" not in mesh and "enableTracing" not in mesh


def test_nodeport_gateway_answers_on_fixed_node_ports(run_pulumi):
    run = run_pulumi(mesh_program(gateway_service_type="NodePort"))
    service = run.named("istio-ingress").inputs["values"]["service"]
    assert service["type"] == "NodePort"
    assert "skipAwait" not in run.named("istio-ingress").inputs
    ports = {p["name"]: p for p in service["ports"]}
    assert ports["http2"]["port"] == 80 and ports["http2"]["nodePort"] == 30080
    assert ports["https"]["nodePort"] == 30443
    assert ports["status-port"]["port"] == 15021


def test_load_balancer_gets_no_fixed_node_ports(run_pulumi):
    """On a shared cluster 30080/30443 may be taken: a LoadBalancer lets Kubernetes choose."""
    run = run_pulumi(mesh_program(gateway_service_type="LoadBalancer"))
    service = run.named("istio-ingress").inputs["values"]["service"]
    assert service["type"] == "LoadBalancer"
    assert not [p for p in service["ports"] if "nodePort" in p]


def test_load_balancer_elsewhere_and_demo_adds_an_egress_gateway(run_pulumi):
    run = run_pulumi(
        mesh_program(gateway_service_type="LoadBalancer", profile="demo", egress_gateway=True)
    )
    ingress = run.named("istio-ingress").inputs
    assert ingress["values"]["service"]["type"] == "LoadBalancer"
    assert ingress["skipAwait"] is True  # no waiting for an address bare metal never gives
    assert ingress["values"]["profile"] == "demo"
    egress = run.named("istio-egress")
    assert (egress.inputs["name"], egress.inputs["chart"]) == ("istio-egressgateway", "gateway")
    assert egress.inputs["values"]["service"]["type"] == "ClusterIP"
    assert run.depends_on("istio-egress", "istio-istiod")
    assert run.named("istio-istiod").inputs["values"]["profile"] == "demo"
    # the gateway chart reads its own resources/autoscaling, not the profile's gateways.*
    for name in ("istio-ingress", "istio-egress"):
        values = run.named(name).inputs["values"]
        assert values["resources"] == {"requests": {"cpu": "10m", "memory": "40Mi"}}
        assert values["autoscaling"] == {"enabled": False}


def test_revision(run_pulumi):
    run = run_pulumi(mesh_program(revision="1-30-3"))
    istiod = run.named("istio-istiod").inputs
    assert istiod["name"] == "istiod-1-30-3"
    assert istiod["values"]["revision"] == "1-30-3"
    # the chart ignores defaultRevision; the `default` tag keeps istio-injection=enabled working
    assert "defaultRevision" not in istiod["values"]
    assert istiod["values"]["revisionTags"] == ["default"]
    assert run.named("istio-base").inputs["values"] == {"defaultRevision": "1-30-3"}
    assert run.named("istio-ingress").inputs["values"]["revision"] == "1-30-3"


def test_generated_plugin_ca_is_created_before_istiod(run_pulumi):
    run = run_pulumi(mesh_program(plugin_ca="generate", cluster_name="lab"))
    keys = run.of_type("tls:index/privateKey:PrivateKey")
    assert {(k.inputs["algorithm"], k.inputs["rsaBits"]) for k in keys} == {("RSA", 4096)}
    root = run.named("istio-ca-root-cert").inputs
    assert root["subject"] == {"organization": "Istio", "commonName": "Root CA"}
    assert root["isCaCertificate"] is True
    assert not run.of_type("tls:index/locallySignedCert:LocallySignedCert")  # drops pathlen
    secret = run.named("istio-cacerts")
    assert secret.inputs["metadata"] == {"name": "cacerts", "namespace": "istio-system"}
    assert secret.is_secret("stringData")
    files = secret.inputs["stringData"]
    assert sorted(files) == ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]
    assert files["ca-key.pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert files["cert-chain.pem"] == files["ca-cert.pem"] + files["root-cert.pem"]
    assert files["root-cert.pem"].startswith(PEM_CERT_BEGIN)
    inter = x509.load_pem_x509_certificate(files["ca-cert.pem"].encode())
    assert inter.subject.rfc4514_string() == "L=lab,CN=Intermediate CA,O=Istio"
    basic = inter.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    root = x509.load_pem_x509_certificate(files["root-cert.pem"].encode())
    inter.verify_directly_issued_by(root)
    # what the issue asks to see: openssl's text shows the path length
    openssl = require_binary("openssl")
    text = subprocess.run([openssl, "x509", "-noout", "-text"], input=files["ca-cert.pem"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert re.search(r"CA:TRUE, pathlen:0", text)
    # the same state gives the same certificate: `pulumi up` again changes nothing
    root_key = run.named("istio-ca-root-cert").inputs["privateKeyPem"]
    again = plugin_ca.intermediate_cert_pem(
        root_key, files["root-cert.pem"], files["ca-key.pem"], "lab"
    )
    assert again == files["ca-cert.pem"]
    assert run.depends_on("istio-cacerts", "istio-base")  # istio-system exists
    assert run.depends_on("istio-istiod", "istio-cacerts")  # istiod starts with the CA


def test_plugin_ca_from_files(run_pulumi, tmp_path):
    for name in plugin_ca.CA_FILES:
        (tmp_path / name).write_text(f"{name} content\n")
    run = run_pulumi(mesh_program(plugin_ca="files", ca_dir=str(tmp_path)))
    secret = run.named("istio-cacerts")
    assert secret.is_secret("stringData")
    assert secret.inputs["stringData"]["ca-key.pem"] == "ca-key.pem content\n"
    assert not run.of_type("tls:index/privateKey:PrivateKey")
    assert run.depends_on("istio-istiod", "istio-cacerts")


def test_plugin_ca_directory_missing_files(tmp_path):
    (tmp_path / "ca-cert.pem").write_text("x")
    with pytest.raises(ConfigError) as err:
        plugin_ca.read_ca_dir(str(tmp_path))
    assert "missing ca-key.pem, root-cert.pem, cert-chain.pem" in str(err.value)
