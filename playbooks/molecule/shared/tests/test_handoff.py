"""The hand-off file (schema istiolab.k0s-hosts/v1) describes the prepared nodes."""

from __future__ import annotations

import os


def test_document_lists_the_inventory_by_role(handoff, inventory_groups, node_addresses):
    controllers = inventory_groups.get("controllers", [])
    workers = inventory_groups.get("workers", [])
    assert handoff["schema"] == "istiolab.k0s-hosts/v1"
    assert handoff["topology"] == ("single" if len(controllers + workers) == 1 else "multi")
    assert handoff["controllers"] == controllers
    assert handoff["workers"] == workers
    assert [h["name"] for h in handoff["hosts"]] == controllers + workers
    assert {h["name"]: h["address"] for h in handoff["hosts"]} == node_addresses


def test_entry_of_this_host(host, handoff, hostvars, node_role):
    entry = next(h for h in handoff["hosts"] if h["name"] == hostvars["inventory_hostname"])
    assert entry["role"] == node_role
    assert entry["hostname"] == host.check_output("hostname")
    groups = [g for g in ("controllers", "workers") if g in hostvars["group_names"]]
    assert entry["groups"] == groups
    assert entry["ssh"] == {
        # Not an SSH connection in the tests (docker), so the node address stands in.
        "address": entry["address"],
        "port": 22,
        "user": "istiolab",
        "key_path": os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "id_ed25519"),
    }
    assert entry["arch"] == {"x86_64": "amd64", "aarch64": "arm64"}[host.system_info.arch]
    assert entry["os"].startswith("Debian 12")
    assert entry["data_dir"] == "/var/lib/k0s"
    assert handoff["sizing_profile"] == hostvars["sizing_profile"]
