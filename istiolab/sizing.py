"""Sizing preflight: what a lab needs (CPU millicores, memory MiB) against what the cluster has.

One model shared by the Pulumi program (before any resource is registered) and the Ansible
preflight (`python -m istiolab.sizing ...`). Pure functions over plain data; the only I/O is
reading `playbooks/group_vars/all/sizing.yml` and, for kind, the host's CPU and memory.

Figures (requests, as the scheduler sees them; "est." where upstream sets no request and the
figure is a planning estimate of the steady working set):

- Istio, per profile: what the `istiod` and `gateway` charts render with the lab's values
  (istiolab/istio_install.py), requests x replicas with autoscaling off, read from the
  rendered Deployments and the injector's proxy values into istio_requests.json
  (istiolab/chart_requests.py; a render test keeps it equal to the charts). Istio 1.30.3:
  default: istiod 500m/2048Mi, each gateway 100m/128Mi, each sidecar 100m/128Mi;
  demo: istiod 10m/100Mi, each gateway 10m/40Mi, each sidecar 10m/40Mi.
- Kubernetes system pods: kubeadm control plane (kind, minikube) apiserver 250m,
  controller-manager 200m, scheduler 100m, etcd 100m/100Mi, CoreDNS 2 x 100m/70Mi;
  kindnet 100m/50Mi per kind node; k0s: CoreDNS 2 x 100m/70Mi, metrics-server 10m/30Mi
  (the control plane runs outside pods on controllers), kube-router 250m/16Mi per worker.
- Addons: prometheus 250m/512Mi (est.), grafana 100m/128Mi (est.), kiali 10m/64Mi (chart
  requests), jaeger 10m/128Mi (10m request; memory est. for in-memory storage).
- Samples (app containers, est.): productpage 50m/64Mi, details 10m/32Mi, ratings 10m/32Mi,
  reviews v1-v3 100m/256Mi each (Java), httpbin 10m/32Mi per version, sleep 5m/8Mi,
  fortio 50m/32Mi, tcp-echo 5m/8Mi and helloworld 100m/64Mi (100m as Istio's sample
  requests) per version (v1, v2). Every sample pod also carries one sidecar (the profile's figure).
- Reserves: 100m/256Mi per node (kubelet, container runtime, OS); for kind also 1024 MiB for
  the host itself, since all kind nodes share the host's CPU and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from istiolab import chart_requests
from istiolab.errors import ConfigError
from istiolab.names import ADDONS, PROFILES, SAMPLES
from istiolab.stack_config import CLUSTER_TYPES


@dataclass(frozen=True)
class Resources:
    cpu_m: int = 0
    memory_mi: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi)

    def times(self, n: int) -> Resources:
        return Resources(self.cpu_m * n, self.memory_mi * n)


def _sum(items: Iterable[Resources]) -> Resources:
    total = Resources()
    for r in items:
        total = total + r
    return total


# --- figures ------------------------------------------------------------------------------
def _istio_figures(pod: str) -> dict[str, Resources]:
    """Per profile, what the charts render for `pod` (istiod, gateway, sidecar)."""
    data = chart_requests.load()
    return {p: Resources(data[p][pod]["cpu_m"], data[p][pod]["memory_mi"]) for p in PROFILES}


ISTIOD = _istio_figures("istiod")
GATEWAY = _istio_figures("gateway")
SIDECAR = _istio_figures("sidecar")

KUBEADM_CONTROL_PLANE = Resources(250 + 200 + 100 + 100 + 2 * 100, 100 + 2 * 70)
KINDNET = Resources(100, 50)
K0S_SYSTEM = Resources(2 * 100 + 10, 2 * 70 + 30)
K0S_KUBE_ROUTER = Resources(250, 16)
NODE_RESERVE = Resources(100, 256)
KIND_HOST_RESERVE = Resources(0, 1024)

ADDON_FIGURES = {
    "prometheus": Resources(250, 512),
    "grafana": Resources(100, 128),
    "kiali": Resources(10, 64),
    "jaeger": Resources(10, 128),
}
# Sample pods: list of app-container figures, one entry per pod (each pod gets a sidecar).
SAMPLE_PODS = {
    "bookinfo": [
        Resources(50, 64),  # productpage-v1
        Resources(10, 32),  # details-v1
        Resources(10, 32),  # ratings-v1
        Resources(100, 256),  # reviews-v1
        Resources(100, 256),  # reviews-v2
        Resources(100, 256),  # reviews-v3
    ],
    "httpbin": [Resources(10, 32)],  # per version
    "sleep": [Resources(5, 8)],
    "fortio": [Resources(50, 32)],
    "tcp-echo": [Resources(5, 8), Resources(5, 8)],  # v1, v2
    "helloworld": [Resources(100, 64), Resources(100, 64)],  # v1, v2
}


@dataclass(frozen=True)
class Plan:
    """What a stack selects, as far as sizing is concerned."""

    cluster_type: str = "kind"
    profile: str = "default"
    egress_gateway: bool = False
    addons: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()
    httpbin_versions: int = 1
    load_generator: bool = False
    nodes: int = 1  # nodes that run pods (for per-node system pods)


@dataclass(frozen=True)
class Item:
    """One line of demand: a named part of the lab, its total requests, how to drop it."""

    name: str
    resources: Resources
    largest_pod: Resources
    drop: str = ""  # what to change to drop it, '' if it cannot be dropped


@dataclass(frozen=True)
class Capacity:
    """Allocatable resources of the cluster, and the largest single node's allocatable."""

    total: Resources
    largest_node: Resources
    source: str  # human description, e.g. "kind on this host (4 CPUs, 15820 MiB)"


