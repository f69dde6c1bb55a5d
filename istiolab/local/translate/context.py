"""What one translation needs to know, gathered once per proxy (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from istiolab.local.model import ISTIO_SYSTEM, MeshSettings, Proxy, Registry, Service
from istiolab.local.translate import names
from istiolab.local.translate.common import labels_match, meta
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
        mode = ((self.sidecar_scope or {}).get("spec") or {}).get("outboundTrafficPolicy", {})
        if mode.get("mode"):
            self.mesh = replace(self.mesh, outbound_mode=mode["mode"])

    @cached_property
    def sidecar_scope(self) -> dict | None:
        """The Sidecar resource that applies to this sidecar, as Istio picks it: one in the
        pod's namespace whose workloadSelector matches, else the namespace's selector-less
        one, else the root namespace's (istio-system) selector-less one."""
        if self.proxy.type != "sidecar":
            return None
        sidecars = [o for o in self.objects if o.get("kind") == "Sidecar"]
        labels = self.proxy.pod.labels
        for obj in sidecars:
            selector = ((obj.get("spec") or {}).get("workloadSelector") or {}).get("labels")
            if meta(obj)[1] == self.namespace and selector and labels_match(selector, labels):
                return obj
        for ns in (self.namespace, ISTIO_SYSTEM):
            for obj in sidecars:
                spec = obj.get("spec") or {}
                if meta(obj)[1] == ns and not (spec.get("workloadSelector") or {}).get("labels"):
                    return obj
        return None

    def in_egress_scope(self, host: str, namespace: str) -> bool:
        """Whether a Sidecar's ``egress[].hosts`` (``ns/dnsName``) lets this proxy see a host."""
        spec = (self.sidecar_scope or {}).get("spec") or {}
        if not spec.get("egress"):
            return True
        for egress in spec["egress"]:
            for entry in egress.get("hosts") or []:
                ns, _, dns = entry.rpartition("/")
                if ns == "~":
                    continue
                if ns == ".":
                    ns = meta(self.sidecar_scope)[1]  # type: ignore[arg-type]
                if ns not in ("*", namespace):
                    continue
                if names.host_matches(dns.lower(), host):
                    return True
        return False

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
        return {h: v for h, v in out.items() if self.in_egress_scope(h, v.namespace)}

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
