"""Hosts for a k0s cluster, from the same files the playbooks use.

1. `playbooks/inventories/<name>/hosts.yml` (YAML inventory): groups `controllers` and
   `workers`; a host's address is `ansible_host` (else its name), its SSH port `ansible_port`.
2. The SSH login k0sctl uses is the deploy user the `cluster_access` role creates:
   `cluster_user` / `cluster_ssh_private_key_path` from playbooks/group_vars/all/cluster.yml,
   unless the stack sets sshUser / sshKeyPath.
3. The hand-off file the playbooks write after preparing the nodes
   (playbooks/artifacts/k0s-hosts.json, schema `istiolab.k0s-hosts/v1`: per host name,
   address, role single|controller|controller+worker|worker, ssh {address, port, user,
   key_path}) overrides 1 and 2 for the hosts it lists, and names the sizing profile.
Pure: reads files, reaches no host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from istiolab.errors import ConfigError

GROUPS = ("controllers", "workers")
ROLES = ("single", "controller", "controller+worker", "worker")
ARTIFACT_SCHEMA = "istiolab.k0s-hosts/v1"
CLUSTER_VARS = Path("playbooks/group_vars/all/cluster.yml")


@dataclass(frozen=True)
class Host:
    name: str
    group: str  # controllers | workers
    address: str
    user: str = "root"
    port: int = 22
    key_path: str = "~/.ssh/id_ed25519"
    role: str = ""  # from the hand-off file; '' = derived from the groups
    private_address: str = ""  # the node's own address (hand-off `address`), k0sctl's
    # privateAddress: what the node's Kubernetes components advertise to each other


@dataclass(frozen=True)
class Artifact:
    hosts: list[Host]
    sizing_profile: str


def inventory_path(root: Path, inventory: str) -> Path:
    return root / "playbooks" / "inventories" / inventory / "hosts.yml"


def cluster_login(root: Path) -> tuple[str, str]:
    """(user, private key path) of the deploy user, from group_vars/all/cluster.yml."""
    try:
        data = yaml.safe_load((root / CLUSTER_VARS).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "", ""
    user, key = data.get("cluster_user", ""), data.get("cluster_ssh_private_key_path", "")
    return (str(user) if "{{" not in str(user) else "", str(key) if "{{" not in str(key) else "")


def _find_group(node: Any, group: str, inherited: dict) -> tuple[dict, dict] | None:
    """Depth-first search for `group` under all/children; returns (hosts, merged vars)."""
    if not isinstance(node, dict):
        return None
    vars_ = {**inherited, **(node.get("vars") or {})}
    for name, child in (node.get("children") or {}).items():
        child = child or {}
        if name == group:
            return child.get("hosts") or {}, {**vars_, **(child.get("vars") or {})}
        found = _find_group(child, group, vars_)
        if found is not None:
            return found
    return None


def read_inventory(path: Path, *, user: str = "", key_path: str = "") -> list[Host]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        inventories = sorted(p.parent.name for p in path.parent.parent.glob("*/hosts.yml"))
        raise ConfigError(
            f"{path}: cannot read the inventory ({exc.strerror}); istiolab:cluster.inventory "
            f"is one of: {', '.join(inventories) or '(none under playbooks/inventories)'}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    root = data.get("all", data) if isinstance(data, dict) else {}
    hosts: list[Host] = []
    for group in GROUPS:
        found = _find_group(root, group, {})
        if found is None:
            continue
        members, group_vars = found
        for name, host_vars in members.items():
            v = {**group_vars, **(host_vars or {})}
            try:
                port = int(v.get("ansible_port", 22))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{path}: {group}.{name}.ansible_port={v['ansible_port']!r} is not "
                    "allowed: a port number"
                ) from None
            hosts.append(
                Host(
                    name=str(name),
                    group=group,
                    address=str(v.get("ansible_host", name)),
                    user=user or str(v.get("ansible_user") or "root"),
                    port=port,
                    key_path=key_path
                    or str(v.get("ansible_ssh_private_key_file") or "~/.ssh/id_ed25519"),
                )
            )
    if not any(h.group == "controllers" for h in hosts):
        raise ConfigError(f"{path}: the group controllers has no hosts (k0s needs at least one)")
    return hosts


def read_artifact(path: Path) -> Artifact:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the hand-off file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != ARTIFACT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{path}: schema={found!r} is not allowed: {ARTIFACT_SCHEMA}")
    hosts = []
    for i, e in enumerate(data.get("hosts") or []):
        try:
            ssh = e.get("ssh") or {}
            role = e["role"]
            if role not in ROLES:
                raise ConfigError(
                    f"{path}: hosts[{i}].role={role!r} is not allowed: one of {', '.join(ROLES)}"
                )
            hosts.append(
                Host(
                    name=str(e["name"]),
                    group="workers" if role == "worker" else "controllers",
                    address=str(ssh.get("address") or e["address"]),
                    user=str(ssh.get("user") or "root"),
                    port=int(ssh.get("port") or 22),
                    key_path=str(ssh.get("key_path") or "~/.ssh/id_ed25519"),
                    role=role,
                    private_address=str(e["address"]),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"{path}: hosts[{i}] needs name, address, role and ssh ({exc!r})"
            ) from None
    if not hosts:
        raise ConfigError(f"{path}: hosts is empty: run the playbooks' handoff play first")
    return Artifact(hosts, str(data.get("sizing_profile") or ""))


def merge_artifact(hosts: list[Host], artifact: Artifact) -> list[Host]:
    """The hand-off file's facts win for the hosts it lists; its hosts are the cluster."""
    by_name = {h.name: h for h in hosts}
    out = []
    for a in artifact.hosts:
        base = by_name.get(a.name)
        out.append(a if base is None else replace(base, **{
            "address": a.address, "user": a.user, "port": a.port, "key_path": a.key_path,
            "role": a.role, "group": a.group, "private_address": a.private_address,
        }))  # fmt: skip
    return out
