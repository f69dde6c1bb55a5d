"""The Pulumi stack config: one typed, documented schema, read in one place.

A stack file (`Pulumi.<stack>.yaml`) holds, under `config:`, these keys (all optional except
`istiolab:cluster`); every section is an object:

istiolab:cluster       type: kind | minikube | k0s | existing, then the settings of that type
  kind                 name, controlPlanes (1), workers (1), nodeImage (versions.KIND_NODE_IMAGE),
                       httpPort (8080) / httpsPort (8443): host ports on 127.0.0.1 of the ingress
                       gateway, hostCpus / hostMemoryMb (what Docker may use; default: this host)
  minikube             name (the profile), driver (docker), cpus (4), memoryMb (8192),
                       diskGb (20), nodes (1), kubernetesVersion (versions.MINIKUBE_...)
  k0s                  name, inventory (three-node: playbooks/inventories/<inventory>/hosts.yml),
                       artifacts (the playbooks' hand-off JSON, read when present), single
                       (the `controller --single` layout; default: when there is one host),
                       sshUser / sshKeyPath (default: the playbooks' cluster_user and key),
                       version (versions.K0S_VERSION), sizingFile, sizingProfile
  existing             kubeconfigPath or kubeconfig (content; use a secret), context,
                       cpus / memoryMb (free capacity, for the sizing preflight; optional)
istiolab:mesh          profile (default | demo: the charts' profiles), revision (''), accessLogFile
                       (/dev/stdout), outboundTrafficPolicy (ALLOW_ANY | REGISTRY_ONLY),
                       tracingSampling (percent, 1.0), egressGateway (demo profile: true),
                       gatewayService (auto | NodePort | LoadBalancer | ClusterIP),
                       pluginCa (none | generate | files), caDir (for pluginCa=files)
istiolab:apps          namespace (default), injection (true), samples (bookinfo, httpbin, sleep,
                       fortio), httpbinVersions ([v1, v2]), gateway (with bookinfo),
                       gatewayHosts ([*]), destinationRules (true), traffic (a traffic preset
                       or none), trafficParams ({})
istiolab:addons        enabled (prometheus, grafana, kiali, jaeger), namespace (istio-system),
                       nodePorts (false: the NodePort services of seed 002)
istiolab:security      mtls (PERMISSIVE | STRICT | DISABLE, mesh-wide), preset (a security
                       preset or none), presetParams ({}), jwt (false),
                       jwtIssuer (testing@secure.istio.io), jwtRequired (false)
istiolab:loadGenerator enabled (false), namespace (load)

The apps, addons and security sections map one to one onto istiolab.manifests.LabSpec, so
`istiolab render --stack NAME` writes exactly the objects the stack deploys (the
RequestAuthentication built from the stack's generated JWT key and the load generator's
namespace are the only extras: they exist only in a deployment).

`from_pulumi()` reads the stack's config as the Pulumi CLI hands it to the program;
`read_stack_file()` reads a stack file directly (for `istiolab render --stack NAME`). Both go
through `parse()`: an unknown key or bad value raises ConfigError naming the key, the value
and the allowed values, before anything is registered.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from istiolab import versions
from istiolab.errors import ConfigError, ParameterError
from istiolab.manifests.jwks import DEFAULT_ISSUER

NAMESPACE = "istiolab"
REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_TYPES = ("kind", "minikube", "k0s", "existing")
PROFILES = ("default", "demo")
SAMPLES = ("bookinfo", "httpbin", "sleep", "fortio")
ADDONS = ("prometheus", "grafana", "kiali", "jaeger")
MINIKUBE_DRIVERS = ("docker", "podman", "kvm2", "qemu", "virtualbox", "hyperkit", "vfkit", "hyperv")
MTLS_MODES = ("PERMISSIVE", "STRICT", "DISABLE")


def _f(key: str, default: Any = None, *, choices: tuple | None = None, minimum: float | None = None,
       maximum: float | None = None, factory: Any = None, doc: str = "") -> Any:  # fmt: skip
    meta = {"key": key, "choices": choices, "min": minimum, "max": maximum, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class KindSettings:
    type: str = _f("type", "kind")
    name: str = _f("name", "istiolab", doc="kind cluster name")
    control_planes: int = _f("controlPlanes", 1, minimum=1, maximum=3)
    workers: int = _f("workers", 1, minimum=0, maximum=10)
    node_image: str = _f("nodeImage", versions.KIND_NODE_IMAGE)
    http_port: int = _f("httpPort", 8080, minimum=1, maximum=65535)
    https_port: int = _f("httpsPort", 8443, minimum=1, maximum=65535)
    host_cpus: int = _f("hostCpus", 0, minimum=0, doc="0: detect this host")
    host_memory_mb: int = _f("hostMemoryMb", 0, minimum=0, doc="0: detect this host")


@dataclass(frozen=True)
class MinikubeSettings:
    type: str = _f("type", "minikube")
    name: str = _f("name", "istiolab", doc="minikube profile")
    driver: str = _f("driver", "docker", choices=MINIKUBE_DRIVERS)
    cpus: int = _f("cpus", 4, minimum=2)
    memory_mb: int = _f("memoryMb", 8192, minimum=1800)
    disk_gb: int = _f("diskGb", 20, minimum=5)
    nodes: int = _f("nodes", 1, minimum=1, maximum=10)
    kubernetes_version: str = _f("kubernetesVersion", versions.MINIKUBE_KUBERNETES_VERSION)


@dataclass(frozen=True)
class K0sSettings:
    type: str = _f("type", "k0s")
    name: str = _f("name", "istiolab")
    inventory: str = _f("inventory", "three-node", doc="playbooks/inventories/<inventory>/")
    artifacts: str = _f(
        "artifacts", "playbooks/artifacts/k0s-hosts.json", doc="hand-off file, read if present"
    )
    single: bool | None = _f("single", None, doc="k0s controller --single; default: one host")
    ssh_user: str = _f("sshUser", "", doc="default: cluster_user of group_vars/all/cluster.yml")
    ssh_key_path: str = _f("sshKeyPath", "", doc="default: cluster_ssh_private_key_path")
    version: str = _f("version", versions.K0S_VERSION)
    sizing_file: str = _f("sizingFile", "playbooks/group_vars/all/sizing.yml")
    sizing_profile: str = _f("sizingProfile", "", doc="'' = the hand-off's, else the file's")


@dataclass(frozen=True)
class ExistingSettings:
    type: str = _f("type", "existing")
    name: str = _f("name", "existing")
    kubeconfig_path: str = _f("kubeconfigPath", "")
    kubeconfig: str = _f("kubeconfig", "", doc="kubeconfig content (set it as a secret)")
    context: str = _f("context", "")
    cpus: int = _f("cpus", 0, minimum=0, doc="free CPUs for the lab; 0 skips the check")
    memory_mb: int = _f("memoryMb", 0, minimum=0)


ClusterSettings = KindSettings | MinikubeSettings | K0sSettings | ExistingSettings
_CLUSTER_CLASSES = {
    "kind": KindSettings,
    "minikube": MinikubeSettings,
    "k0s": K0sSettings,
    "existing": ExistingSettings,
}


@dataclass(frozen=True)
class MeshSettings:
    profile: str = _f("profile", "default", choices=PROFILES)
    revision: str = _f("revision", "")
    access_log_file: str = _f("accessLogFile", "/dev/stdout")
    outbound_traffic_policy: str = _f(
        "outboundTrafficPolicy", "ALLOW_ANY", choices=("ALLOW_ANY", "REGISTRY_ONLY")
    )
    tracing_sampling: float = _f("tracingSampling", 1.0, minimum=0, maximum=100)
    egress_gateway: bool | None = _f("egressGateway", None, doc="default: profile == demo")
    gateway_service: str = _f(
        "gatewayService", "auto", choices=("auto", "NodePort", "LoadBalancer", "ClusterIP")
    )
    plugin_ca: str = _f("pluginCa", "none", choices=("none", "generate", "files"))
    ca_dir: str = _f("caDir", "")

    @property
    def egress(self) -> bool:
        return self.profile == "demo" if self.egress_gateway is None else self.egress_gateway


@dataclass(frozen=True)
class AppsSettings:
    namespace: str = _f("namespace", "default")
    injection: bool = _f("injection", True, doc="label the namespace istio-injection=enabled")
    samples: tuple[str, ...] = _f("samples", SAMPLES, choices=SAMPLES)
    httpbin_versions: tuple[str, ...] = _f("httpbinVersions", ("v1", "v2"), choices=("v1", "v2"))
    gateway: bool | None = _f("gateway", None, doc="bookinfo Gateway; default: with bookinfo")
    gateway_hosts: tuple[str, ...] = _f("gatewayHosts", ("*",))
    destination_rules: bool = _f("destinationRules", True)
    traffic: str = _f("traffic", "none", doc="a traffic preset (istiolab.manifests) or none")
    traffic_params: dict = _f("trafficParams", factory=dict)  # noqa: RUF009


@dataclass(frozen=True)
class AddonsSettings:
    enabled: tuple[str, ...] = _f("enabled", ADDONS, choices=ADDONS)
    namespace: str = _f("namespace", "istio-system")
    node_ports: bool = _f("nodePorts", False, doc="NodePort services (seed 002 ports)")


@dataclass(frozen=True)
class SecuritySettings:
    mtls: str = _f("mtls", "PERMISSIVE", choices=MTLS_MODES, doc="mesh-wide PeerAuthentication")
    preset: str = _f("preset", "none", doc="a security preset (istiolab.manifests) or none")
    preset_params: dict = _f("presetParams", factory=dict)  # noqa: RUF009
    jwt: bool = _f("jwt", False, doc="RequestAuthentication with a key the stack generates")
    jwt_issuer: str = _f("jwtIssuer", DEFAULT_ISSUER)
    jwt_required: bool = _f("jwtRequired", False, doc="reject requests without a valid token")


@dataclass(frozen=True)
class LoadGeneratorSettings:
    enabled: bool = _f("enabled", False)
    namespace: str = _f("namespace", "load")


@dataclass(frozen=True)
class StackConfig:
    cluster: ClusterSettings
    mesh: MeshSettings = field(default_factory=MeshSettings)
    apps: AppsSettings = field(default_factory=AppsSettings)
    addons: AddonsSettings = field(default_factory=AddonsSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    load_generator: LoadGeneratorSettings = field(default_factory=LoadGeneratorSettings)
    source: str = "<config>"


SECTIONS: dict[str, type] = {
    "cluster": KindSettings,  # placeholder: the class is chosen by `type`
    "mesh": MeshSettings,
    "apps": AppsSettings,
    "addons": AddonsSettings,
    "security": SecuritySettings,
    "loadGenerator": LoadGeneratorSettings,
}
_ATTR = {"loadGenerator": "load_generator"}


# --- parsing ------------------------------------------------------------------------------
def _allowed(keys: Any) -> str:
    return ", ".join(keys)


def _hint(key: str, keys: Any) -> str:
    close = difflib.get_close_matches(key, list(keys), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(where: str, f: dataclasses.Field, value: Any) -> Any:
    meta, default = f.metadata, f.default
    choices, lo, hi = meta.get("choices"), meta.get("min"), meta.get("max")
    kind = type(default) if default is not dataclasses.MISSING else tuple
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        kind = type(f.default_factory())  # type: ignore[misc]
    if default is None:  # optional bool (egressGateway)
        kind = bool

    def bad(allowed: str) -> ConfigError:
        return ConfigError(f"{where}={value!r} is not allowed: {allowed}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad("true or false")
    if kind is int or kind is float:
        num: Any = value
        if isinstance(value, str):
            try:
                num = int(value) if kind is int else float(value)
            except ValueError:
                raise bad(f"a number{_range(lo, hi)}") from None
        if isinstance(num, bool) or not isinstance(num, int | float):
            raise bad(f"a number{_range(lo, hi)}")
        if kind is int and (isinstance(num, float) and not num.is_integer()):
            raise bad(f"an integer{_range(lo, hi)}")
        num = kind(num)
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            raise bad(f"a number{_range(lo, hi)}")
        return num
    if kind is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise bad("an object of parameter names to values")
        return dict(value)
    if kind is tuple:
        items = value
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise bad("a list of names" + (f" from: {_allowed(choices)}" if choices else ""))
        if choices:
            for v in items:
                if v not in choices:
                    raise ConfigError(f"{where}: {v!r} is not allowed: one of {_allowed(choices)}")
        if len(set(items)) != len(items):
            raise bad("a list without repeated names")
        return tuple(items)
    if isinstance(value, bool | int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad("a string" + (f": one of {_allowed(choices)}" if choices else ""))
    if choices and value not in choices:
        raise ConfigError(f"{where}={value!r} is not allowed: one of {_allowed(choices)}")
    return value


def _range(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f" from {lo} to {hi}"
    return f" >= {lo}" if lo is not None else ""


def _section(where: str, cls: type, raw: Any, skip: tuple[str, ...] = ()) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}={raw!r} is not allowed: an object with keys " + _allowed(
            f.metadata["key"] for f in dataclasses.fields(cls)))  # fmt: skip
    by_key = {f.metadata["key"]: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key in skip:
            continue
        if key not in by_key:
            raise ConfigError(
                f"{where}.{key} is not a setting{_hint(str(key), by_key)}: allowed keys: "
                + _allowed(by_key)
            )
        f = by_key[key]
        kwargs[f.name] = _coerce(f"{where}.{key}", f, value)
    return cls(**kwargs)


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
    sections: dict[str, Any] = {}
    for full_key, value in config.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if key not in SECTIONS:
            raise ConfigError(
                f"{source}: {full_key} is not a setting{_hint(key, SECTIONS)}: allowed keys: "
                + _allowed(f"{NAMESPACE}:{k}" for k in SECTIONS)
            )
        sections[key] = _decode(value)
    if "cluster" not in sections:
        raise ConfigError(
            f"{source}: {NAMESPACE}:cluster is missing: set it to an object with "
            f"type: one of {_allowed(CLUSTER_TYPES)}"
        )
    cluster_raw = sections.pop("cluster")
    where = f"{source}: {NAMESPACE}:cluster"
    if not isinstance(cluster_raw, Mapping) or "type" not in cluster_raw:
        raise ConfigError(f"{where}.type is missing: one of {_allowed(CLUSTER_TYPES)}")
    ctype = cluster_raw["type"]
    if ctype not in _CLUSTER_CLASSES:
        raise ConfigError(
            f"{where}.type={ctype!r} is not allowed: one of {_allowed(CLUSTER_TYPES)}"
        )
    kwargs: dict[str, Any] = {
        "cluster": _section(where, _CLUSTER_CLASSES[ctype], cluster_raw, skip=("type",))
    }
    for key, raw in sections.items():
        kwargs[_ATTR.get(key, key)] = _section(f"{source}: {NAMESPACE}:{key}", SECTIONS[key], raw)
    cfg = StackConfig(source=source, **kwargs)
    _cross_checks(cfg)
    return cfg


def _cross_checks(cfg: StackConfig) -> None:
    src = cfg.source
    m = cfg.mesh
    if m.plugin_ca == "files" and not m.ca_dir:
        raise ConfigError(
            f"{src}: {NAMESPACE}:mesh.caDir is missing: pluginCa=files reads ca-cert.pem, "
            "ca-key.pem, root-cert.pem and cert-chain.pem from that directory"
        )
    c = cfg.cluster
    if isinstance(c, ExistingSettings) and bool(c.kubeconfig) == bool(c.kubeconfig_path):
        raise ConfigError(
            f"{src}: {NAMESPACE}:cluster: type existing needs exactly one of kubeconfigPath "
            "or kubeconfig"
        )
    if isinstance(c, KindSettings) and c.http_port == c.https_port:
        raise ConfigError(
            f"{src}: {NAMESPACE}:cluster.httpsPort={c.https_port} is not allowed: a port other "
            "than httpPort"
        )
    lo = cfg.load_generator
    if lo.enabled and lo.namespace == cfg.apps.namespace and cfg.apps.samples:
        raise ConfigError(
            f"{src}: {NAMESPACE}:loadGenerator.namespace={lo.namespace!r} is not allowed: a "
            f"namespace of its own, not the apps namespace {cfg.apps.namespace!r}"
        )
    if lo.enabled:
        from istiolab.manifests._base import check_name

        try:
            check_name("namespace", lo.namespace)
        except ParameterError as exc:
            raise ConfigError(f"{src}: {NAMESPACE}:loadGenerator.{exc}") from None
    # Build the lab once: every object parameter is checked here, before anything runs.
    from istiolab.manifests import default_lab

    spec = lab_spec(cfg)
    try:
        default_lab(spec)
    except ParameterError as exc:
        if exc.parameter in cfg.apps.traffic_params or (
            cfg.apps.traffic != "none" and (exc.parameter in ("traffic_preset", "traffic"))
        ):
            key, preset = (
                f"apps.trafficParams.{exc.parameter}",
                f"traffic preset {cfg.apps.traffic}",
            )
        elif cfg.security.preset != "none":
            key = f"security.presetParams.{exc.parameter}"
            preset = f"security preset {cfg.security.preset}"
        else:
            key, preset = exc.parameter, "lab"
        raise ConfigError(
            f"{src}: {NAMESPACE}:{key}={exc.value!r} is not allowed ({preset}): {exc.allowed}"
        ) from None


# LabSpec field -> stack config key, for error messages.
_SPEC_KEYS = {
    "namespace": "apps.namespace",
    "samples": "apps.samples",
    "httpbin_versions": "apps.httpbinVersions",
    "gateway": "apps.gateway",
    "gateway_hosts": "apps.gatewayHosts",
    "mtls": "security.mtls",
    "traffic": "apps.traffic",
    "security": "security.preset",
    "addons": "addons.enabled",
    "addons_namespace": "addons.namespace",
    "traffic_params": "apps.trafficParams",
    "security_params": "security.presetParams",
}


# --- the two readers ----------------------------------------------------------------------
def from_pulumi() -> StackConfig:
    """The running stack's config, as the Pulumi CLI passes it (PULUMI_CONFIG + set values)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return parse(merged, source=f"Pulumi.{pulumi.get_stack()}.yaml")


