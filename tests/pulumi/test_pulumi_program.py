"""The Pulumi program (__main__.py) with every example stack, under Pulumi's mocks.

Each stack runs in its own test with fresh mocks and the config the Pulumi CLI would hand
it (PULUMI_CONFIG built from Pulumi.<stack>.yaml).
"""

from __future__ import annotations

import json
import runpy
import socket

import pulumi
import pytest
import yaml
from pulumi_harness import FAKE_KUBECONFIG, REPO, STACKS, stack_config

from istiolab import manifests
from istiolab.env import apply_sets, environment_objects
from istiolab.stack_config import env_for_stack

MAIN = str(REPO / "__main__.py")


def program():
    runpy.run_path(MAIN, run_name="__main__")


def key(obj: dict) -> tuple:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def by_key(objs: list[dict]) -> dict[tuple, dict]:
    out = {}
    for o in objs:
        assert key(o) not in out, f"deployed twice: {key(o)}"
        out[key(o)] = o
    return out


@pytest.fixture
def home_kubeconfig(tmp_path, monkeypatch):
    """Pulumi.existing.yaml points at ~/.kube/config: give the test a home with one."""
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(FAKE_KUBECONFIG)
    monkeypatch.setenv("HOME", str(tmp_path))


def run_stack(run_pulumi, name: str, **overrides):
    config = {**stack_config(name), **overrides}
    if name == "k0s" and "istiolab:cluster" not in overrides:
        # A real run of the playbooks may have left a hand-off file in playbooks/artifacts;
        # these tests read the inventory only ("" = no hand-off file).
        config["istiolab:cluster"] = {**config["istiolab:cluster"], "artifacts": ""}
    return run_pulumi(program, stack=name, config=config)


def test_kind_stack_deploys_exactly_what_render_writes(run_pulumi, big_host):
    run = run_stack(run_pulumi, "kind")
    deployed = by_key(run.kubernetes_objects())
    rendered = by_key(environment_objects(env_for_stack("kind", REPO)))
    assert deployed.keys() == rendered.keys()
    for k, obj in rendered.items():
        assert deployed[k] == obj, k
    # Helm releases are the rest (Istio itself, which `render` leaves to istioctl/helm)
    releases = [r.inputs["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")]
    assert releases == ["base", "istiod", "gateway", "gateway"]  # demo: egress too


def test_kind_stack_order_cluster_mesh_apps_addons(run_pulumi, big_host):
    run = run_stack(run_pulumi, "kind")
    assert run.named("cluster").type == "istiolab:index:KindCluster"
    assert run.depends_on("cluster-provider", "cluster-cluster")
    # Everything on the cluster goes through the provider made from the kind kubeconfig.
    provider = run.named("cluster-provider").urn
    for r in run.registrations:
        if r.type.startswith("kubernetes:"):
            assert r.provider.startswith(provider), r.name
    assert run.depends_on("istio-base", "istio-ns-istio-system")
    assert run.depends_on("istio-istiod", "istio-base")
    assert run.depends_on("istio-ingress", "istio-istiod")
    assert run.depends_on("istio-egress", "istio-istiod")
    for group in ("bookinfo-workloads", "samples-workloads"):
        assert run.depends_on(group, "bookinfo-ns-default")  # injection label first
        assert run.depends_on(group, "istio-istiod")  # the injection webhook answers
    for group in ("bookinfo-istio", "samples-istio"):
        assert run.depends_on(group, "istio-base")  # CRDs before custom resources
    assert run.depends_on("observability-workloads", "istio-istiod")
    kinds = {o["kind"] for o in run.named("bookinfo-istio").inputs["objs"]}
    assert kinds == {"Gateway", "VirtualService", "DestinationRule"}
    assert not {o["kind"] for o in run.named("bookinfo-workloads").inputs["objs"]} & kinds


