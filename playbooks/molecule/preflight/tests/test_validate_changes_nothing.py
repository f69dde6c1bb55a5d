"""validate.yml only reads: after it ran, the nodes are as the image left them."""

from __future__ import annotations


def test_no_deploy_user(host):
    assert not host.user("istiolab").exists


def test_no_kubernetes_configuration(host):
    for path in (
        "/etc/modules-load.d/istiolab-kubernetes.conf",
        "/etc/sysctl.d/90-istiolab-kubernetes.conf",
        "/etc/sudoers.d/90-istiolab-istiolab",
        "/etc/ansible/facts.d/istiolab_base.fact",
    ):
        assert not host.file(path).exists, path


def test_firewall_untouched(host):
    assert not host.service("nftables").is_enabled
    # Debian's packaged ruleset is still the one the nftables service would load.
    assert "flush ruleset" in host.file("/etc/nftables.conf").content_string


def test_data_path_is_the_sized_tmpfs(host):
    mount = host.mount_point("/var/lib/k0s")
    assert mount.filesystem == "tmpfs"
    assert "size=10485760k" in mount.options


def test_checks_ran_unprivileged(host):
    assert host.user().name == "lab"
