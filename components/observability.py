"""Observability: Prometheus, Grafana, Kiali and Jaeger in istio-system, from the pinned addon
manifests of istiolab.manifests (images pinned in istiolab.versions), optionally exposed as
NodePort services on seed 002's ports (kiali 30007, prometheus 30009; grafana 30010, tracing
30011). `dashboards` holds, per addon, the command (or URL) to open it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._k8s import deploy
from istiolab import manifests

# addon -> (service, service port, local port, path, NodePort service port name)
DASHBOARDS = {
    "prometheus": ("prometheus", 9090, 9090, "", "http"),
    "grafana": ("grafana", 3000, 3000, "", "service"),
    "kiali": ("kiali", 20001, 20001, "/kiali", "http"),
    "jaeger": ("tracing", 80, 16686, "/jaeger", "http-query"),
}


@dataclass
class ObservabilityArgs:
    provider: k8s.Provider
    mesh: pulumi.Resource | None = None
    addons: Sequence[str] = manifests.ADDONS
    namespace: str = "istio-system"
    node_ports: bool = False
    manage_namespace: bool = False  # True when `namespace` is not istio-system
    objects: list[dict] | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def observability_objects(a: ObservabilityArgs) -> list[dict]:
    if a.objects is not None:
        return list(a.objects)
    objs = [manifests.namespace(a.namespace, injection=False)] if a.manage_namespace else []
    return objs + manifests.addons(a.namespace, names=a.addons, node_port=a.node_ports)


def node_port(addon: str) -> int:
    service, _, _, _, port_name = DASHBOARDS[addon]
    return manifests.NODE_PORTS[(service, port_name)]


def dashboard_commands(namespace: str, addons: Sequence[str]) -> dict[str, str]:
    out = {}
    for addon in addons:
        service, port, local, path, _ = DASHBOARDS[addon]
        out[addon] = (
            f"kubectl -n {namespace} port-forward svc/{service} {local}:{port}  "
            f"# then open http://localhost:{local}{path}"
        )
    return out


class Observability(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:Observability", name, None, opts)
        self.objects = observability_objects(args)
        after = [*([args.mesh] if args.mesh else []), *args.depends_on]
        self.namespaces, self.groups = deploy(
            name, self.objects, parent=self, provider=args.provider, depends_on=after
        )
        addons = [a for a in manifests.ADDONS if a in args.addons]
        self.addons = addons
        self.dashboards = dashboard_commands(args.namespace, addons)
        self.register_outputs({"dashboards": self.dashboards})
