"""The Molecule scenarios, for real: Debian 12 containers running systemd, built here.

Each `molecule test` creates the containers, converges (site.yml), converges again and fails on
any change (idempotence), runs the testinfra checks, and destroys the containers. The image is
built once per content tag (tests/ansible/molecule_image.py) and shared by every scenario.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import molecule_image
import pytest
import yaml
from molecule_support import PLAYBOOKS, docker_available, docker_exec, molecule, tail
from support import require

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SIZING = yaml.safe_load((PLAYBOOKS / "group_vars" / "all" / "sizing.yml").read_text())
PREFLIGHT_DATA_BYTES = 10 * 1024**3  # the tmpfs size of /var/lib/k0s in the preflight scenario


@pytest.fixture(scope="session")
def image() -> str:
    require(docker_available(), "a running Docker engine (docker info)")
    ref = molecule_image.image_ref()
    if not molecule_image.image_exists(ref):
        require(
            molecule_image.shutil.which("debootstrap") is not None,
            "`debootstrap` to build the test image (apt-get install debootstrap)",
        )
    return molecule_image.build(ref)


def _assert_tested(proc) -> None:
    assert proc.returncode == 0, tail(proc)
    out = proc.stdout + proc.stderr
    assert re.search(r"idempotence.*Executed: Successful", out), tail(proc)
    assert re.search(r"=+ \d+ passed in ", out), tail(proc)  # "N failed, M passed" does not match


@pytest.mark.timeout(1200)
def test_controller_workers_converges_is_idempotent_and_verifies(image):
    _assert_tested(molecule("test", "controller-workers", image, timeout=1100))


@pytest.mark.timeout(1200)
def test_single_node_converges_is_idempotent_verifies_and_resets(image):
    # `molecule test`'s steps one by one, so that the containers outlive the verify step.
    steps = {}
    try:
        for action in ("destroy", "syntax", "converge", "idempotence", "verify"):
            steps[action] = molecule(action, "single-node", image, timeout=900)
            assert steps[action].returncode == 0, f"{action}:\n{tail(steps[action])}"
        assert re.search(r"=+ \d+ passed in ", steps["verify"].stdout + steps["verify"].stderr)
        # reset.yml (the scenario's side effect) undoes the preparation, and a second run
        # finds nothing left to do.
        first = molecule("side-effect", "single-node", image, timeout=600)
        assert first.returncode == 0, tail(first)
        again = molecule("side-effect", "single-node", image, timeout=600)
        assert again.returncode == 0, tail(again)
        assert re.search(r"istiolab-single\s*:\s*ok=\d+\s+changed=0 ", again.stdout), tail(again)
        node = "istiolab-single"
        for path in (
            "/etc/modules-load.d/istiolab-kubernetes.conf",
            "/etc/sysctl.d/90-istiolab-kubernetes.conf",
            "/etc/sudoers.d/90-istiolab-istiolab",
            "/etc/ansible/facts.d/istiolab_base.fact",
        ):
            assert docker_exec(node, "test", "-e", path).returncode == 1, path
        assert docker_exec(node, "id", "istiolab").returncode == 1
        fstab = docker_exec(node, "cat", "/etc/fstab").stdout.splitlines()
        assert "/swapfile none swap sw 0 0" in fstab
        assert "istiolab" not in docker_exec(node, "cat", "/etc/hosts").stdout
        tables = docker_exec(node, "nft", "list", "tables")
        assert tables.returncode == 0, tables.stderr
        assert "istiolab" not in tables.stdout
    finally:
        destroyed = molecule("destroy", "single-node", image, timeout=600)
        assert destroyed.returncode == 0, tail(destroyed)


@pytest.mark.timeout(900)
def test_preflight_passes_with_the_dev_profile_and_changes_nothing(image):
    args = _dev_overrides()
    proc = molecule("test", "preflight", image, *args, timeout=800)
    assert proc.returncode == 0, tail(proc)
    out = proc.stdout + proc.stderr
    assert re.search(r"meets sizing profile\s+'dev'", out), tail(proc)
    assert re.search(r"=+ \d+ passed in ", out), tail(proc)


@pytest.mark.timeout(900)
def test_preflight_fails_once_listing_every_shortfall_of_every_host(image):
    created = molecule("create", "preflight", image, timeout=600)
    try:
        assert created.returncode == 0, tail(created)
        proc = molecule("converge", "preflight", image, "-e", "sizing_profile=production")
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, tail(proc)
        report = _report(out)
        assert report == _expected_production_shortfalls(), out[-4000:]
        # One failure, on the run_once task; nothing after it ran on any host.
        assert out.count("FAILED!") == 1, out[-4000:]
        header = f"Preflight found {len(report)} shortfall(s) against sizing profile 'production':"
        assert header in out, out[-4000:]

        # A profile that sizing.yml does not define is named, with the ones it does.
        unknown = molecule("converge", "preflight", image, "-e", "sizing_profile=laptop")
        assert unknown.returncode != 0, tail(unknown)
        assert re.search(
            r"group_vars/all/sizing.yml: sizing_profile 'laptop' is not defined;\s+the\s+"
            r"profiles\s+are\s+dev,\s+production",
            unknown.stdout + unknown.stderr,
        ), tail(unknown)
    finally:
        destroyed = molecule("destroy", "preflight", image, timeout=600)
        assert destroyed.returncode == 0, tail(destroyed)


def _report(output: str) -> set[str]:
    """The shortfall lines of the one failure message (printed as YAML, one per line)."""
    msg = output.split("fatal:", 1)[1].split("msg: |-", 1)[1]
    body = msg.split("Preflight found", 1)[1].splitlines()[1:]
    lines = []
    for line in body:
        stripped = line.strip()
        if not stripped.startswith("- "):
            break
        lines.append(stripped[2:])
    return set(lines)


def _host_facts() -> tuple[int, int]:
    """CPUs and MiB of memory the containers report: the host's (containers share them)."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpus = sum(1 for line in cpuinfo if line.startswith("processor"))
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return cpus, mem_kb // 1024