def stack_file(name: str, root: Path | None = None) -> Path:
    root = root or REPO_ROOT
    path = root / f"Pulumi.{name}.yaml"
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(f"{path}: no such stack file: stacks here: {_allowed(stacks) or 'none'}")
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


def lab_spec(cfg: StackConfig) -> Any:
    """The manifests' LabSpec for what this stack deploys (what `istiolab render` writes)."""
    from istiolab.manifests import LabSpec

    a, sec, ad = cfg.apps, cfg.security, cfg.addons
    gateway = ("bookinfo" in a.samples) if a.gateway is None else a.gateway
    try:
        return LabSpec(
            namespace=a.namespace,
            injection=a.injection,
            samples=tuple(a.samples),
            httpbin_versions=tuple(a.httpbin_versions),
            gateway=gateway,
            gateway_hosts=tuple(a.gateway_hosts),
            destination_rules=a.destination_rules,
            mtls=sec.mtls,
            traffic=a.traffic,
            traffic_params=dict(a.traffic_params),
            security=sec.preset,
            security_params=dict(sec.preset_params),
            addons=tuple(ad.enabled),
            addons_namespace=ad.namespace,
            node_ports=ad.node_ports,
        )
    except ParameterError as exc:
        key = _SPEC_KEYS.get(exc.parameter, exc.parameter)
        raise ConfigError(
            f"{cfg.source}: {NAMESPACE}:{key}={exc.value!r} is not allowed: {exc.allowed}"
        ) from None


def lab_spec_for_stack(name: str) -> Any:
    """`istiolab render --stack NAME`: the LabSpec of Pulumi.<name>.yaml in the repo root."""
    return lab_spec(read_stack_file(name))
