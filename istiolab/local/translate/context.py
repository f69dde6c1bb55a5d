"""What one translation needs to know, gathered once per proxy (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from istiolab.local.model import ISTIO_SYSTEM, MeshSettings, Proxy, Registry, Service
from istiolab.local.translate import names
from istiolab.local.translate.common import meta
from istiolab.local.translate.meshconfig import MeshConfig, mesh_config


@dataclass(frozen=True)
class ServiceHost:
    """A routable host: a Kubernetes Service or a ServiceEntry host."""

    host: str  # FQDN for services, the literal host for ServiceEntries
    namespace: str
    ports: tuple[tuple[int, str, int], ...]  # (port, Istio protocol, target port)
    service: Service | None = None
    entry: Mapping | None = None  # the ServiceEntry object

    def port(self, number: int) -> tuple[int, str, int] | None:
        return next((p for p in self.ports if p[0] == number), None)


@dataclass
class Context:
    objects: list[dict]
    registry: Registry
    proxy: Proxy
    settings: MeshSettings
    mesh: MeshConfig = field(init=False)

    def __post_init__(self) -> None:
        self.mesh = mesh_config(self.objects)
        self._dr_cache: dict[str, dict | None] = {}

    @property
    def namespace(self) -> str:
        return self.proxy.pod.namespace

    @cached_property
    def namespaces(self) -> set[str]:
        found = {meta(o)[1] for o in self.objects if o.get("kind") != "Namespace"}
        found |= {meta(o)[0] for o in self.objects if o.get("kind") == "Namespace"}
        return found | {"default", ISTIO_SYSTEM}

    def visible(self, kind: str) -> list[dict]:
        return [
            o
            for o in self.objects
            if o.get("kind") == kind and names.exported_to(o, self.namespace)
        ]

    def fqdn(self, host: str, namespace: str) -> str:
        return names.fqdn(host, namespace, self.namespaces)

    @cached_property
    def hosts(self) -> dict[str, ServiceHost]:
        """Every routable host by name: services first, then ServiceEntry hosts."""
        out: dict[str, ServiceHost] = {}
        for svc in self.registry.services:
            ports = tuple((p.port, p.istio_protocol, p.target_port) for p in svc.ports)
            out[svc.fqdn] = ServiceHost(svc.fqdn, svc.namespace, ports, service=svc)
        for se in self.visible("ServiceEntry"):
            spec = se.get("spec") or {}
            _, ns = meta(se)
            ports = tuple(
                (
                    int(p["number"]),
                    str(p.get("protocol", "TCP")).upper(),
                    int(p.get("targetPort") or p["number"]),
                )
                for p in spec.get("ports") or []
            )
            for h in spec.get("hosts") or []:
                host = self.fqdn(h, ns) if "." not in h else h.lower()
                out.setdefault(host, ServiceHost(host, ns, ports, entry=se))
        return out

    def destination_rule(self, host: str) -> dict | None:
        """The DestinationRule for a host as Istio picks it: the proxy's namespace first,
        then the host's namespace, then the root namespace; exact hosts over wildcards."""
        if host not in self._dr_cache:
            self._dr_cache[host] = self._find_destination_rule(host)
        return self._dr_cache[host]

    def _find_destination_rule(self, host: str) -> dict | None:
        target = self.hosts.get(host)
        order = [self.namespace, target.namespace if target else None, ISTIO_SYSTEM]
        rules = self.visible("DestinationRule")
        for ns in order:
            candidates = []
            for dr in rules:
                _, dr_ns = meta(dr)
                if dr_ns != ns:
                    continue
                pattern = self.fqdn(str((dr.get("spec") or {}).get("host", "")), dr_ns)
                if names.host_matches(pattern, host):
                    exact = pattern == host
                    candidates.append((0 if exact else 1, -len(pattern), dr))
            if candidates:
                candidates.sort(key=lambda c: (c[0], c[1]))
                return candidates[0][2]
        return None
