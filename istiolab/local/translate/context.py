"""What one proxy's translation needs to know (pure, no I/O); the config-wide lookups
live in the shared :class:`~istiolab.local.translate.index.MeshIndex`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from istiolab.local.model import ISTIO_SYSTEM, MeshSettings, Proxy, Registry, Service
from istiolab.local.translate import names
from istiolab.local.translate.common import labels_match, meta
from istiolab.local.translate.index import MeshIndex
from istiolab.local.translate.meshconfig import MeshConfig


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
    """One proxy's view of a configuration. ``index`` is the configuration's shared
    :class:`MeshIndex`; pass the same one for every proxy of a push (built if omitted)."""

    objects: list[dict]
    registry: Registry
    proxy: Proxy
    settings: MeshSettings
    index: MeshIndex = None  # type: ignore[assignment]  # built in __post_init__ if None
    mesh: MeshConfig = field(init=False)

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = MeshIndex(self.objects, self.registry, self.settings)
        self.mesh = self.index.mesh
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
        sidecars = self.index.of_kind("Sidecar")
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

    @property
    def namespaces(self) -> frozenset[str]:
        return self.index.namespaces

    def visible(self, kind: str) -> list[dict]:
        return self.index.visible(kind, self.namespace)

    def fqdn(self, host: str, namespace: str) -> str:
        return self.index.fqdn(host, namespace)

    @property
    def scope_key(self) -> tuple:
        """What, besides the config, decides this proxy's outbound view: its namespace and
        the Sidecar resource scoping it. Proxies with equal keys see the same hosts."""
        scope = self.sidecar_scope
        return (self.proxy.type, self.namespace, meta(scope) if scope else None)

    @cached_property
    def hosts(self) -> dict[str, ServiceHost]:
        """Every routable host by name: services first, then ServiceEntry hosts."""
        key = ("hosts", self.scope_key)
        if key not in self.index.memo:
            self.index.memo[key] = self._hosts()
        return self.index.memo[key]

    def _hosts(self) -> dict[str, ServiceHost]:
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
        if self.sidecar_scope is None:
            return out
        return {h: v for h, v in out.items() if self.in_egress_scope(h, v.namespace)}

    def destination_rule(self, host: str) -> dict | None:
        """The DestinationRule for a host as Istio picks it: the proxy's namespace first,
        then the host's namespace, then the root namespace; exact hosts over wildcards."""
        target = self.hosts.get(host)
        return self.index.destination_rule(
            self.namespace, host, target.namespace if target else None
        )
