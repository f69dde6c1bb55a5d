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
    assert DEFAULTS["workstation_kubectl_version"] == versions.MINIKUBE_KUBERNETES_VERSION
    assert versions.K0S_VERSION.startswith(DEFAULTS["workstation_kubectl_version"] + "+")
    assert versions.KIND_NODE_IMAGE.endswith(":" + DEFAULTS["workstation_kubectl_version"])


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
