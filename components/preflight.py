"""The sizing preflight of a stack: istiolab.sizing's model applied to the stack config and
to what the cluster will have. Runs before any resource is registered."""

from __future__ import annotations

from pathlib import Path

from components import k0s_inventory
from components.k0s_cluster import K0sClusterArgs, roles
from istiolab import sizing
from istiolab.errors import ConfigError
from istiolab.stack_config import (
    ExistingSettings,
    K0sSettings,
    KindSettings,
    MinikubeSettings,
    StackConfig,
)


def k0s_hosts(c: K0sSettings, root: Path) -> tuple[list[k0s_inventory.Host], str]:
    """The cluster's hosts (inventory, then the hand-off file when present) and the sizing
    profile the hand-off names ('' without one)."""
    user, key = k0s_inventory.cluster_login(root)
    hosts = k0s_inventory.read_inventory(
        k0s_inventory.inventory_path(root, c.inventory),
        user=c.ssh_user or user,
        key_path=c.ssh_key_path or key,
    )
    artifact_path = _path(root, c.artifacts) if c.artifacts else None
    default = K0sSettings().artifacts
    if artifact_path is not None and (artifact_path.exists() or c.artifacts != default):
        artifact = k0s_inventory.read_artifact(artifact_path)
        return k0s_inventory.merge_artifact(hosts, artifact), artifact.sizing_profile
    return hosts, ""


def _path(root: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


def plan(cfg: StackConfig, nodes: int) -> sizing.Plan:
    return sizing.Plan(
        cluster_type=cfg.cluster.type,
        profile=cfg.mesh.profile,
        egress_gateway=cfg.mesh.egress,
        addons=tuple(cfg.addons.enabled),
        samples=tuple(cfg.apps.samples),
        httpbin_versions=len(cfg.apps.httpbin_versions),
        load_generator=cfg.load_generator.enabled,
        nodes=nodes,
    )


def capacity(cfg: StackConfig, root: Path) -> tuple[sizing.Capacity | None, int]:
    """(capacity, nodes that run pods); capacity None when it cannot be known."""
    c = cfg.cluster
    if isinstance(c, KindSettings):
        cpus, mem = c.host_cpus, c.host_memory_mb
        if not (cpus and mem):
            detected = sizing.host_resources()
            cpus, mem = cpus or detected[0], mem or detected[1]
        nodes = c.control_planes + c.workers
        return sizing.kind_capacity(cpus, mem, nodes), nodes
    if isinstance(c, MinikubeSettings):
        return sizing.node_capacity(c.cpus, c.memory_mb, c.nodes), c.nodes
    if isinstance(c, K0sSettings):
        hosts, handoff_profile = k0s_hosts(c, root)
        layout = roles(K0sClusterArgs(hosts=hosts, single=c.single))
        pod_controllers = sum(1 for h, r in layout if r in ("single", "controller+worker"))
        workers = sum(1 for _, r in layout if r == "worker")
        profile = c.sizing_profile or handoff_profile or None
        sizes = sizing.inventory_sizing(_path(root, c.sizing_file), profile)
        return sizing.k0s_capacity(sizes, pod_controllers, workers), pod_controllers + workers
    if isinstance(c, ExistingSettings) and c.cpus and c.memory_mb:
        total = sizing.Resources(c.cpus * 1000, c.memory_mb)
        return sizing.Capacity(total, total, f"the free capacity given ({c.cpus} CPUs / "
                                              f"{c.memory_mb} MiB)"), 1  # fmt: skip
    return None, 1


def check(cfg: StackConfig, root: Path) -> sizing.Report | None:
    """Raise ConfigError (every shortfall, what to drop) when the lab does not fit."""
    cap, nodes = capacity(cfg, root)
    if cap is None:
        return None
    report = sizing.check(plan(cfg, nodes), cap)
    if not report.fits:
        raise ConfigError(f"{cfg.source}: istiolab:cluster: {report.message()}")
    return report