def test_kind_stack_outputs(run_pulumi, big_host):
    run = run_stack(run_pulumi, "kind")
    out = run.outputs
    assert out["kubeconfig"] == FAKE_KUBECONFIG and "kubeconfig" in run.secret_outputs
    assert out["ingressUrl"] == "http://127.0.0.1:8080"  # like the local mesh
    assert out["productPageUrl"] == "http://127.0.0.1:8080/productpage"
    assert out["namespaces"] == ["istio-system", "default"]
    assert out["dashboards"] == {
        "prometheus": "http://127.0.0.1:9090",
        "grafana": "http://127.0.0.1:3000",
        "kiali": "http://127.0.0.1:20001/kiali",
        "jaeger": "http://127.0.0.1:16686/jaeger",
    }
    # ...because the kind config maps those NodePorts to 127.0.0.1
    config = yaml.safe_load(run.named("cluster-cluster").inputs["stdin"])
    mappings = {m["containerPort"]: m["hostPort"] for m in config["nodes"][0]["extraPortMappings"]}
    assert mappings == {30080: 8080, 30443: 8443, 30009: 9090, 30010: 3000, 30007: 20001,
                        30011: 16686}  # fmt: skip
    istiod = run.named("istio-istiod").inputs["values"]
    assert istiod["meshConfig"]["extensionProviders"] == [
        {"name": "zipkin", "zipkin": {"service": "zipkin.istio-system.svc.cluster.local",
                                      "port": 9411}}
    ]  # fmt: skip
    assert istiod["meshConfig"]["defaultProviders"] == {"tracing": ["zipkin"]}
    assert istiod["pilot"]["traceSampling"] == 100.0
    assert run.named("istio-ingress").inputs["values"]["service"]["type"] == "NodePort"


def test_minikube_stack_plugin_ca_strict_mtls_and_jwt(run_pulumi):
    run = run_stack(run_pulumi, "minikube")
    assert (
        "--cpus 4 --memory 8192mb --disk-size 30g" in run.named("cluster-cluster").inputs["create"]
    )
    assert run.depends_on("istio-istiod", "istio-cacerts")
    assert run.named("istio-cacerts").is_secret("stringData")
    objs = by_key(run.kubernetes_objects())
    pa = objs[("security.istio.io/v1", "PeerAuthentication", "istio-system", "default")]
    assert pa["spec"] == {"mtls": {"mode": "STRICT"}}
    dr = objs[("networking.istio.io/v1", "DestinationRule", "default", "reviews")]
    assert dr["spec"]["trafficPolicy"] == {"tls": {"mode": "ISTIO_MUTUAL"}}
    ra = objs[("security.istio.io/v1", "RequestAuthentication", "istio-system", "ingress-jwt")]
    assert "jwks" in ra["spec"]["jwtRules"][0]
    assert {"jwtPrivateKeyPem", "kubeconfig"} <= run.secret_outputs
    assert run.outputs["ingressUrl"] == "http://192.168.49.2:30080"
    assert run.outputs["dashboards"]["kiali"] == "http://192.168.49.2:30007/kiali"
    assert "profile" not in run.named("istio-istiod").inputs["values"]  # Istio's default


def test_k0s_stack_from_the_playbooks_inventory(run_pulumi):
    run = run_stack(run_pulumi, "k0s")
    env = run.named("cluster-cluster").inputs["environment"]["ISTIOLAB_K0SCTL_CONFIG"]
    assert "address: 192.0.2.11" in env and "role: worker" in env
    assert "user: istiolab" in env  # the deploy user the playbooks create
    # no load balancer controller on bare metal: a LoadBalancer would stay <pending>
    assert run.named("istio-ingress").inputs["values"]["service"]["type"] == "NodePort"
    assert run.outputs["ingressUrl"] == "http://192.0.2.21:30080"
    assert run.outputs["dashboards"]["kiali"] == "http://192.0.2.21:30007/kiali"  # seed 002
    assert run.outputs["namespaces"] == ["istio-system", "default", "load"]
    assert run.named("load-ns-load").type == "kubernetes:core/v1:Namespace"
    assert run.outputs["loadCommand"].startswith("kubectl -n load exec deploy/fortio-deploy")


