"""The environment spec: what an environment holds (mesh settings, samples, addons, security
and traffic presets), one typed description read by `istiolab up`, `istiolab render` and the
Pulumi program.

Sections and keys (each field below: key, default, allowed values):

mesh      profile (default | demo), revision (''), accessLogFile (/dev/stdout),
          outboundTrafficPolicy (ALLOW_ANY | REGISTRY_ONLY), tracingSampling (percent, 1.0),
          egressGateway (default: profile == demo), gatewayService (auto | NodePort |
          LoadBalancer | ClusterIP), pluginCa (none | generate | files), caDir
apps      namespace (default), injection (true), samples (bookinfo, httpbin, sleep, fortio;
          also tcp-echo, helloworld),
          httpbinVersions ([v1, v2]), gateway (default: with bookinfo), gatewayHosts ([*]),
          destinationRules (true), traffic (a traffic preset or none), trafficParams ({})
addons    enabled (prometheus, grafana, kiali, jaeger), namespace (istio-system), nodePorts
security  mtls (PERMISSIVE | STRICT | DISABLE, mesh-wide), preset (a security preset or none),
          presetParams ({}), jwt (false), jwtIssuer (testing@secure.istio.io), jwtRequired (false)

Two syntaxes write it: a stack file's `istiolab:<section>` objects (istiolab/stack_config.py)
and `--set key=value` (istiolab/env/sets.py). Mesh settings that only Helm reads (profile,
revision, pluginCa, ...) are ignored by the local mesh; everything else means the same there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from istiolab.env.schema import SettingError, attribute, check_fields, parse_section, setting
from istiolab.errors import ParameterError
from istiolab.istio_install import PROFILES
from istiolab.manifests import (
    ADDONS,
    ISTIO_SYSTEM,
    MTLS_MODES,
    SAMPLES,
    SECURITY_PRESETS,
    TRAFFIC_PRESETS,
    check_hosts,
    check_name,
    httpbin,
)
from istiolab.manifests.jwks import DEFAULT_ISSUER
from istiolab.names import DEFAULT_SAMPLES

NONE = "none"
GATEWAY_SERVICES = ("auto", "NodePort", "LoadBalancer", "ClusterIP")
PLUGIN_CA = ("none", "generate", "files")
CA_FILES = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")


class MissingSetting(SettingError):
    """A setting another one needs is not given."""

    def _text(self) -> str:
        return f"{self.name} is missing: {self.allowed}"


def _hosts(parameter: str, value: Any) -> None:
    check_hosts(parameter, value)


@dataclass(frozen=True)
class MeshSpec:
    profile: str = setting("profile", "default", choices=PROFILES)
    revision: str = setting("revision", "")
    access_log_file: str = setting("accessLogFile", "/dev/stdout")
    outbound_traffic_policy: str = setting(
        "outboundTrafficPolicy", "ALLOW_ANY", choices=("ALLOW_ANY", "REGISTRY_ONLY")
    )
    tracing_sampling: float = setting("tracingSampling", 1.0, minimum=0, maximum=100)
    egress_gateway: bool | None = setting("egressGateway", None, doc="default: profile == demo")
    gateway_service: str = setting("gatewayService", "auto", choices=GATEWAY_SERVICES)
    plugin_ca: str = setting("pluginCa", "none", choices=PLUGIN_CA)
    ca_dir: str = setting("caDir", "")

    def __post_init__(self) -> None:
        check_fields(self, "mesh")
        if self.plugin_ca == "files" and not self.ca_dir:
            raise MissingSetting(
                "mesh.caDir",
                "",
                "pluginCa=files reads " + ", ".join(CA_FILES) + " from that directory",
            )

    @property
    def egress(self) -> bool:
        return self.profile == "demo" if self.egress_gateway is None else self.egress_gateway


@dataclass(frozen=True)
class AppsSpec:
    namespace: str = setting("namespace", "default", alias="namespace", check=check_name)
    injection: bool = setting("injection", True, alias="injection")
    samples: tuple[str, ...] = setting("samples", DEFAULT_SAMPLES, choices=SAMPLES, alias="samples")
    httpbin_versions: tuple[str, ...] = setting(
        "httpbinVersions", ("v1", "v2"), choices=("v1", "v2"), alias="httpbin_versions"
    )
    gateway: bool | None = setting("gateway", None, alias="gateway", doc="default: with bookinfo")
    gateway_hosts: tuple[str, ...] = setting(
        "gatewayHosts", ("*",), alias="gateway_hosts", check=_hosts
    )
    destination_rules: bool = setting("destinationRules", True, alias="destination_rules")
    traffic: str = setting(
        "traffic", NONE, choices=(NONE, *TRAFFIC_PRESETS), alias="traffic", doc="a preset"
    )
    traffic_params: dict = setting("trafficParams", factory=dict)  # noqa: RUF009

    def __post_init__(self) -> None:
        check_fields(self, "apps")
        if "httpbin" in self.samples:
            try:
                httpbin(self.namespace, versions=self.httpbin_versions)
            except ParameterError as exc:
                raise SettingError("apps.httpbinVersions", exc.value, exc.allowed) from None
        if self.gateway and "bookinfo" not in self.samples:
            raise SettingError("apps.gateway", True, "false unless samples include bookinfo")

    @property
    def bookinfo_gateway(self) -> bool:
        return ("bookinfo" in self.samples) if self.gateway is None else self.gateway


@dataclass(frozen=True)
class AddonsSpec:
    enabled: tuple[str, ...] = setting("enabled", ADDONS, choices=ADDONS, alias="addons")
    namespace: str = setting("namespace", ISTIO_SYSTEM, alias="addons_namespace", check=check_name)
    node_ports: bool = setting("nodePorts", False, alias="node_ports", doc="seed 002's ports")

    def __post_init__(self) -> None:
        check_fields(self, "addons")


@dataclass(frozen=True)
class SecuritySpec:
    mtls: str = setting("mtls", "PERMISSIVE", choices=MTLS_MODES, alias="mtls")
    preset: str = setting("preset", NONE, choices=(NONE, *SECURITY_PRESETS), alias="security")
    preset_params: dict = setting("presetParams", factory=dict)  # noqa: RUF009
    jwt: bool = setting("jwt", False, doc="RequestAuthentication with a key the stack makes")
    jwt_issuer: str = setting("jwtIssuer", DEFAULT_ISSUER)
    jwt_required: bool = setting("jwtRequired", False)

    def __post_init__(self) -> None:
        check_fields(self, "security")


SECTIONS: dict[str, type] = {
    "mesh": MeshSpec,
    "apps": AppsSpec,
    "addons": AddonsSpec,
    "security": SecuritySpec,
}
# preset parameters: (section, params field key, preset field) per preset kind
PRESET_PARAMS = {
    "traffic": ("apps", "trafficParams", "traffic"),
    "security": ("security", "presetParams", "preset"),
}


@dataclass(frozen=True)
class EnvSpec:
    """What an environment holds. Build it from a stack file or `--set` (both check every
    value), or directly in code (checked the same way)."""

    mesh: MeshSpec = field(default_factory=MeshSpec)
    apps: AppsSpec = field(default_factory=AppsSpec)
    addons: AddonsSpec = field(default_factory=AddonsSpec)
    security: SecuritySpec = field(default_factory=SecuritySpec)

    def __post_init__(self) -> None:
        for kind, presets in (("traffic", TRAFFIC_PRESETS), ("security", SECURITY_PRESETS)):
            section, key, preset_attr = PRESET_PARAMS[kind]
            part = getattr(self, section)
            params, preset = getattr(part, attribute(type(part), key)), getattr(part, preset_attr)
            if params and preset == NONE:  # parameters of no preset would be silently lost
                raise SettingError(
                    f"{section}.{key}",
                    params,
                    f"parameters of a {kind} preset, but the {kind} preset is none: choose "
                    "the preset they are for, one of " + ", ".join(presets),
                )
        self._check_presets()

    def _check_presets(self) -> None:
        """Build the presets once: every parameter is checked before anything runs."""
        from istiolab.manifests import security_preset, traffic_preset

        for kind, build in (("traffic", traffic_preset), ("security", security_preset)):
            section, key, preset_attr = PRESET_PARAMS[kind]
            part = getattr(self, section)
            preset, params = getattr(part, preset_attr), getattr(part, attribute(type(part), key))
            if preset == NONE:
                continue
            try:
                build(preset, namespace=self.apps.namespace, **params)
            except ParameterError as exc:
                raise SettingError(
                    f"{section}.{key}.{exc.parameter}",
                    exc.value,
                    exc.allowed,
                    context=f"{kind} preset {preset}",
                ) from None

    def replace(self, **sections: Any) -> EnvSpec:
        return dataclasses.replace(self, **sections)


def from_sections(raw: Mapping[str, Any], where: str = "") -> EnvSpec:
    """The stack-file syntax: `{section: {key: value}}` (sections optional); `where`
    prefixes every message (`Pulumi.kind.yaml: istiolab:`)."""
    parts = {
        name: parse_section(where, name, cls, raw[name])
        for name, cls in SECTIONS.items()
        if name in raw
    }
    try:
        return EnvSpec(**parts)
    except SettingError as exc:
        raise exc.named(exc.path, where) from None


def local_spec(samples: tuple[str, ...], namespace: str = "default") -> EnvSpec:
    """The spec `istiolab up --samples ...` deploys: those samples (httpbin v1, as the Istio
    docs' httpbin sample), no addons (the local mesh runs no addon images); everything else at
    its default, DestinationRules included."""
    return EnvSpec(
        apps=AppsSpec(namespace=namespace, samples=samples, httpbin_versions=("v1",)),
        addons=AddonsSpec(enabled=()),
    )
