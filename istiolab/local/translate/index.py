"""The config of one push, indexed once and shared by every proxy translated from it.

A push translates the same (objects, registry, settings) for the gateway and every
sidecar. :class:`MeshIndex` groups the objects by kind, resolves every host once
(:meth:`fqdn` is memoised), and answers the lookups translation repeats per host —
the DestinationRule for a host, the ``mesh`` VirtualServices naming a host, a Secret,
the pods behind a Service — from dictionaries instead of scans over every object.
Answers that depend on the viewing namespace (``exportTo``) are cached per namespace.

Pure and immutable from the outside: build one per config generation and reuse it for
every proxy (:func:`istiolab.local.translate.build_resources` takes it as ``index=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from istiolab.local.model import ISTIO_SYSTEM, MeshSettings, Pod, Registry, Service
from istiolab.local.translate import names
from istiolab.local.translate.common import meta
from istiolab.local.translate.gatewayapi import expand
from istiolab.local.translate.meshconfig import MeshConfig, mesh_config


@dataclass(frozen=True)
class HostRule:
    """An object keyed by one resolved host (a DestinationRule's ``host``, one of a
    VirtualService's ``hosts``), with its position among the objects of its kind."""

    host: str
    namespace: str
    order: int
    obj: Mapping


def _split(rules: list[HostRule]) -> tuple[dict[str, list[HostRule]], list[HostRule]]:
    exact: dict[str, list[HostRule]] = {}
    wildcard: list[HostRule] = []
    for rule in rules:
        if "*" in rule.host:
            wildcard.append(rule)
        else:
            exact.setdefault(rule.host, []).append(rule)
    return exact, wildcard


class MeshIndex:
    """Lookups over one configuration (see the module docstring)."""

    def __init__(self, objects: list[dict], registry: Registry, settings: MeshSettings) -> None:
        objects = expand(objects)  # Gateway API objects as Istio's (see gatewayapi.py)
        self.objects = objects
        self.registry = registry
        self.settings = settings
        self.by_kind: dict[str, list[dict]] = {}
        for obj in objects:
            self.by_kind.setdefault(str(obj.get("kind", "")), []).append(obj)
        found = {meta(o)[1] for o in objects if o.get("kind") != "Namespace"}
        found |= {meta(o)[0] for o in self.of_kind("Namespace")}
        self.namespaces: frozenset[str] = frozenset(found | {"default", ISTIO_SYSTEM})
        self.mesh: MeshConfig = mesh_config(objects)
        self._fqdn: dict[tuple[str, str], str] = {}
        self._visible: dict[tuple[str, str], list[dict]] = {}
        self._endpoints: dict[tuple[str, str], tuple[Pod, ...]] = {}
        self._dr: dict[tuple[str, str, str | None], dict | None] = {}
        self._secrets = {meta(o): o for o in self.of_kind("Secret")}
        self.memo: dict[Any, Any] = {}  # per-push results keyed by their callers

        dr_rules: dict[str, list[HostRule]] = {}
        for i, dr in enumerate(self.of_kind("DestinationRule")):
            ns = meta(dr)[1]
            host = self.fqdn(str((dr.get("spec") or {}).get("host", "")), ns)
            dr_rules.setdefault(ns, []).append(HostRule(host, ns, i, dr))
        self._dr_rules = {ns: (rules, *_split(rules)) for ns, rules in dr_rules.items()}

        vs_rules: list[HostRule] = []
        for i, vs in enumerate(self.of_kind("VirtualService")):
            if "mesh" not in names.gateway_names(vs):
                continue
            ns = meta(vs)[1]
            for h in (vs.get("spec") or {}).get("hosts") or []:
                vs_rules.append(HostRule(self.fqdn(str(h), ns), ns, i, vs))
        self._mesh_vs_exact, self._mesh_vs_wildcard = _split(vs_rules)
        self.uses_source_labels = any(
            "sourceLabels" in (m or {})
            for vs in self.of_kind("VirtualService")
            for http in (vs.get("spec") or {}).get("http") or []
            for m in http.get("match") or []
        )

    # -- objects -----------------------------------------------------------------------
    def of_kind(self, kind: str) -> list[dict]:
        return self.by_kind.get(kind, [])

    def visible(self, kind: str, viewer_namespace: str) -> list[dict]:
        """Objects of a kind that ``exportTo`` lets a namespace see, in store order."""
        key = (kind, viewer_namespace)
        if key not in self._visible:
            self._visible[key] = [
                o for o in self.of_kind(kind) if names.exported_to(o, viewer_namespace)
            ]
        return self._visible[key]

    def secret(self, name: str, namespaces: set[str] | tuple[str, ...]) -> dict | None:
        """The Secret ``name`` in the first of ``namespaces`` that holds one."""
        for ns in namespaces:
            found = self._secrets.get((name, ns))
            if found is not None:
                return found
        return None

    # -- hosts -------------------------------------------------------------------------
    def fqdn(self, host: str, namespace: str) -> str:
        key = (host, namespace)
        out = self._fqdn.get(key)
        if out is None:
            out = self._fqdn[key] = names.fqdn(host, namespace, self.namespaces)
        return out

    def endpoints(self, service: Service) -> tuple[Pod, ...]:
        key = (service.namespace, service.name)
        if key not in self._endpoints:
            self._endpoints[key] = self.registry.endpoints(service)
        return self._endpoints[key]

    def destination_rule(self, viewer: str, host: str, host_namespace: str | None) -> dict | None:
        """The DestinationRule for a host as Istio picks it: the viewer's namespace first,
        then the host's namespace, then the root namespace; in each, an exact host over
        wildcards, the longest wildcard first, then the oldest."""
        key = (viewer, host, host_namespace)
        if key not in self._dr:
            self._dr[key] = self._find_destination_rule(viewer, host, host_namespace)
        return self._dr[key]

    def _find_destination_rule(self, viewer: str, host: str, host_ns: str | None):
        for ns in (viewer, host_ns, ISTIO_SYSTEM):
            if ns not in self._dr_rules:
                continue
            every, exact, wildcard = self._dr_rules[ns]
            if "*" in host:  # a wildcard host (ServiceEntry): any rule may overlap it
                candidates = [r for r in every if names.host_matches(r.host, host)]
            else:
                candidates = exact.get(host, []) + [
                    r for r in wildcard if names.host_matches(r.host, host)
                ]
            candidates = [r for r in candidates if names.exported_to(r.obj, viewer)]
            if candidates:
                best = min(
                    candidates, key=lambda r: (0 if r.host == host else 1, -len(r.host), r.order)
                )
                return best.obj
        return None

    def mesh_virtual_services(self, host: str) -> list[tuple[bool, HostRule]]:
        """(exact, rule) for every ``mesh``-bound VirtualService host naming ``host``
        (exactly, or through a wildcard such as ``*.default.svc.cluster.local``)."""
        out = [(True, r) for r in self._mesh_vs_exact.get(host, [])]
        out += [
            (r.host == host, r)
            for r in self._mesh_vs_wildcard
            if r.host.startswith("*") and names.host_matches(r.host, host)
        ]
        return out
