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