def test_k0s_stack_with_the_playbooks_handoff_file(run_pulumi, tmp_path):
    handoff = {
        "schema": "istiolab.k0s-hosts/v1",
        "sizing_profile": "production",
        "hosts": [
            {"name": "k0s-single", "address": "10.1.0.5", "role": "single",
             "ssh": {"address": "10.1.0.5", "port": 22, "user": "istiolab",
                     "key_path": "/home/me/.ssh/istiolab_ed25519"}},
        ],
    }  # fmt: skip
    path = tmp_path / "k0s-hosts.json"
    path.write_text(json.dumps(handoff))
    cluster = {"type": "k0s", "inventory": "single-node", "artifacts": str(path)}
    run = run_stack(run_pulumi, "k0s", **{"istiolab:cluster": cluster})
    config = yaml.safe_load(
        run.named("cluster-cluster").inputs["environment"]["ISTIOLAB_K0SCTL_CONFIG"]
    )
    assert config["spec"]["hosts"] == [
        {"role": "single", "ssh": {"address": "10.1.0.5", "user": "istiolab", "port": 22,
                                   "keyPath": "/home/me/.ssh/istiolab_ed25519"},
         "privateAddress": "10.1.0.5"}
    ]  # fmt: skip
    assert run.outputs["ingressUrl"] == "http://10.1.0.5:30080"


def test_existing_stack(run_pulumi, home_kubeconfig):
    run = run_stack(run_pulumi, "existing")
    assert not run.of_type("command:local:Command")  # nothing to create or delete
    assert run.named("bookinfo-ns-bookinfo").type == "kubernetes:core/v1:Namespace"
    objs = by_key(run.kubernetes_objects())
    policy = objs[("security.istio.io/v1", "AuthorizationPolicy", "bookinfo",
                   "reviews-allow-bookinfo-productpage")]  # fmt: skip
    assert policy["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        "cluster.local/ns/bookinfo/sa/bookinfo-productpage"
    ]
    assert run.depends_on("security-istio", "bookinfo-ns-bookinfo")
    assert run.named("istio-ingress").inputs["values"]["service"]["type"] == "LoadBalancer"
    assert "ingressUrl" not in run.outputs  # the cloud assigns the address later
    assert run.outputs["ingressAddressCommand"].startswith(
        "kubectl -n istio-system get svc istio-ingressgateway -o jsonpath="
    )
    assert run.outputs["namespaces"] == ["istio-system", "bookinfo"]


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_deploys_the_rendered_lab_plus_only_documented_extras(
    name, run_pulumi, big_host, home_kubeconfig
):
    run = run_stack(run_pulumi, name)
    deployed = by_key(run.kubernetes_objects())
    rendered = by_key(environment_objects(env_for_stack(name, REPO)))
    for k, obj in rendered.items():
        assert deployed.get(k) == obj, k
    extras = set(deployed) - set(rendered)
    allowed = {
        ("v1", "Namespace", "", "istio-system"),
        ("v1", "Secret", "istio-system", "cacerts"),
        ("security.istio.io/v1", "RequestAuthentication", "istio-system", "ingress-jwt"),
        ("security.istio.io/v1", "AuthorizationPolicy", "istio-system", "ingress-jwt-required"),
        ("v1", "Namespace", "", "load"),
        *(key(o) for o in manifests.fortio("load")),
    }
    assert extras <= allowed


def bad_config_run(run_pulumi, **overrides):
    with pytest.raises(pulumi.RunError) as err:
        run_stack(run_pulumi, "kind", **overrides)
    return str(err.value)


def test_misspelled_key_stops_before_any_resource(run_pulumi, big_host):
    msg = bad_config_run(run_pulumi, **{"istiolab:mesh": {"profle": "demo"}})
    assert msg.startswith("Pulumi.kind.yaml: istiolab:mesh.profle is not a setting")
    assert "(did you mean 'profile'?)" in msg
    assert run_pulumi.monitor.registrations == []  # not one resource


def test_unknown_cluster_type_stops_before_any_resource(run_pulumi, big_host):
    msg = bad_config_run(run_pulumi, **{"istiolab:cluster": {"type": "eks"}})
    assert msg == (
        "Pulumi.kind.yaml: istiolab:cluster.type='eks' is not allowed: "
        "one of kind, minikube, k0s, existing"
    )
    assert run_pulumi.monitor.registrations == []


