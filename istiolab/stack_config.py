"""The Pulumi stack config: the cluster to make, and the environment spec in its stack syntax.

A stack file (`Pulumi.<stack>.yaml`) holds, under `config:`, these keys (all optional except
`istiolab:cluster`); every section is an object:

istiolab:cluster       type: kind | minikube | k0s | existing, then the settings of that type
  kind                 name, controlPlanes (1), workers (1), nodeImage (versions.KIND_NODE_IMAGE),
                       httpPort (8080) / httpsPort (8443): host ports on 127.0.0.1 of the ingress
                       gateway, hostCpus / hostMemoryMb (what Docker may use; default: this host)
  minikube             name (the profile), driver (docker), cpus (4), memoryMb (8192),
                       diskGb (20), nodes (1), kubernetesVersion (versions.MINIKUBE_...),
                       httpPort (8080) / httpsPort (8443): with the docker or podman driver on
                       macOS/Windows the NodePorts are published on these 127.0.0.1 ports
  k0s                  name, inventory (three-node: playbooks/inventories/<inventory>/hosts.yml),
                       artifacts (the playbooks' hand-off JSON, read when present), single
                       (the `controller --single` layout; default: when there is one host),
                       sshUser / sshKeyPath (default: the playbooks' cluster_user and key),
                       version (versions.K0S_VERSION), sizingFile, sizingProfile
  existing             kubeconfigPath or kubeconfig (content; use a secret), context,
                       cpus / memoryMb (free capacity, for the sizing preflight; optional)
istiolab:mesh, istiolab:apps, istiolab:addons, istiolab:security
                       the environment spec's sections (keys, defaults and allowed values:
                       istiolab/env/spec.py), so `istiolab render --stack NAME` writes exactly
                       the objects the stack deploys (the RequestAuthentication built from the
                       stack's generated JWT key and the load generator are the only extras:
                       they exist only in a deployment)
istiolab:loadGenerator enabled (false), namespace (load)

`from_pulumi()` reads the stack's config as the Pulumi CLI hands it to the program;
`read_stack_file()` reads a stack file directly (for `istiolab render --stack NAME`). Both go
through `parse()`: an unknown key or bad value raises ConfigError naming the key, the value
and the allowed values, before anything is registered. Stack files and the playbooks are
found in the Pulumi project directory: the current directory, as `pulumi` runs the program.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from istiolab import versions
from istiolab.env import SECTIONS as ENV_SECTIONS
from istiolab.env import EnvSpec, SettingError, UnknownSetting, from_sections
from istiolab.env.schema import check_fields, parse_section, setting
from istiolab.errors import ConfigError
from istiolab.manifests import check_name

NAMESPACE = "istiolab"
CLUSTER_TYPES = ("kind", "minikube", "k0s", "existing")
MINIKUBE_DRIVERS = ("docker", "podman", "kvm2", "qemu", "virtualbox", "hyperkit", "vfkit", "hyperv")


class _Checked:
    def __post_init__(self) -> None:
        check_fields(self, "cluster")


@dataclass(frozen=True)
class KindSettings(_Checked):
    type: str = setting("type", "kind")
    name: str = setting("name", "istiolab", doc="kind cluster name")
    control_planes: int = setting("controlPlanes", 1, minimum=1, maximum=3)
    workers: int = setting("workers", 1, minimum=0, maximum=10)
    node_image: str = setting("nodeImage", versions.KIND_NODE_IMAGE)
    http_port: int = setting("httpPort", 8080, minimum=1, maximum=65535)
    https_port: int = setting("httpsPort", 8443, minimum=1, maximum=65535)
    host_cpus: int = setting("hostCpus", 0, minimum=0, doc="0: detect this host")
    host_memory_mb: int = setting("hostMemoryMb", 0, minimum=0, doc="0: detect this host")


@dataclass(frozen=True)
class MinikubeSettings(_Checked):
    type: str = setting("type", "minikube")
    name: str = setting("name", "istiolab", doc="minikube profile")
    driver: str = setting("driver", "docker", choices=MINIKUBE_DRIVERS)
    cpus: int = setting("cpus", 4, minimum=2)
    memory_mb: int = setting("memoryMb", 8192, minimum=1800)
    disk_gb: int = setting("diskGb", 20, minimum=5)
    nodes: int = setting("nodes", 1, minimum=1, maximum=10)
    kubernetes_version: str = setting("kubernetesVersion", versions.MINIKUBE_KUBERNETES_VERSION)
    # docker/podman driver on macOS/Windows: the 127.0.0.1 ports of the NodePorts
    http_port: int = setting("httpPort", 8080, minimum=1, maximum=65535)
    https_port: int = setting("httpsPort", 8443, minimum=1, maximum=65535)


@dataclass(frozen=True)
class K0sSettings(_Checked):
    type: str = setting("type", "k0s")
    name: str = setting("name", "istiolab")
    inventory: str = setting("inventory", "three-node", doc="playbooks/inventories/<inventory>/")
    artifacts: str = setting(
        "artifacts", "playbooks/artifacts/k0s-hosts.json", doc="hand-off file, read if present"
    )
    single: bool | None = setting("single", None, doc="k0s controller --single; default: one host")
    ssh_user: str = setting("sshUser", "", doc="default: cluster_user of group_vars/all")
    ssh_key_path: str = setting("sshKeyPath", "", doc="default: cluster_ssh_private_key_path")
    version: str = setting("version", versions.K0S_VERSION)
    sizing_file: str = setting("sizingFile", "playbooks/group_vars/all/sizing.yml")
    sizing_profile: str = setting("sizingProfile", "", doc="'' = the hand-off's, else the file's")


@dataclass(frozen=True)
class ExistingSettings(_Checked):
    type: str = setting("type", "existing")
    name: str = setting("name", "existing")
    kubeconfig_path: str = setting("kubeconfigPath", "")
    kubeconfig: str = setting("kubeconfig", "", doc="kubeconfig content (set it as a secret)")
    context: str = setting("context", "")
    cpus: int = setting("cpus", 0, minimum=0, doc="free CPUs for the lab; 0 skips the check")
    memory_mb: int = setting("memoryMb", 0, minimum=0)


ClusterSettings = KindSettings | MinikubeSettings | K0sSettings | ExistingSettings
_CLUSTER_CLASSES = {
    "kind": KindSettings,
    "minikube": MinikubeSettings,
    "k0s": K0sSettings,
    "existing": ExistingSettings,
}


@dataclass(frozen=True)
class LoadGeneratorSettings:
    enabled: bool = setting("enabled", False)
    namespace: str = setting("namespace", "load", check=check_name)

    def __post_init__(self) -> None:
        check_fields(self, "loadGenerator")


@dataclass(frozen=True)
class StackConfig:
    cluster: ClusterSettings
    env: EnvSpec = field(default_factory=EnvSpec)
    load_generator: LoadGeneratorSettings = field(default_factory=LoadGeneratorSettings)
    source: str = "<config>"

    # the environment's sections, as the program and the preflight read them
    @property
    def mesh(self):
        return self.env.mesh

    @property
    def apps(self):
        return self.env.apps

    @property
    def addons(self):
        return self.env.addons

    @property
    def security(self):
        return self.env.security


SECTIONS = ("cluster", *ENV_SECTIONS, "loadGenerator")


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse(config: Mapping[str, Any], source: str = "<config>") -> StackConfig:
    """Validate `{"istiolab:<section>": value}` into a StackConfig (other namespaces ignored)."""
    where = f"{source}: {NAMESPACE}:"
    sections: dict[str, Any] = {}
    for full_key, value in config.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if key not in SECTIONS:
            raise UnknownSetting(where, key, SECTIONS, prefix=f"{NAMESPACE}:")
        sections[key] = _decode(value)
    if "cluster" not in sections:
        raise ConfigError(
            f"{where}cluster is missing: set it to an object with "
            f"type: one of {', '.join(CLUSTER_TYPES)}"
        )
    raw = sections.pop("cluster")
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise ConfigError(f"{where}cluster.type is missing: one of {', '.join(CLUSTER_TYPES)}")
    if raw["type"] not in _CLUSTER_CLASSES:
        raise SettingError("cluster.type", raw["type"], "one of " + ", ".join(CLUSTER_TYPES)).named(
            "cluster.type", where
        )
    cluster = parse_section(where, "cluster", _CLUSTER_CLASSES[raw["type"]], raw, skip=("type",))
    env = from_sections({k: v for k, v in sections.items() if k in ENV_SECTIONS}, where)
    load = parse_section(
        where, "loadGenerator", LoadGeneratorSettings, sections.get("loadGenerator")
    )
    cfg = StackConfig(cluster=cluster, env=env, load_generator=load, source=source)
    _cross_checks(cfg, where)
    return cfg


def _cross_checks(cfg: StackConfig, where: str) -> None:
    c = cfg.cluster
    if isinstance(c, ExistingSettings) and bool(c.kubeconfig) == bool(c.kubeconfig_path):
        raise ConfigError(
            f"{where}cluster: type existing needs exactly one of kubeconfigPath or kubeconfig"
        )
    if isinstance(c, KindSettings | MinikubeSettings) and c.http_port == c.https_port:
        raise SettingError("cluster.httpsPort", c.https_port, "a port other than httpPort").named(
            "cluster.httpsPort", where
        )
    lo = cfg.load_generator
    if lo.enabled and lo.namespace == cfg.apps.namespace and cfg.apps.samples:
        raise SettingError(
            "loadGenerator.namespace",
            lo.namespace,
            f"a namespace of its own, not the apps namespace {cfg.apps.namespace!r}",
        ).named("loadGenerator.namespace", where)


# --- the two readers ----------------------------------------------------------------------
def from_pulumi() -> StackConfig:
    """The running stack's config, as the Pulumi CLI passes it (PULUMI_CONFIG + set values)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return parse(merged, source=f"Pulumi.{pulumi.get_stack()}.yaml")


def stack_file(name: str, root: Path | None = None) -> Path:
    """`Pulumi.<name>.yaml` in `root`, by default the current (Pulumi project) directory."""
    root = Path.cwd() if root is None else root
    path = root / f"Pulumi.{name}.yaml"
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(f"{path}: no such stack file: stacks here: {', '.join(stacks) or 'none'}")
    return path


def read_stack_file(name: str, root: Path | None = None) -> StackConfig:
    """Read and validate `Pulumi.<name>.yaml` without the Pulumi CLI."""
    import yaml

    path = stack_file(name, root)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"{path}: config is missing: a stack file holds its settings under config:"
        )
    return parse(config, source=path.name)


def env_for_stack(name: str, root: Path | None = None) -> EnvSpec:
    """`istiolab render --stack NAME`: the environment spec of Pulumi.<name>.yaml."""
    return read_stack_file(name, root).env
