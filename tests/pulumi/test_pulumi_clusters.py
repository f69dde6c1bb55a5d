"""Cluster components under Pulumi's mocks: what runs on `up` and on `destroy`, the secret
kubeconfig and the provider built from it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from pulumi_harness import FAKE_KUBECONFIG, REPO

from components import k0s_inventory
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.k0s_cluster import K0sCluster, K0sClusterArgs, k0sctl_config, roles
from components.kind_cluster import KindCluster, KindClusterArgs, kind_config
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from istiolab import versions
from istiolab.errors import ConfigError


def assert_secret_kubeconfig_provider(run, name="cluster"):
    for cmd in run.of_type("command:local:Command"):
        if cmd.name == f"{name}-cluster":  # prints the admin kubeconfig on stdout
            assert cmd.inputs["logging"] == "stderr"  # not into `pulumi up`'s output
            assert cmd.additional_secret_outputs == ["stdout"]  # encrypted in the state
    provider = run.named(f"{name}-provider")
    assert provider.type == "pulumi:providers:kubernetes"
    assert provider.is_secret("kubeconfig")
    assert provider.inputs["kubeconfig"] == FAKE_KUBECONFIG
    assert run.ancestors(f"{name}-provider") == [name]


def assert_valid_shell(script: str):
    sh = shutil.which("sh")
    assert sh, "needs /bin/sh"
    subprocess.run([sh, "-n", "-c", script], check=True)


def test_kind_cluster_create_and_delete(run_pulumi):
    args = KindClusterArgs(cluster_name="lab", workers=2, extra_ports={30007: 20001})
    holder = {}

    def program():
        holder["c"] = KindCluster("cluster", args)

    run = run_pulumi(program)
    cmd = run.named("cluster-cluster")
    assert cmd.type == "command:local:Command"
    assert run.ancestors("cluster-cluster") == ["cluster"]
    assert run.named("cluster").type == "istiolab:index:KindCluster"
    i = cmd.inputs
    assert "kind create cluster --name 'lab'" in i["create"]
    assert "kind get kubeconfig --name 'lab'" in i["create"]
    assert i["delete"] == "kind delete cluster --name 'lab'"
    assert_valid_shell(i["create"])
    config = yaml.safe_load(i["stdin"])
    assert config == kind_config(args)
    assert i["triggers"] == [i["stdin"]]  # a new config replaces the cluster
    assert_secret_kubeconfig_provider(run)
    assert holder["c"].ingress_url == "http://127.0.0.1:8080"


def test_kind_config_nodes_image_and_ingress_port_mappings():
    config = kind_config(KindClusterArgs(control_planes=1, workers=2, http_port=8080))
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles_ = [n["role"] for n in config["nodes"]]
    assert roles_ == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in config["nodes"]} == {versions.KIND_NODE_IMAGE}
    mappings = config["nodes"][0]["extraPortMappings"]
    assert {"containerPort": 30080, "hostPort": 8080, "listenAddress": "127.0.0.1",
            "protocol": "TCP"} in mappings  # fmt: skip
    assert {m["containerPort"]: m["hostPort"] for m in mappings} == {30080: 8080, 30443: 8443}
    assert all("extraPortMappings" not in n for n in config["nodes"][1:])


def test_minikube_cluster(run_pulumi):
    holder = {}
    args = MinikubeClusterArgs(profile="lab", driver="kvm2", cpus=6, memory_mb=12288, disk_gb=40)

    def program():
        holder["c"] = MinikubeCluster("cluster", args)
        holder["c"].ingress_url.apply(lambda u: holder.__setitem__("url", u))

    run = run_pulumi(program)
    create = run.named("cluster-cluster").inputs["create"]
    version = versions.MINIKUBE_KUBERNETES_VERSION
    for flag in ("--profile 'lab'", "--driver 'kvm2'", "--cpus 6", "--memory 12288mb",
                 "--disk-size 40g", f"--kubernetes-version '{version}'"):  # fmt: skip
        assert flag in create
    assert "kubectl config view --raw --minify --flatten --context 'lab'" in create
    assert run.named("cluster-cluster").inputs["delete"] == "minikube delete --profile 'lab'"
    assert run.depends_on("cluster-ip", "cluster-cluster")
    assert_valid_shell(create)
    assert_secret_kubeconfig_provider(run)
    assert "--ports" not in create  # on Linux the node address answers
    assert holder["url"] == "http://192.168.49.2:30080"


@pytest.mark.parametrize("host_os", ["Darwin", "Windows"])
def test_minikube_docker_driver_in_a_vm_publishes_the_node_ports(run_pulumi, host_os):
    """`minikube ip` is inside Docker's VM on macOS/Windows: NodePorts go to 127.0.0.1."""
    holder = {}
    args = MinikubeClusterArgs(driver="docker", host_os=host_os, extra_ports={30007: 20001})

    def program():
        c = MinikubeCluster("cluster", args)
        c.ingress_url.apply(lambda u: holder.__setitem__("url", u))
        c.dashboard_url(30007).apply(lambda u: holder.__setitem__("kiali", u))

    run = run_pulumi(program)
    create = run.named("cluster-cluster").inputs["create"]
    for flag in ("--ports=127.0.0.1:8080:30080", "--ports=127.0.0.1:8443:30443",
                 "--ports=127.0.0.1:20001:30007"):  # fmt: skip
        assert flag in create
    assert_valid_shell(create)
    assert (holder["url"], holder["kiali"]) == ("http://127.0.0.1:8080", "http://127.0.0.1:20001")


