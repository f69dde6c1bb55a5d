"""The default lab: which objects a lab consists of (LabSpec) and their apply order.

`lab_files(spec)` groups the objects into numbered files: namespaces first, then the
workloads and addons, then the Istio custom resources (which need Istio's CRDs).
`--set key=value` strings are turned into a LabSpec by `apply_sets`, with errors that name
the key and the allowed keys or values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import yaml

from istiolab.errors import ParameterError
from istiolab.manifests._base import ISTIO_SYSTEM, check_choice, check_name
from istiolab.manifests.addons import ADDONS, addons
from istiolab.manifests.networking import bookinfo_gateway, check_hosts, destination_rules
from istiolab.manifests.samples import SAMPLE_BUILDERS, SAMPLES, httpbin, namespace
from istiolab.manifests.security import MTLS_MODES, SECURITY_PRESETS, security_preset
from istiolab.manifests.traffic import TRAFFIC_PRESETS, traffic_preset

NONE = "none"


@dataclass(frozen=True)
class LabSpec:
    """What the default lab contains. Every field is a `--set` key."""

    namespace: str = "default"
    injection: bool = True  # label the namespace istio-injection=enabled
    samples: tuple[str, ...] = SAMPLES
    httpbin_versions: tuple[str, ...] = ("v1", "v2")
    gateway: bool = True  # the bookinfo Gateway + VirtualService
    gateway_hosts: tuple[str, ...] = ("*",)
    destination_rules: bool = True
    mtls: str = "PERMISSIVE"  # mesh-wide PeerAuthentication; STRICT also sets ISTIO_MUTUAL
    traffic: str = NONE  # a traffic preset, or none
    traffic_params: dict[str, Any] = field(default_factory=dict)
    security: str = NONE  # a security preset, or none
    security_params: dict[str, Any] = field(default_factory=dict)
    addons: tuple[str, ...] = ADDONS
    addons_namespace: str = ISTIO_SYSTEM
    node_ports: bool = False  # expose the addon UIs as NodePort services (seed 002)

    def __post_init__(self) -> None:
        check_name("namespace", self.namespace)
        check_name("addons_namespace", self.addons_namespace)
        _subset("samples", self.samples, SAMPLES)
        _subset("addons", self.addons, ADDONS)
        if "httpbin" in self.samples:
            httpbin(self.namespace, versions=self.httpbin_versions)  # checks the versions
        check_hosts("gateway_hosts", self.gateway_hosts)
        check_choice("mtls", self.mtls, MTLS_MODES)
        check_choice("traffic", self.traffic, (NONE, *TRAFFIC_PRESETS))
        check_choice("security", self.security, (NONE, *SECURITY_PRESETS))
        if self.gateway and "bookinfo" not in self.samples:
            raise ParameterError("gateway", self.gateway, "false unless samples include bookinfo")
        for key, preset, presets in (
            ("traffic_params", self.traffic, TRAFFIC_PRESETS),
            ("security_params", self.security, SECURITY_PRESETS),
        ):
            params = getattr(self, key)
            if not isinstance(params, dict):
                raise ParameterError(key, params, "a mapping of preset parameters")
            if params and preset == NONE:  # parameters of no preset would be silently lost
                field_name = key.removesuffix("_params")
                raise ParameterError(
                    key,
                    params,
                    f"parameters of a {field_name} preset, but the {field_name} preset is "
                    f"none: choose the preset they are for, one of " + ", ".join(presets),
                )

    def replace(self, **changes: Any) -> LabSpec:
        return dataclasses.replace(self, **changes)


def _subset(parameter: str, values: Iterable[str], allowed: tuple[str, ...]) -> None:
    values = tuple(values)
    if len(set(values)) != len(values) or set(values) - set(allowed):
        raise ParameterError(parameter, values, "a subset of " + ", ".join(allowed))


def lab_files(spec: LabSpec | None = None) -> list[tuple[str, list[dict]]]:
    """(file name, objects) in apply order; files without objects are left out."""
    spec = spec or LabSpec()
    ns = spec.namespace
    files: list[tuple[str, list[dict]]] = []

    namespaces = [namespace(ns, injection=spec.injection)]
    needs_system = spec.addons or spec.mtls != "PERMISSIVE" or _mesh_scoped(spec)
    if needs_system and ns != ISTIO_SYSTEM:
        namespaces.append(namespace(ISTIO_SYSTEM, injection=False))
    if spec.addons and spec.addons_namespace not in (ns, ISTIO_SYSTEM):
        namespaces.append(namespace(spec.addons_namespace, injection=False))
    files.append(("00-namespaces.yaml", namespaces))

    for number, sample in enumerate(SAMPLES, start=10):
        if sample in spec.samples:
            if sample == "httpbin":
                objs = httpbin(ns, versions=spec.httpbin_versions)
            else:
                objs = SAMPLE_BUILDERS[sample](ns)
            files.append((f"{number}-{sample}.yaml", objs))
    if spec.addons:
        files.append(
            (
                "20-addons.yaml",
                addons(spec.addons_namespace, names=spec.addons, node_port=spec.node_ports),
            )
        )

    if spec.gateway:
        files.append(("50-istio-gateway.yaml", bookinfo_gateway(ns, hosts=spec.gateway_hosts)))
    if spec.destination_rules:
        services = [
            s
            for s in ("productpage", "reviews", "ratings", "details")
            if "bookinfo" in spec.samples
        ]
        if "httpbin" in spec.samples:
            services.append("httpbin")
        if services:
            rules = destination_rules(ns, mtls=spec.mtls == "STRICT", services=services)
            files.append(("51-istio-destination-rules.yaml", rules))
    if spec.mtls != "PERMISSIVE":
        files.append(
            (
                "52-istio-mtls.yaml",
                security_preset("peer-authentication", namespace=ns, scope="mesh", mode=spec.mtls),
            )
        )
    if spec.traffic != NONE:
        objs = traffic_preset(spec.traffic, namespace=ns, **spec.traffic_params)
        files.append(("53-istio-traffic.yaml", objs))
        _drop_replaced(files, objs)
    if spec.security != NONE:
        objs = security_preset(spec.security, namespace=ns, **spec.security_params)
        files.append(("54-istio-security.yaml", objs))
        _drop_replaced(files, objs)
    return [(name, objs) for name, objs in files if objs]


def _mesh_scoped(spec: LabSpec) -> bool:
    return spec.security == "peer-authentication" and spec.security_params.get("scope") == "mesh"


def _drop_replaced(files: list[tuple[str, list[dict]]], objs: list[dict]) -> None:
    """A preset that brings its own DestinationRule (mirror, circuit-breaker) replaces the
    default one of the same name, so the rendered lab never holds two versions."""
    own = {_key(o) for o in objs}
    for i, (name, existing) in enumerate(files[:-1]):
        files[i] = (name, [o for o in existing if _key(o) not in own])


def _key(o: dict) -> tuple[str, str, str | None, str]:
    meta = o.get("metadata", {})
    return (o["apiVersion"].split("/")[0], o["kind"], meta.get("namespace"), meta.get("name"))


def default_lab(spec: LabSpec | None = None) -> list[dict]:
    """Every object of the lab, in the order `kubectl apply` needs them."""
    return [o for _, objs in lab_files(spec) for o in objs]


# --- --set key=value -------------------------------------------------------------------

_PARAM_PREFIXES = {"traffic.": "traffic_params", "security.": "security_params"}
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def set_keys() -> list[str]:
    keys = [f.name for f in dataclasses.fields(LabSpec) if not f.name.endswith("_params")]
    return keys + [f"{p}<parameter>" for p in _PARAM_PREFIXES]


def apply_sets(spec: LabSpec, assignments: Iterable[str]) -> LabSpec:
    """A copy of `spec` with each `key=value` applied (then validated as a whole)."""
    hints = get_type_hints(LabSpec)
    changes: dict[str, Any] = {}
    params = {v: dict(getattr(spec, v)) for v in _PARAM_PREFIXES.values()}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(
                "--set", assignment, "key=value, with key one of " + ", ".join(set_keys())
            )
        prefix = next((p for p in _PARAM_PREFIXES if key.startswith(p)), None)
        if prefix:
            params[_PARAM_PREFIXES[prefix]][key[len(prefix) :]] = _yaml_value(raw)
            continue
        if key not in hints or key.endswith("_params"):
            raise ParameterError(
                key, raw, "unknown --set key; allowed keys: " + ", ".join(set_keys())
            )
        changes[key] = _convert(key, raw, hints[key])
    changes.update(params)
    return dataclasses.replace(spec, **changes)


def _convert(key: str, raw: str, annotation: Any) -> Any:
    if annotation is bool:
        low = raw.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ParameterError(key, raw, "true or false")
    if annotation == tuple[str, ...]:
        return tuple(v.strip() for v in raw.split(",") if v.strip())
    return raw.strip()


def _yaml_value(raw: str) -> Any:
    """Preset parameter values: YAML scalars; a comma makes a list ('90,10' -> [90, 10])."""
    text = f"[{raw}]" if "," in raw and not raw.lstrip().startswith(("[", "{")) else raw
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return raw
