"""Pure parts of the mesh CLI and runtime: names, lookups, tables, samples, image checks."""

from __future__ import annotations

import pytest

from istiolab import manifests
from istiolab.backends import Pod
from istiolab.backends.base import find_pod
from istiolab.commands.common import table
from istiolab.commands.config import kind_of
from istiolab.errors import ConfigError, NotFoundError, ParameterError
from istiolab.local.mesh import check_images, default_samples, hosts_map
from istiolab.local.model import MeshSettings
from istiolab.local.registry import build_registry
from local.test_mesh import cli


def test_kind_names_like_kubectl():
    assert kind_of("vs") == "VirtualService"
    assert kind_of("virtualservices") == "VirtualService"
    assert kind_of("destinationrule.networking.istio.io") == "DestinationRule"
    assert kind_of("authorizationpolicies") == "AuthorizationPolicy"
    assert kind_of("svc") == "Service"
    with pytest.raises(ParameterError, match=r"KIND='virtualsvc'.*VirtualService"):
        kind_of("virtualsvc")


PODS = [
    Pod(name, ns, {"app": app}, "127.10.1.1", (app, "istio-proxy"), True, workload=deploy)
    for name, ns, deploy, app in (
        ("fortio-deploy-abc-1", "default", "fortio-deploy", "fortio"),
        ("productpage-v1-x-2", "default", "productpage-v1", "productpage"),
        ("productpage-v1-x-1", "default", "productpage-v1", "productpage"),
        ("istio-ingressgateway", "istio-system", "istio-ingressgateway", "istio-ingressgateway"),
    )
]


@pytest.mark.parametrize(
    ("workload", "pod"),
    [
        ("fortio", "fortio-deploy-abc-1"),
        ("fortio-deploy", "fortio-deploy-abc-1"),
        ("productpage", "productpage-v1-x-1"),  # first replica by name
        ("productpage-v1.default", "productpage-v1-x-1"),
        ("istio-ingressgateway.istio-system", "istio-ingressgateway"),
    ],
)
def test_find_pod(workload, pod):
    assert find_pod(PODS, workload).name == pod


def test_find_pod_unknown_lists_what_runs():
    with pytest.raises(
        NotFoundError, match=r"no workload 'fortio' in namespace bar.*fortio-deploy"
    ):
        find_pod(PODS, "fortio.bar")


def test_table_aligns_columns():
    assert table(["NAME", "X"], [["a", 1], ["long-name", 22]]).splitlines() == [
        "NAME        X",
        "a           1",
        "long-name   22",
    ]


def test_samples():
    objs = default_samples(["bookinfo", "sleep"])
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds[0] == ("Namespace", "default")
    assert objs[0]["metadata"]["labels"] == {"istio-injection": "enabled"}
    assert ("Gateway", "bookinfo-gateway") in kinds and ("Deployment", "sleep") in kinds
    assert default_samples(["none"]) == [objs[0]]
    with pytest.raises(ParameterError, match=r"--samples='nginx'.*bookinfo, httpbin"):
        default_samples(["bookinfo", "nginx"])


def test_unsupported_image_names_deployment_and_supported_images():
    objs = manifests.sleep("legacy")
    for o in objs:
        if o["kind"] == "Deployment":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    with pytest.raises(ConfigError) as exc:
        check_images(objs)
    assert "Deployment legacy/sleep" in str(exc.value)
    assert "nginx:1.27" in str(exc.value) and "docker.io/curlimages/curl" in str(exc.value)
    check_images(manifests.bookinfo())  # every sample image is supported


def test_hosts_map_is_what_kube_dns_and_kube_proxy_give():
    objs = [manifests.namespace("default"), *manifests.httpbin(versions=("v1", "v2"))]
    registry, _ = build_registry(objs, MeshSettings(octet=10), {})
    hosts = hosts_map(registry)
    pods = sorted(p.ip for p in registry.pods)
    assert sorted(hosts["httpbin.default.svc.cluster.local:8000"]) == [f"{ip}:8080" for ip in pods]


def test_unsupported_image_in_a_file_names_file_and_document(tmp_path):
    """`apply -f FILE`: the file and the document (0-based, blank documents counted, as in
    every other finding) of the Deployment."""
    objs = [manifests.namespace("legacy", injection=False), *manifests.sleep("legacy")]
    for o in objs:
        if o["kind"] == "Deployment":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    path = tmp_path / "legacy.yaml"
    path.write_text("---\n# a blank document\n---\n" + manifests.to_yaml(objs))
    index = 1 + [o["kind"] for o in objs].index("Deployment")
    code, _, err = cli("apply", "-f", str(path), "--state-dir", str(tmp_path / "state"))
    assert code == 1
    assert err.startswith(
        f"error: {path}: document {index} (Deployment/sleep): image 'nginx:1.27' has no local "
        "implementation (supported images, any registry and tag: "
    ), err
    state = ["--state-dir", str(tmp_path / "state")]
    assert cli("get", "deploy", "sleep", "-n", "legacy", *state)[0] == 1  # nothing applied
    assert cli("get", "ns", "legacy", *state)[0] == 1
