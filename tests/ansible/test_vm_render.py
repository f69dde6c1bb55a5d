"""The vm role sizes each VM from its inventory group: render its files, no libvirt needed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml
from molecule_support import BIN, PLAYBOOKS, run, tail, tool_env

SIZING = yaml.safe_load((PLAYBOOKS / "group_vars" / "all" / "sizing.yml").read_text())
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0TW8pO3Xs1VbCNRGbL6vX6zQd2LQ4mU0wX9bqjY3aP lab"
RENDER = """\
- name: Render the VM files of the inventory's nodes
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Render them with the vm role's file tasks
      ansible.builtin.include_role:
        name: vm
        tasks_from: files
"""


def render(tmp_path, inventory: str, profile: str) -> dict[str, dict[str, str]]:
    playbook = tmp_path / "render.yml"
    playbook.write_text(RENDER)
    out = tmp_path / "pool"
    extra = {"vm_pool_dir": str(out), "vm_ssh_public_keys": [PUBLIC_KEY], "vm_gateway": ""}
    proc = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(PLAYBOOKS / "inventories" / inventory / "hosts.yml"),
            "-e",
            f"@{PLAYBOOKS / 'group_vars' / 'all' / 'sizing.yml'}",
            "-e",
            f"sizing_profile={profile}",
            "-e",
            json.dumps(extra),
            str(playbook),
        ],
        env=tool_env(ANSIBLE_ROLES_PATH=str(PLAYBOOKS / "roles")),
        timeout=300,
    )
    assert proc.returncode == 0, tail(proc)
    return {vm.name: {f.name: f.read_text() for f in vm.iterdir()} for vm in sorted(out.iterdir())}


@pytest.mark.parametrize("profile", ["production", "dev"])
def test_three_node_vms_get_their_groups_figures(tmp_path, profile):
    vms = render(tmp_path, "three-node", profile)
    assert sorted(vms) == ["k0s-controller-1", "k0s-worker-1", "k0s-worker-2"]
    figures = SIZING["sizing_profiles"][profile]
    for name, files in vms.items():
        need = figures["controllers" if "controller" in name else "workers"]
        domain = ET.fromstring(files["domain.xml"])
        assert domain.findtext("name") == name
        assert int(domain.findtext("vcpu")) == need["cpus"]
        memory = domain.find("memory")
        assert (memory.get("unit"), int(memory.text)) == ("MiB", need["memory_mb"])
        node = domain.find("metadata/{https://istiolab.dev/xmlns/vm/1}node")
        assert int(node.get("disk_gb")) == need["disk_gb"]
        disks = [d.find("source").get("file") for d in domain.iter("disk")]
        assert disks[0].endswith(f"/{name}/disk.qcow2")
        assert disks[1].endswith(f"/{name}/seed.iso")
        user_data = yaml.safe_load(files["user-data"])
        assert user_data["hostname"] == name
        assert user_data["users"][0]["name"] == "istiolab"
        assert user_data["users"][0]["ssh_authorized_keys"] == [PUBLIC_KEY]
        network = yaml.safe_load(files["network-config"])
        address = network["ethernets"]["primary"]["addresses"][0]
        assert address.startswith("192.0.2.") and address.endswith("/24")
        assert yaml.safe_load(files["meta-data"])["local-hostname"] == name


def test_single_node_vm_gets_the_controller_figures(tmp_path):
    vms = render(tmp_path, "single-node", "production")
    assert list(vms) == ["k0s-single"]
    domain = ET.fromstring(vms["k0s-single"]["domain.xml"])
    assert int(domain.findtext("vcpu")) == 4
    assert int(domain.find("memory").text) == 16384


def test_vm_role_without_a_cloud_image_names_the_missing_variables(tmp_path):
    playbook = tmp_path / "vm.yml"
    playbook.write_text(RENDER.replace("tasks_from: files", "tasks_from: main"))
    proc = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(PLAYBOOKS / "inventories" / "three-node" / "hosts.yml"),
            "-e",
            f"@{PLAYBOOKS / 'group_vars' / 'all' / 'sizing.yml'}",
            "-e",
            json.dumps({"vm_ssh_public_keys": [PUBLIC_KEY], "vm_pool_dir": str(tmp_path)}),
            str(playbook),
        ],
        env=tool_env(ANSIBLE_ROLES_PATH=str(PLAYBOOKS / "roles")),
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, tail(proc)
    assert "vm_image_url and vm_image_checksum must be set" in " ".join(out.split()), tail(proc)
    assert "vm_image_url=''" in out, tail(proc)
    assert not (tmp_path / "k0s-controller-1").exists()  # nothing done before the check