THREE_NODE = REPO / "playbooks" / "inventories" / "three-node" / "hosts.yml"
SINGLE_NODE = REPO / "playbooks" / "inventories" / "single-node" / "hosts.yml"


def test_k0s_hosts_from_the_playbooks_inventory():
    hosts = k0s_inventory.read_inventory(THREE_NODE, user="istiolab", key_path="~/.ssh/k")
    assert [(h.name, h.group, h.address) for h in hosts] == [
        ("k0s-controller-1", "controllers", "192.0.2.11"),
        ("k0s-worker-1", "workers", "192.0.2.21"),
        ("k0s-worker-2", "workers", "192.0.2.22"),
    ]
    assert {(h.user, h.key_path) for h in hosts} == {("istiolab", "~/.ssh/k")}
    assert k0s_inventory.cluster_login(REPO) == ("istiolab", "~/.ssh/istiolab_ed25519")


def test_k0s_cluster_applies_a_generated_k0sctl_config(run_pulumi):
    hosts = k0s_inventory.read_inventory(THREE_NODE, user="istiolab", key_path="~/.ssh/k")
    holder = {}

    def program():
        holder["c"] = K0sCluster("cluster", K0sClusterArgs(hosts=hosts))

    run = run_pulumi(program)
    cmd = run.named("cluster-cluster").inputs
    config = yaml.safe_load(cmd["environment"]["ISTIOLAB_K0SCTL_CONFIG"])
    assert config["apiVersion"] == "k0sctl.k0sproject.io/v1beta1" and config["kind"] == "Cluster"
    assert config["spec"]["k0s"]["version"] == versions.K0S_VERSION
    assert [(h["role"], h["ssh"]["address"]) for h in config["spec"]["hosts"]] == [
        ("controller", "192.0.2.11"),
        ("worker", "192.0.2.21"),
        ("worker", "192.0.2.22"),
    ]
    assert config["spec"]["hosts"][0]["ssh"] == {
        "address": "192.0.2.11", "user": "istiolab", "port": 22, "keyPath": "~/.ssh/k"
    }  # fmt: skip
    assert not [h for h in config["spec"]["hosts"] if "noTaints" in h]
    assert 'k0sctl apply --config "$cfg"' in cmd["create"]
    assert 'k0sctl kubeconfig --config "$cfg"' in cmd["create"]
    assert 'k0sctl reset --config "$cfg" --force' in cmd["delete"]
    assert_valid_shell(cmd["create"])
    assert_valid_shell(cmd["delete"])
    assert_secret_kubeconfig_provider(run)
    assert holder["c"].ingress_url == "http://192.0.2.21:30080"


def test_k0s_single_node_is_controller_single():
    hosts = k0s_inventory.read_inventory(SINGLE_NODE)
    assert [(h.name, r) for h, r in roles(K0sClusterArgs(hosts=hosts))] == [
        ("k0s-single", "single")
    ]
    three = k0s_inventory.read_inventory(THREE_NODE)
    with pytest.raises(ConfigError) as err:
        roles(K0sClusterArgs(hosts=three, single=True))
    assert "single=true runs one node (k0s controller --single)" in str(err.value)
    assert "k0s-worker-1, k0s-worker-2" in str(err.value)