@dataclass
class Report:
    items: list[Item]
    need: Resources
    capacity: Capacity
    shortfalls: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.shortfalls

    def to_dict(self) -> dict:
        return {
            "fits": self.fits,
            "need": {"cpu_m": self.need.cpu_m, "memory_mi": self.need.memory_mi},
            "capacity": {
                "cpu_m": self.capacity.total.cpu_m,
                "memory_mi": self.capacity.total.memory_mi,
                "source": self.capacity.source,
            },
            "items": [
                {"name": i.name, "cpu_m": i.resources.cpu_m, "memory_mi": i.resources.memory_mi}
                for i in self.items
            ],
            "shortfalls": self.shortfalls,
            "suggestions": self.suggestions,
        }

    def message(self) -> str:
        lines = [f"the lab needs more than {self.capacity.source} provides:"]
        lines += [f"  - {s}" for s in self.shortfalls]
        if self.suggestions:
            lines.append("  to fit, any of:")
            lines += [f"  * {s}" for s in self.suggestions]
        return "\n".join(lines)


def _check(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"sizing: {name}={value!r} is not allowed: one of {', '.join(allowed)}")


def demand(plan: Plan) -> list[Item]:
    """Every part of the lab with its requests (sidecars included), in install order."""
    _check("cluster_type", plan.cluster_type, CLUSTER_TYPES)
    _check("profile", plan.profile, PROFILES)
    for a in plan.addons:
        _check("addon", a, ADDONS)
    for s in plan.samples:
        _check("sample", s, SAMPLES)
    sidecar = SIDECAR[plan.profile]
    items: list[Item] = []
    system = _system(plan)
    if system is not None:
        items.append(system)
    items.append(Item("istiod", ISTIOD[plan.profile], ISTIOD[plan.profile]))
    gw = GATEWAY[plan.profile]
    items.append(Item("ingress gateway", gw, gw))
    if plan.egress_gateway:
        items.append(Item("egress gateway", gw, gw, "set istiolab:mesh.egressGateway=false"))
    for a in plan.addons:
        r = ADDON_FIGURES[a]
        items.append(Item(f"addon {a}", r, r, f"drop addon {a}"))
    for s in plan.samples:
        pods = SAMPLE_PODS[s] * (plan.httpbin_versions if s == "httpbin" else 1)
        with_sidecars = [p + sidecar for p in pods]
        items.append(
            Item(
                f"sample {s}",
                _sum(with_sidecars),
                max(with_sidecars, key=lambda r: r.memory_mi),
                f"drop sample {s}",
            )
        )
    if plan.load_generator:
        pod = SAMPLE_PODS["fortio"][0] + sidecar
        items.append(
            Item("load generator fortio", pod, pod, "set istiolab:loadGenerator.enabled=false")
        )
    return items


