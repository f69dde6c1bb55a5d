"""ansible-lint (production profile) and ansible-playbook --syntax-check: no Docker needed."""

from __future__ import annotations

import pytest
from molecule_support import BIN, PLAYBOOKS, run, tail, tool_env

PLAYBOOKS_TO_CHECK = sorted(p.name for p in PLAYBOOKS.glob("*.yml"))
INVENTORIES = sorted(p.parent.name for p in (PLAYBOOKS / "inventories").glob("*/hosts.yml"))


def test_every_playbook_is_found():
    assert {"site.yml", "validate.yml", "prepare.yml", "handoff.yml", "reset.yml"} <= set(
        PLAYBOOKS_TO_CHECK
    )
    assert {"single-node", "three-node"} <= set(INVENTORIES)


@pytest.mark.timeout(600)
def test_ansible_lint_production_profile_passes():
    proc = run([str(BIN / "ansible-lint"), "--profile", "production"], env=tool_env(), timeout=550)
    assert proc.returncode == 0, tail(proc, 120)
    assert "Passed" in proc.stdout + proc.stderr, tail(proc)


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS_TO_CHECK)
def test_syntax_check(playbook, inventory):
    proc = run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            f"inventories/{inventory}/hosts.yml",
            playbook,
        ],
        env=tool_env(),
        timeout=120,
    )
    assert proc.returncode == 0, tail(proc)


def test_readme_commands_name_existing_inventories_and_playbooks():
    readme = (PLAYBOOKS / "README.md").read_text()
    commands = [
        line.strip() for line in readme.splitlines() if line.strip().startswith("ansible-playbook ")
    ]
    assert any("inventories/single-node/hosts.yml site.yml" in c for c in commands)
    assert any("inventories/three-node/hosts.yml site.yml" in c for c in commands)
    for command in commands:
        words = command.split()
        for i, word in enumerate(words):
            if word == "-i" and words[i + 1].startswith("inventories/"):
                assert (PLAYBOOKS / words[i + 1]).is_file(), command
        playbooks = [w for w in words if w.endswith(".yml") and "/" not in w and "my-" not in w]
        assert playbooks and all((PLAYBOOKS / p).is_file() for p in playbooks), command
