"""Shared fixtures for the testinfra checks of every Molecule scenario."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[3]


def role_defaults(role: str) -> dict:
    return yaml.safe_load((PLAYBOOKS / "roles" / role / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def hostvars(host) -> dict:
    """The inventory variables of the host under test (group_names, node_address, ...)."""
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def inventory_groups(hostvars) -> dict[str, list[str]]:
    return {name: list(members) for name, members in hostvars["groups"].items()}


@pytest.fixture(scope="module")
def node_role(hostvars, inventory_groups) -> str:
    """k0s role of the host: single, controller, worker or controller+worker."""
    names = set(hostvars["group_names"])
    members = set(inventory_groups.get("controllers", [])) | set(
        inventory_groups.get("workers", [])
    )
    if "controllers" in names and len(members) == 1:
        return "single"
    if {"controllers", "workers"} <= names:
        return "controller+worker"
    return "controller" if "controllers" in names else "worker"


@pytest.fixture(scope="module")
def handoff() -> dict:
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "k0s-hosts.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def node_addresses(inventory_groups) -> dict[str, str]:
    """node_address of every controller and worker, from the scenario's inventory host_vars."""
    host_vars = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory" / "host_vars"
    members = inventory_groups.get("controllers", []) + inventory_groups.get("workers", [])
    return {
        name: yaml.safe_load((host_vars / name).read_text())["node_address"] for name in members
    }