def _system(plan: Plan) -> Item | None:
    nodes = max(plan.nodes, 1)
    if plan.cluster_type == "kind":
        r = KUBEADM_CONTROL_PLANE + KINDNET.times(nodes)
    elif plan.cluster_type == "minikube":
        r = KUBEADM_CONTROL_PLANE + (KINDNET.times(nodes) if nodes > 1 else Resources())
    elif plan.cluster_type == "k0s":
        r = K0S_SYSTEM + K0S_KUBE_ROUTER.times(nodes)
    else:
        return None  # an existing cluster's capacity is given as what is free
    return Item("kubernetes system pods", r, Resources(250, 100))


def check(plan: Plan, capacity: Capacity) -> Report:
    """Compare the plan's demand with the capacity: every shortfall and what could be dropped."""
    items = demand(plan)
    need = _sum(i.resources for i in items)
    report = Report(items, need, capacity)
    have = capacity.total
    if need.cpu_m > have.cpu_m:
        report.shortfalls.append(
            f"CPU: needs {need.cpu_m}m, has {have.cpu_m}m (short by {need.cpu_m - have.cpu_m}m)"
        )
    if need.memory_mi > have.memory_mi:
        report.shortfalls.append(
            f"memory: needs {need.memory_mi} MiB, has {have.memory_mi} MiB "
            f"(short by {need.memory_mi - have.memory_mi} MiB)"
        )
    node = capacity.largest_node
    for i in items:
        pod = i.largest_pod
        if pod.cpu_m > node.cpu_m or pod.memory_mi > node.memory_mi:
            report.shortfalls.append(
                f"{i.name}: a pod requests {pod.cpu_m}m CPU / {pod.memory_mi} MiB but the "
                f"largest node offers {node.cpu_m}m / {node.memory_mi} MiB"
            )
    if report.shortfalls:
        report.suggestions = _suggestions(plan, items, cpu_short=need.cpu_m > have.cpu_m)
    return report


def _suggestions(plan: Plan, items: list[Item], *, cpu_short: bool) -> list[str]:
    """A smaller profile first, then each droppable part, biggest saving (of the resource
    that is short) first."""
    out = []
    if plan.profile != "demo":
        demo = _sum(i.resources for i in demand(_replace(plan, profile="demo")))
        now = _sum(i.resources for i in items)
        saved = now - demo
        out.append(
            f"set istiolab:mesh.profile=demo to save {saved.cpu_m}m CPU and "
            f"{saved.memory_mi} MiB (smaller istiod, gateway and sidecar requests)"
        )

    def saving(i: Item) -> tuple[int, int]:
        r = i.resources
        return (-r.cpu_m, -r.memory_mi) if cpu_short else (-r.memory_mi, -r.cpu_m)

    droppable = sorted((i for i in items if i.drop), key=saving)
    for i in droppable:
        r = i.resources
        out.append(f"{i.drop} to save {r.cpu_m}m CPU and {r.memory_mi} MiB")
    return out


def _replace(plan: Plan, **changes: object) -> Plan:
    from dataclasses import replace

    return replace(plan, **changes)


def require_fit(plan: Plan, capacity: Capacity) -> Report:
    """`check`, raising ConfigError with the full shortfall list when the plan does not fit."""
    report = check(plan, capacity)
    if not report.fits:
        raise ConfigError(report.message())
    return report


# --- capacity -----------------------------------------------------------------------------
def node_capacity(cpus: int, memory_mi: int, nodes: int = 1) -> Capacity:
    """`nodes` identical machines (minikube nodes, VMs), less the per-node reserve."""
    per = Resources(cpus * 1000, memory_mi) - NODE_RESERVE
    return Capacity(
        per.times(nodes),
        per,
        f"{nodes} node(s) of {cpus} CPUs / {memory_mi} MiB",
    )


def kind_capacity(host_cpus: int, host_memory_mi: int, nodes: int) -> Capacity:
    """kind nodes are containers sharing the host: the host's figures, less reserves."""
    total = Resources(host_cpus * 1000, host_memory_mi) - KIND_HOST_RESERVE
    total = total - NODE_RESERVE.times(nodes)
    return Capacity(total, total, f"kind on a host with {host_cpus} CPUs / {host_memory_mi} MiB")


