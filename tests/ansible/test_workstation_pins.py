"""The workstation role installs the versions the rest of istiolab is pinned to."""

from __future__ import annotations

import re

import yaml
from molecule_support import PLAYBOOKS, REPO

from istiolab import versions

ROLE = PLAYBOOKS / "roles" / "workstation"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
CATALOG = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


def test_istioctl_is_the_labs_istio():
    assert DEFAULTS["workstation_istioctl_version"] == versions.ISTIO_VERSION


def test_kubectl_is_the_labs_kubernetes():
    """kubectl talks to every cluster type the stacks make (kubectl's +-1 minor skew)."""
    kubectl = DEFAULTS["workstation_kubectl_version"]
    assert kubectl == versions.KUBECTL_VERSION
    minor = int(kubectl.split(".")[1])
    for cluster, version in versions.KUBERNETES_MINOR.items():
        assert abs(int(version.split(".")[1]) - minor) <= 1, cluster


def test_cluster_tools_are_the_pinned_releases():
    assert DEFAULTS["workstation_kind_version"] == versions.KIND_VERSION
    assert DEFAULTS["workstation_minikube_version"] == versions.MINIKUBE_VERSION


def test_cluster_kubernetes_versions_are_inside_istios_support_range():
    low, high = (tuple(map(int, v.split("."))) for v in versions.ISTIO_KUBERNETES_RANGE)
    found = {
        "kind": versions.KIND_NODE_IMAGE.split(":v", 1)[1].split("@")[0],
        "minikube": versions.MINIKUBE_KUBERNETES_VERSION.lstrip("v"),
        "k0s": versions.K0S_VERSION.lstrip("v").split("+")[0],
    }
    for cluster, version in found.items():
        minor = tuple(map(int, version.split(".")[:2]))
        assert low <= minor <= high, (cluster, version)
        assert ".".join(map(str, minor)) == versions.KUBERNETES_MINOR[cluster]


def test_pulumi_cli_is_the_sdk_release():
    pinned = re.search(r"^pulumi==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)
    assert pinned, "constraints.txt pins pulumi"
    assert DEFAULTS["workstation_pulumi_version"] == "v" + pinned.group(1)


def test_every_download_has_a_version_url_and_checksum():
    tools = set(DEFAULTS["workstation_tools"]) - {"docker"}  # docker: OS package
    assert {entry["name"] for entry in CATALOG["workstation_catalog"]} == tools
    for tool in tools:
        assert DEFAULTS[f"workstation_{tool}_version"]
        assert "workstation_mirror_url" in DEFAULTS[f"workstation_{tool}_url"]
        assert DEFAULTS[f"workstation_{tool}_checksum"].strip().startswith("sha256:")
