"""The firewall role: the nftables table for the node's role, loaded by the nftables service."""

from __future__ import annotations

import pytest

CONTROLLER_ONLY = ["tcp dport 2380", "tcp dport 8132", "tcp dport 9443"]
CONTROLLER_PUBLIC = ['tcp dport 6443 accept comment "Kubernetes API"']
WORKER = [
    "ip saddr @cluster_v4 tcp dport 10250 accept",
    "ip saddr @cluster_v4 tcp dport 179 accept",
    "ip saddr @cluster_v4 udp dport 4789 accept",
    "ip saddr @cluster_v4 tcp dport 15000-15090 accept",
]
EVERY_NODE = [
    "type filter hook input priority filter; policy drop;",
    'iif "lo" accept',
    "ct state established,related accept",
    'tcp dport 22 accept comment "SSH"',
    "tcp dport 30000-32767 accept",
    "udp dport 30000-32767 accept",
    "tcp dport 15443 accept",
    "ip saddr @cluster_v4 meta l4proto ipip accept",
]


@pytest.fixture(scope="module")
def ruleset(host) -> str:
    return host.check_output("nft list table inet istiolab")


def test_nftables_service_is_enabled_and_running(host):
    service = host.service("nftables")
    assert service.is_enabled
    assert service.is_running


def test_config_never_flushes_the_kubernetes_rules(host):
    conf = host.file("/etc/nftables.conf")
    assert conf.mode == 0o755
    statements = [
        line.strip() for line in conf.content_string.splitlines() if not line.startswith("#")
    ]
    assert not any(line.startswith("flush") for line in statements), statements
    assert "delete table inet istiolab" in statements
    host.run_test("nft --check --file /etc/nftables.conf")


def test_rules_every_node_has(ruleset):
    missing = [rule for rule in EVERY_NODE if rule not in ruleset]
    assert missing == [], ruleset


def test_cluster_set_holds_the_node_addresses_and_pod_ranges(ruleset, node_addresses):
    # nft prints adjacent addresses merged into ranges, so each address is looked up.
    elements = ruleset.split("elements = {", 1)[1].split("}", 1)[0]
    assert "10.244.0.0/16" in elements
    assert "10.96.0.0/12" in elements
    for address in node_addresses.values():
        last = int(address.rsplit(".", 1)[1])
        covered = address in elements or any(
            "-" in item
            and item.split("-")[0].rsplit(".", 1)[0] == address.rsplit(".", 1)[0]
            and int(item.split("-")[0].rsplit(".", 1)[1])
            <= last
            <= int(item.split("-")[1].rsplit(".", 1)[1])
            for item in (part.strip() for part in elements.replace("\n", " ").split(","))
        )
        assert covered, (address, elements)


def test_ports_match_the_node_role(ruleset, node_role):
    controller = node_role in ("single", "controller", "controller+worker")
    worker = node_role in ("single", "worker", "controller+worker")
    for rule in CONTROLLER_ONLY:
        assert (f"ip saddr @cluster_v4 {rule} accept" in ruleset) == controller, (rule, ruleset)
    for rule in CONTROLLER_PUBLIC:
        assert (rule in ruleset) == controller, (rule, ruleset)
    for rule in WORKER:
        assert (rule in ruleset) == worker, (rule, ruleset)


def test_config_names_the_node_role(host, node_role):
    assert f"# Node role: {node_role}\n" in host.file("/etc/nftables.conf").content_string