def host_resources() -> tuple[int, int]:
    """This machine's CPU count and memory in MiB (Linux /proc/meminfo, else sysconf)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(cpus or 1), int(line.split()[1]) // 1024
    except OSError:
        pass
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(cpus or 1), pages * size // (1024 * 1024)


@dataclass(frozen=True)
class NodeSize:
    cpus: int
    memory_mb: int
    disk_gb: int


def inventory_sizing(path: str | Path, profile: str | None = None) -> dict[str, NodeSize]:
    """Node figures per inventory group from sizing.yml (`sizing_profiles.<profile>.<group>`)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the sizing figures: {exc}") from exc
    profiles = data.get("sizing_profiles") or {}
    profile = profile or data.get("sizing_profile")
    if profile not in profiles:
        raise ConfigError(
            f"{path}: sizing_profile={profile!r} is not allowed: one of {', '.join(profiles)}"
        )
    out = {}
    for group, figs in (profiles[profile] or {}).items():
        try:
            out[group] = NodeSize(int(figs["cpus"]), int(figs["memory_mb"]), int(figs["disk_gb"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{path}: sizing_profiles.{profile}.{group} needs cpus, memory_mb and disk_gb "
                f"as integers ({exc})"
            ) from exc
    return out


def k0s_capacity(sizes: dict[str, NodeSize], pod_controllers: int, workers: int) -> Capacity:
    """The nodes that run pods: workers, and controllers that run pods too (`--single`,
    controller+worker); figures per inventory group from sizing.yml, less the node reserve."""
    total, largest, parts = Resources(), Resources(), []
    for group, count in (("workers", workers), ("controllers", pod_controllers)):
        if count <= 0:
            continue
        if group not in sizes:
            raise ConfigError(f"sizing.yml: no figures for inventory group {group!r}")
        s = sizes[group]
        per = Resources(s.cpus * 1000, s.memory_mb) - NODE_RESERVE
        total = total + per.times(count)
        largest = max(largest, per, key=lambda r: (r.memory_mi, r.cpu_m))
        parts.append(f"{count} {group[:-1]}(s) of {s.cpus} CPUs / {s.memory_mb} MiB")
    return Capacity(total, largest, "k0s nodes: " + ", ".join(parts or ["none that run pods"]))


# --- CLI ----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """`python -m istiolab.sizing`: the check for the Ansible preflight; exit 1 on a shortfall."""
    p = argparse.ArgumentParser(prog="python -m istiolab.sizing", description=main.__doc__)
    p.add_argument("--cluster-type", default="k0s", choices=CLUSTER_TYPES)
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("--egress-gateway", action="store_true")
    p.add_argument("--addons", default="", help="comma-separated: " + ",".join(ADDONS))
    p.add_argument("--samples", default="", help="comma-separated: " + ",".join(SAMPLES))
    p.add_argument("--load-generator", action="store_true")
    p.add_argument("--cpus", type=int, help="per node CPUs (instead of --sizing-file)")
    p.add_argument("--memory-mb", type=int, help="per node memory in MiB")
    p.add_argument("--nodes", type=int, default=1, help="nodes that run pods")
    p.add_argument("--sizing-file", help="playbooks/group_vars/all/sizing.yml")
    p.add_argument("--sizing-profile", help="overrides sizing_profile in the file")
    p.add_argument("--controllers", type=int, default=1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--single", action="store_true", help="controllers run pods")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    a = p.parse_args(argv)
    split = lambda s: tuple(x for x in s.split(",") if x)  # noqa: E731
    try:
        if a.sizing_file:
            sizes = inventory_sizing(a.sizing_file, a.sizing_profile)
            cap = k0s_capacity(sizes, a.controllers if a.single else 0, a.workers)
            nodes = a.workers + (a.controllers if a.single else 0)
        elif a.cpus and a.memory_mb:
            cap, nodes = node_capacity(a.cpus, a.memory_mb, a.nodes), a.nodes
        else:
            p.error("give --sizing-file or both --cpus and --memory-mb")
        plan = Plan(
            a.cluster_type, a.profile, a.egress_gateway, split(a.addons), split(a.samples),
            load_generator=a.load_generator, nodes=nodes,
        )  # fmt: skip
        report = check(plan, cap)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if a.output == "json":
        print(json.dumps(report.to_dict(), indent=2))
    elif report.fits:
        print(
            f"fits: needs {report.need.cpu_m}m CPU / {report.need.memory_mi} MiB of "
            f"{cap.total.cpu_m}m / {cap.total.memory_mi} MiB ({cap.source})"
        )
    else:
        print(report.message())
    return 0 if report.fits else 1


if __name__ == "__main__":
    raise SystemExit(main())