def test_undersized_plan_stops_before_any_resource(run_pulumi):
    small = {**stack_config("kind")["istiolab:cluster"], "hostCpus": 2, "hostMemoryMb": 2048}
    msg = bad_config_run(run_pulumi, **{"istiolab:cluster": small})
    assert msg.startswith(
        "Pulumi.kind.yaml: istiolab:cluster: the lab needs more than kind on a host with "
        "2 CPUs / 2048 MiB provides:"
    )
    lines = msg.splitlines()
    assert any(line.startswith("  - CPU: needs ") for line in lines)
    assert any(line.startswith("  - memory: needs ") for line in lines)
    assert "  * drop addon prometheus to save 250m CPU and 512 MiB" in lines
    assert "  * drop sample bookinfo to save 430m CPU and 1136 MiB" in lines
    assert run_pulumi.monitor.registrations == []


def test_k0s_sizing_from_the_inventory_figures(run_pulumi):
    """Seed 001's workers have 1 vCPU: Istio's default profile does not fit on two."""
    with pytest.raises(pulumi.RunError) as err:
        run_stack(run_pulumi, "k0s", **{"istiolab:mesh": {"profile": "default"}})
    msg = str(err.value)
    assert "k0s nodes: 2 worker(s) of 1 CPUs / 8192 MiB" in msg
    assert "  * set istiolab:mesh.profile=demo to save " in msg
    assert run_pulumi.monitor.registrations == []


@pytest.mark.parametrize("name", STACKS)
def test_no_network_at_import_or_construction(
    name, run_pulumi, big_host, home_kubeconfig, monkeypatch
):
    """Importing the components and constructing every example stack opens no socket and
    starts no program (kind, minikube, k0sctl, kubectl and helm run only in a deployment)."""
    import importlib
    import os
    import subprocess
    import sys

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access or a program started: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "system", refuse)
    for mod in [m for m in sys.modules if m == "components" or m.startswith("components.")]:
        monkeypatch.delitem(sys.modules, mod)
    importlib.import_module("components")
    run = run_stack(run_pulumi, name)
    assert run.kubernetes_objects(), f"the {name} stack registered no Kubernetes object"


@pytest.mark.parametrize(
    ("traffic", "params", "group", "name"),
    [
        ("circuit-breaker", {"max_pending": 1}, "samples-istio", "httpbin"),
        ("user-route", {"user": "jason"}, "bookinfo-istio", "reviews"),
    ],
)
def test_traffic_presets_go_with_the_service_they_address(
    run_pulumi, big_host, traffic, params, group, name
):
    apps = {**stack_config("kind")["istiolab:apps"], "traffic": traffic, "trafficParams": params}
    run = run_stack(run_pulumi, "kind", **{"istiolab:apps": apps})
    deployed = by_key(run.kubernetes_objects())  # fails on an object deployed twice
    sets = [f"traffic={traffic}"] + [f"traffic.{k}={v}" for k, v in params.items()]
    spec = apply_sets(env_for_stack("kind", REPO), sets)
    assert deployed == by_key(environment_objects(spec))
    objs = [o for o in run.named(group).inputs["objs"] if o["metadata"]["name"] == name]
    preset = manifests.traffic_preset(traffic, namespace="default", **params)
    assert preset[0] in objs
    assert run.depends_on(group, "istio-base")


def test_an_invalid_object_is_refused_before_any_resource(run_pulumi, big_host, monkeypatch):
    """The program validates the lab's objects like `istiolab render` does."""
    from components import parts

    real = parts.environment_files

    def with_typo(spec=None):
        files = real(spec)
        for _, objs in files:
            for o in objs:
                if o["kind"] == "DestinationRule" and o["metadata"]["name"] == "httpbin":
                    o["spec"]["trafficPolicy"] = {
                        "connectionPool": {"http": {"http1MaxPendingRequest": 1}}
                    }
        return files

    monkeypatch.setattr("components.parts.environment_files", with_typo)
    with pytest.raises(pulumi.RunError) as err:
        run_stack(run_pulumi, "kind")
    assert "http1MaxPendingRequest" in str(err.value)
    assert run_pulumi.monitor.registrations == []
