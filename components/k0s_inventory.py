"""Hosts for a k0s cluster, read from the Ansible inventory the playbooks use.

`playbooks/inventories/<name>/hosts.yml` (YAML inventory) holds the groups `controllers` and
`workers`; per host `ansible_host`, `ansible_user`, `ansible_port` and
`ansible_ssh_private_key_file` carry over to k0sctl's ssh settings (host vars, then group
vars, then `all` vars). A hand-off JSON from the playbooks, when given, may add or override
addresses (see `merge_artifacts`). Pure: reads files, reaches no host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from istiolab.errors import ConfigError

GROUPS = ("controllers", "workers")


@dataclass(frozen=True)
class Host:
    name: str
    group: str  # controllers | workers
    address: str
    user: str = "root"
    port: int = 22
    key_path: str = "~/.ssh/id_ed25519"


def inventory_path(root: Path, inventory: str) -> Path:
    return root / "playbooks" / "inventories" / inventory / "hosts.yml"


def _find_group(node: Any, group: str, inherited: dict) -> tuple[dict, dict] | None:
    """Depth-first search for `group` under all/children; returns (hosts, merged vars)."""
    if not isinstance(node, dict):
        return None
    vars_ = {**inherited, **(node.get("vars") or {})}
    for name, child in (node.get("children") or {}).items():
        if name == group:
            child = child or {}
            return child.get("hosts") or {}, {**vars_, **(child.get("vars") or {})}
        found = _find_group(child, group, vars_)
        if found is not None:
            return found
    return None


def read_inventory(path: Path, *, default_user: str = "", default_key: str = "") -> list[Host]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the inventory ({exc.strerror}); istiolab:cluster.inventory "
            "names a folder under playbooks/inventories/"
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
        for name, hv in members.items():
            v = {**group_vars, **(hv or {})}
            try:
                port = int(v.get("ansible_port", 22))
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: {group}.{name}.ansible_port={v['ansible_port']!r} "
                                  "is not allowed: a port number") from None  # fmt: skip
            hosts.append(
                Host(
                    name=str(name),
                    group=group,
                    address=str(v.get("ansible_host", name)),
                    user=str(v.get("ansible_user") or default_user or "root"),
                    port=port,
                    key_path=str(
                        v.get("ansible_ssh_private_key_file") or default_key or "~/.ssh/id_ed25519"
                    ),
                )
            )
    if not any(h.group == "controllers" for h in hosts):
        raise ConfigError(f"{path}: the group controllers has no hosts (k0s needs at least one)")
    return hosts


def merge_artifacts(hosts: list[Host], path: Path) -> list[Host]:
    """Apply a playbooks hand-off JSON: `{"hosts": {"<name>": {"address": ..., "user": ...,
    "port": ..., "key_path": ..., "group": ...}}}` (or a list of such objects with `name`)."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the hand-off file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    entries = data.get("hosts", {}) if isinstance(data, dict) else {}
    if isinstance(entries, list):
        entries = {e.get("name"): e for e in entries if isinstance(e, dict)}
    by_name = {h.name: h for h in hosts}
    for name, e in entries.items():
        if not isinstance(e, dict):
            continue
        address = e.get("address") or e.get("ansible_host") or e.get("ip")
        group = e.get("group") or (by_name[name].group if name in by_name else None)
        if group not in GROUPS:
            continue
        base = by_name.get(name) or Host(name=name, group=group, address=str(address or name))
        changes = {"group": group}
        if address:
            changes["address"] = str(address)
        for key, attr in (("user", "user"), ("ansible_user", "user"), ("key_path", "key_path")):
            if e.get(key):
                changes[attr] = str(e[key])
        if e.get("port"):
            changes["port"] = int(e["port"])
        by_name[name] = replace(base, **changes)
    return list(by_name.values())