def _expected_production_shortfalls() -> set[str]:
    cpus, mem_mb = _host_facts()
    free_gb = int(PREFLIGHT_DATA_BYTES / 1e9 * 10) / 10  # floor to 0.1 GB, as the role does
    mem_tol, disk_tol = SIZING["sizing_memory_tolerance_pct"], SIZING["sizing_disk_tolerance_pct"]
    expected = set()
    for host, group in (("istiolab-pf-ctl", "controllers"), ("istiolab-pf-wrk", "workers")):
        need = SIZING["sizing_profiles"]["production"][group]
        prefix = f"{host} ({group}): "
        if cpus < need["cpus"]:
            expected.add(f"{prefix}CPUs: found {cpus}, required {need['cpus']}")
        floor_mb = -(-need["memory_mb"] * (100 - mem_tol) // 100)
        if mem_mb < floor_mb:
            expected.add(
                f"{prefix}memory: found {mem_mb} MB, required {need['memory_mb']} MB "
                f"(at least {floor_mb} MB with the {mem_tol} % tolerance)"
            )
        floor_gb = round(need["disk_gb"] * (100 - disk_tol) / 100, 1)
        if free_gb < floor_gb:
            expected.add(
                f"{prefix}free disk on /var/lib/k0s (filesystem /var/lib/k0s): found {free_gb} GB, "
                f"required {need['disk_gb']} GB (at least {floor_gb} GB free with the "
                f"{disk_tol} % tolerance)"
            )
    # The 10 GiB data path is short of production's disk on both hosts, so the one message
    # must name both.
    assert {line.split(" ", 1)[0] for line in expected} == {"istiolab-pf-ctl", "istiolab-pf-wrk"}
    return expected


def _dev_overrides() -> list[str]:
    """Extra vars when this machine is smaller than the documented `dev` profile.

    dev is a laptop profile (sizing.yml); the containers report the host's CPUs and memory.
    When the host has less, the test says so and lowers the figures to the host's explicitly.
    """
    cpus, mem_mb = _host_facts()
    dev = SIZING["sizing_profiles"]["dev"]
    if all(cpus >= f["cpus"] and mem_mb >= f["memory_mb"] for f in dev.values()):
        return []
    lowered = {
        group: {**f, "cpus": min(f["cpus"], cpus), "memory_mb": min(f["memory_mb"], mem_mb)}
        for group, f in dev.items()
    }
    warnings.warn(
        f"this host has {cpus} CPUs / {mem_mb} MiB, less than the dev profile {dev}: "
        f"the preflight test lowers the figures to {lowered}",
        stacklevel=2,
    )
    profiles = {**SIZING["sizing_profiles"], "dev": lowered}
    return ["-e", yaml.safe_dump({"sizing_profiles": profiles}, default_flow_style=True).strip()]
