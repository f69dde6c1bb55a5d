"""The base role: packages, swap, kernel modules, sysctls, time sync, names."""

from __future__ import annotations

import json

from conftest import role_defaults

BASE = role_defaults("base")


def test_every_base_package_is_installed(host):
    missing = [name for name in BASE["base_packages"] if not host.package(name).is_installed]
    assert missing == []


def test_swap_entries_are_commented_out_with_the_reset_marker(host):
    fstab = host.file("/etc/fstab").content_string.splitlines()
    active = [line for line in fstab if line.split() and not line.startswith("#")]
    assert not any(len(f := line.split()) > 2 and f[2] == "swap" for line in active), fstab
    assert "# istiolab-swap-off: /swapfile none swap sw 0 0" in fstab


def test_kernel_modules_are_persisted(host):
    conf = host.file(BASE["base_modules_load_file"])
    assert conf.user == "root"
    assert conf.mode == 0o644
    lines = [line for line in conf.content_string.splitlines() if not line.startswith("#")]
    assert lines == ["overlay", "br_netfilter"]


def test_modprobe_was_skipped_in_the_container(host):
    # A container shares the host's kernel: the role records that it loaded nothing.
    facts = json.loads(host.file("/etc/ansible/facts.d/istiolab_base.fact").content_string)
    assert facts["container"] is True
    assert facts["kernel_modules_loaded"] is False
    assert facts["sysctls_applied"] is False
    assert facts["kernel_modules"] == ["overlay", "br_netfilter"]


def test_kubernetes_sysctls_are_persisted(host):
    conf = host.file(BASE["base_sysctl_file"])
    assert conf.mode == 0o644
    settings = dict(
        (part.strip() for part in line.split("=", 1))
        for line in conf.content_string.splitlines()
        if line and not line.startswith("#")
    )
    assert settings == {key: str(value) for key, value in BASE["base_sysctls"].items()}
    assert settings["net.bridge.bridge-nf-call-iptables"] == "1"
    assert settings["net.ipv4.ip_forward"] == "1"


def test_chrony_keeps_time_without_steering_the_hosts_clock(host):
    chrony = host.service("chrony")
    assert chrony.is_enabled
    assert chrony.is_running
    assert host.process.filter(comm="chronyd")
    assert "-x" in host.process.get(comm="chronyd").args.split()
    assert host.file("/etc/chrony/sources.d/istiolab.sources").exists


def test_hostname_is_the_inventory_name(host, hostvars):
    assert host.check_output("hostname") == hostvars["inventory_hostname"]


def test_etc_hosts_lists_every_inventory_host(host, node_addresses):
    hosts = host.file("/etc/hosts").content_string
    block = hosts.split("# BEGIN istiolab cluster hosts (Ansible managed)\n", 1)[1]
    block = block.split("# END istiolab cluster hosts (Ansible managed)", 1)[0]
    assert block.strip().splitlines() == [f"{addr} {name}" for name, addr in node_addresses.items()]