def test_k0s_handoff_file_overrides_the_inventory(tmp_path):
    handoff = {
        "schema": "istiolab.k0s-hosts/v1",
        "sizing_profile": "dev",
        "topology": "multi",
        "controllers": ["k0s-controller-1"],
        "workers": ["k0s-worker-1"],
        "hosts": [
            {"name": "k0s-controller-1", "address": "10.0.0.11", "role": "controller+worker",
             "ssh": {"address": "10.0.0.11", "port": 2222, "user": "istiolab",
                     "key_path": "/home/me/.ssh/istiolab_ed25519"}},
            {"name": "k0s-worker-1", "address": "10.0.0.21", "role": "worker",
             "ssh": {"address": "10.0.0.21", "port": 22, "user": "istiolab",
                     "key_path": "/home/me/.ssh/istiolab_ed25519"}},
        ],
    }  # fmt: skip
    path = tmp_path / "k0s-hosts.json"
    path.write_text(json.dumps(handoff))
    artifact = k0s_inventory.read_artifact(path)
    assert artifact.sizing_profile == "dev"
    hosts = k0s_inventory.merge_artifact(k0s_inventory.read_inventory(THREE_NODE), artifact)
    layout = [(h.name, h.address, h.port, r) for h, r in roles(K0sClusterArgs(hosts=hosts))]
    assert layout == [
        ("k0s-controller-1", "10.0.0.11", 2222, "controller+worker"),
        ("k0s-worker-1", "10.0.0.21", 22, "worker"),
    ]
    # the playbooks' node address is what k0s advertises; controller+worker runs pods
    handoff["hosts"][0]["ssh"]["address"] = "203.0.113.11"  # e.g. a NAT or bastion address
    path.write_text(json.dumps(handoff))
    hosts = k0s_inventory.merge_artifact([], k0s_inventory.read_artifact(path))
    config = k0sctl_config(K0sClusterArgs(hosts=hosts))
    controller, worker = config["spec"]["hosts"]
    assert controller["ssh"]["address"] == "203.0.113.11"
    assert controller["privateAddress"] == "10.0.0.11"
    assert controller["noTaints"] is True  # else k0s's control-plane taint keeps pods off
    assert worker["privateAddress"] == "10.0.0.21" and "noTaints" not in worker
    path.write_text(json.dumps({**handoff, "schema": "v0"}))
    with pytest.raises(ConfigError, match=r"schema='v0' is not allowed: istiolab.k0s-hosts/v1"):
        k0s_inventory.read_artifact(path)


def test_k0s_inventory_errors(tmp_path):
    with pytest.raises(ConfigError) as err:
        k0s_inventory.read_inventory(REPO / "playbooks" / "inventories" / "nope" / "hosts.yml")
    assert "istiolab:cluster.inventory is one of: single-node, three-node" in str(err.value)
    empty = tmp_path / "hosts.yml"
    empty.write_text("all:\n  children:\n    workers:\n      hosts: {w1: {}}\n")
    with pytest.raises(ConfigError, match="the group controllers has no hosts"):
        k0s_inventory.read_inventory(empty)


def test_existing_cluster_from_a_file(run_pulumi, tmp_path):
    path = tmp_path / "config"
    path.write_text(FAKE_KUBECONFIG)

    def program():
        ExistingCluster("cluster", ExistingClusterArgs(kubeconfig_path=str(path), context="lab"))

    run = run_pulumi(program)
    assert [r.type for r in run.registrations] == [
        "istiolab:index:ExistingCluster",
        "pulumi:providers:kubernetes",
    ]  # nothing to create, nothing to delete
    assert run.named("cluster-provider").inputs["context"] == "lab"
    assert_secret_kubeconfig_provider(run)


def test_existing_cluster_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"kubeconfigPath='.*nope': cannot read it"):
        from components.existing_cluster import read_kubeconfig

        read_kubeconfig(ExistingClusterArgs(kubeconfig_path=str(tmp_path / "nope")))
