"""What Istio's analyzers would say about the config the local mesh runs.

Codes are Istio's where Istio has the check (IST0101 ReferencedResourceNotFound, IST0102
NamespaceNotInjected, IST0109 ConflictingMeshGatewayVirtualServiceHosts); checks Istio
does not have use ``ISTL`` codes (ISTL0001: a retry's perTryTimeout exceeds the route
timeout, so only the first try can run; ISTL0002: a deprecated field Istio's schema no longer
has, such as fault.abort.percent; ISTL0101: an object the local mesh stores but does not act
on; ISTL0102: a Gateway API route condition that is not True, with its status reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from istiolab.durations import seconds
from istiolab.local.model import MeshSettings, Pod, Proxy, Registry
from istiolab.local.translate.common import meta
from istiolab.local.translate.context import Context
from istiolab.local.translate.index import MeshIndex
from istiolab.local.translate.names import gateway_names
from istiolab.local.translate.policy import subset_labels


@dataclass(frozen=True)
class Analysis:
    level: str  # Error | Warning | Info
    code: str
    kind: str
    name: str
    namespace: str
    message: str

    def __str__(self) -> str:
        where = f"({self.kind} {self.namespace}/{self.name})"
        return f"{self.level} [{self.code}] {where} {self.message}"


def _viewer(namespace: str) -> Proxy:
    pod = Pod("analyzer", namespace, "127.0.0.0", {}, "default", "analyzer", "", (), False)
    return Proxy("router", pod)  # a router: no Sidecar scoping hides hosts from analysis


def _destinations(http: Mapping) -> Iterable[Mapping]:
    for d in http.get("route") or []:
        yield d.get("destination") or {}
    if http.get("mirror"):
        yield http["mirror"]
    for m in http.get("mirrors") or []:
        yield m.get("destination") or {}


def analyze(
    objects: list[dict], registry: Registry, settings: MeshSettings | None = None
) -> list[Analysis]:
    out: list[Analysis] = []
    settings = settings or MeshSettings()
    gateways = {f"{meta(g)[1]}/{meta(g)[0]}" for g in objects if g.get("kind") == "Gateway"}
    mesh_hosts: dict[str, list[str]] = {}
    index = MeshIndex(objects, registry, settings)
    for vs in objects:
        if vs.get("kind") != "VirtualService":
            continue
        name, ns = meta(vs)
        ctx = Context(objects, registry, _viewer(ns), settings, index=index)
        spec = vs.get("spec") or {}

        def add(level: str, code: str, message: str, name=name, ns=ns) -> None:
            out.append(Analysis(level, code, "VirtualService", name, ns, message))

        for gw in gateway_names(vs):
            if gw != "mesh" and gw not in gateways:
                add("Error", "IST0101", f'Referenced gateway not found: "{gw.split("/")[1]}"')
        if "mesh" in gateway_names(vs):
            for h in spec.get("hosts") or []:
                mesh_hosts.setdefault(ctx.fqdn(h, ns), []).append(f"{name}.{ns}")
        for http in spec.get("http") or []:
            for dest in _destinations(http):
                host = ctx.fqdn(str(dest.get("host", "")), ns)
                if host not in ctx.hosts:
                    add("Error", "IST0101", f'Referenced host not found: "{dest.get("host")}"')
                    continue
                subset = dest.get("subset")
                if subset and subset_labels(ctx.destination_rule(host), subset) is None:
                    add(
                        "Error",
                        "IST0101",
                        "Referenced host+subset in destinationrule not found: "
                        f'"{dest.get("host")}+{subset}"',
                    )
            abort = (http.get("fault") or {}).get("abort") or {}
            if "percent" in abort:
                add(
                    "Warning",
                    "ISTL0002",
                    f"fault.abort.percent {abort['percent']} is deprecated and gone from "
                    "Istio's current API (kubectl drops it, which aborts every request): use "
                    f"percentage: {{value: {abort['percent']}}}",
                )
            retries, timeout = http.get("retries") or {}, http.get("timeout")
            if retries.get("perTryTimeout") and timeout:
                per_try, total = seconds(retries["perTryTimeout"]), seconds(timeout)
                if total > 0 and per_try > total:
                    add(
                        "Warning",
                        "ISTL0001",
                        f"retries.perTryTimeout {retries['perTryTimeout']} is longer than the "
                        f"route timeout {timeout}: the timeout ends the request during the "
                        "first try, so no retry can happen",
                    )
    for host, owners in sorted(mesh_hosts.items()):
        if len(owners) > 1:
            first = owners[0].split(".")
            out.append(
                Analysis(
                    "Error",
                    "IST0109",
                    "VirtualService",
                    first[0],
                    first[1],
                    f"The VirtualServices {','.join(owners)} associated with mesh define the "
                    f'same host or subset of the same host "{host}"',
                )
            )
    injected = {
        meta(n)[0]
        for n in objects
        if n.get("kind") == "Namespace"
        and ((n.get("metadata") or {}).get("labels") or {}).get("istio-injection") == "enabled"
    }
    for ns in sorted({p.namespace for p in registry.pods} - injected - {"istio-system"}):
        out.append(
            Analysis(
                "Info",
                "IST0102",
                "Namespace",
                ns,
                ns,
                f"The namespace is not enabled for Istio injection. Run 'kubectl label "
                f"namespace {ns} istio-injection=enabled' to enable it",
            )
        )
    # what the local mesh stores but ignores; Gateway API routes not in effect
    from istiolab.local.translate.enforcement import ignored_findings
    from istiolab.local.translate.gatewayapi_status import route_findings

    for row in [*ignored_findings(objects), *route_findings(objects, registry)]:
        out.append(Analysis(*row))
    return out


def findings(
    objects: list[dict], registry: Registry, settings: MeshSettings | None = None
) -> list[str]:
    """The analysis as printable lines (istioctl analyze's format)."""
    return [str(a) for a in analyze(objects, registry, settings)]
