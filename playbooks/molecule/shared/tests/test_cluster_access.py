"""The cluster_access role: the installer's deploy user, its key and passwordless sudo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

USER = "istiolab"
SUDOERS = f"/etc/sudoers.d/90-istiolab-{USER}"


@pytest.fixture(scope="module")
def key_pair() -> tuple[Path, str]:
    private = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "id_ed25519"
    return private, Path(f"{private}.pub").read_text().strip()


def test_deploy_user_exists_without_a_password(host):
    user = host.user(USER)
    assert user.exists
    assert user.shell == "/bin/bash"
    assert user.home == f"/home/{USER}"
    assert user.password == "*"


def test_only_the_installer_key_is_authorized(host, key_pair):
    _, public = key_pair
    keys = host.file(f"/home/{USER}/.ssh/authorized_keys")
    assert keys.user == USER
    assert keys.mode == 0o600
    lines = [line for line in keys.content_string.splitlines() if line.strip()]
    assert [line.split()[:2] for line in lines] == [public.split()[:2]]


def test_sudoers_drop_in_is_valid_and_passwordless(host):
    drop_in = host.file(SUDOERS)
    assert drop_in.user == "root"
    assert drop_in.group == "root"
    assert drop_in.mode == 0o440
    assert f"{USER} ALL=(ALL:ALL) NOPASSWD: ALL" in drop_in.content_string
    host.run_test("visudo -c")
    listing = host.check_output(f"sudo -l -U {USER}")
    assert "(ALL : ALL) NOPASSWD: ALL" in listing


def test_ssh_server_is_enabled_and_running(host):
    ssh = host.service("ssh")
    assert ssh.is_enabled
    assert ssh.is_running
    assert host.socket("tcp://0.0.0.0:22").is_listening


def test_installer_logs_in_with_its_key_and_gets_root_through_sudo(host, key_pair):
    """What k0sctl does: SSH in as the deploy user with the key, then `sudo -n`.

    The connection stays inside the container's own network namespace (its loopback).
    """
    private, _ = key_pair
    inside = "/root/.istiolab-verify-key"
    host.ansible(
        "ansible.builtin.copy",
        f"src={private} dest={inside} mode=0600",
        check=False,
        become=True,
    )
    try:
        result = host.run(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            f"-i {inside} {USER}@127.0.0.1 sudo -n id -u"
        )
        assert result.rc == 0, result.stderr
        assert result.stdout.strip() == "0"
    finally:
        host.run(f"rm -f {inside}")


def test_password_login_is_refused(host):
    # No key: BatchMode forbids prompting, and the account has no password to offer.
    result = host.run(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-o PubkeyAuthentication=no {USER}@127.0.0.1 true"
    )
    assert result.rc == 255
    assert "Permission denied" in result.stderr
