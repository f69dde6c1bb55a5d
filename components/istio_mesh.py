"""IstioMesh: Istio from its Helm charts, `base` -> `istiod` -> gateways.

Chart versions and repository come from istiolab.versions (ISTIO_VERSION, ISTIO_HELM_REPO).
The namespace istio-system comes first; the optional plug-in CA Secret `cacerts` is created
after it and `base`, and before istiod, so istiod starts with it. The ingress gateway's
Service is NodePort (30080/30443) on kind and minikube, LoadBalancer elsewhere; the demo
profile adds an egress gateway. Custom resources of other components depend on this
component (its CRDs and injection webhook).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import plugin_ca
from components._k8s import (
    INGRESS_HTTP_NODE_PORT,
    INGRESS_HTTPS_NODE_PORT,
    ISTIO_SYSTEM,
    namespace_resources,
)
from istiolab import manifests, versions


@dataclass
class IstioMeshArgs:
    provider: k8s.Provider
    profile: str = "default"  # default | demo (the Helm charts' profiles)
    revision: str = ""
    access_log_file: str = "/dev/stdout"
    outbound_traffic_policy: str = "ALLOW_ANY"
    tracing_sampling: float = 1.0
    zipkin_address: str = ""  # e.g. zipkin.istio-system:9411 when Jaeger is installed
    egress_gateway: bool = False
    gateway_service_type: str = "NodePort"
    plugin_ca: str = "none"  # none | generate | files
    ca_dir: str = ""
    cluster_name: str = "istiolab"
    version: str = versions.ISTIO_VERSION
    repository: str = versions.ISTIO_HELM_REPO


def istiod_values(a: IstioMeshArgs) -> dict:
    tracing: dict = {"sampling": float(a.tracing_sampling)}
    if a.zipkin_address:
        tracing["zipkin"] = {"address": a.zipkin_address}
    values: dict = {
        "meshConfig": {
            "accessLogFile": a.access_log_file,
            "outboundTrafficPolicy": {"mode": a.outbound_traffic_policy},
            "enableTracing": a.tracing_sampling > 0,
            "defaultConfig": {"tracing": tracing},
        },
    }
    if a.profile == "demo":  # the charts' own demo profile (smaller requests, more ports)
        values["profile"] = "demo"
    if a.revision:
        values["revision"] = a.revision
        values["defaultRevision"] = a.revision  # so `istio-injection=enabled` keeps working
    return values


def ingress_values(a: IstioMeshArgs) -> dict:
    http: dict = {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80}
    https: dict = {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}
    if a.gateway_service_type in ("NodePort", "LoadBalancer"):
        http["nodePort"], https["nodePort"] = INGRESS_HTTP_NODE_PORT, INGRESS_HTTPS_NODE_PORT
    status = {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021}
    values: dict = {"service": {"type": a.gateway_service_type, "ports": [status, http, https]}}
    return _common(a, values)


def _common(a: IstioMeshArgs, values: dict) -> dict:
    if a.profile == "demo":
        values["profile"] = "demo"
    if a.revision:
        values["revision"] = a.revision
    return values


def egress_values(a: IstioMeshArgs) -> dict:
    values: dict = {
        "service": {
            "type": "ClusterIP",
            "ports": [
                {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
            ],
        }
    }
    return _common(a, values)


class IstioMesh(pulumi.ComponentResource):
    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istiolab:index:IstioMesh", name, None, opts)
        self.args = args
        repo = k8s.helm.v3.RepositoryOptsArgs(repo=args.repository)

        # istio-system as its own resource (as `render` writes it), so the plug-in CA Secret can
        # be created before istiod; the charts then install into it.
        self.namespace = namespace_resources(
            name,
            [manifests.namespace(ISTIO_SYSTEM, injection=False)],
            parent=self,
            provider=args.provider,
        )[0]

        def release(suffix, chart, release_name, values, depends_on=(), skip_await=False):
            return k8s.helm.v3.Release(
                f"{name}-{suffix}",
                name=release_name,
                chart=chart,
                version=args.version,
                repository_opts=repo,
                namespace=ISTIO_SYSTEM,
                values=values,
                skip_await=skip_await or None,
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, depends_on=list(depends_on)
                ),
            )

        base_values = {"defaultRevision": args.revision} if args.revision else {}
        self.base = release("base", "base", "istio-base", base_values, [self.namespace])
        self.cacerts: k8s.core.v1.Secret | None = None
        before_istiod: list[pulumi.Resource] = [self.base]
        if args.plugin_ca != "none":
            if args.plugin_ca == "files":
                files = pulumi.Output.secret(plugin_ca.read_ca_dir(args.ca_dir))
            else:
                files = plugin_ca.generate(f"{name}-ca", args.cluster_name, self)
            self.cacerts = k8s.core.v1.Secret(
                f"{name}-cacerts",
                metadata={"name": "cacerts", "namespace": ISTIO_SYSTEM},
                string_data=files,
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, depends_on=[self.base]
                ),
            )
            before_istiod.append(self.cacerts)
        istiod_name = f"istiod-{args.revision}" if args.revision else "istiod"
        self.istiod = release("istiod", "istiod", istiod_name, istiod_values(args), before_istiod)
        # Helm's wait would wait forever for a LoadBalancer address where no load balancer
        # controller runs (bare metal without MetalLB); the NodePorts answer regardless.
        self.ingress_gateway = release(
            "ingress",
            "gateway",
            "istio-ingressgateway",
            ingress_values(args),
            [self.istiod],
            skip_await=args.gateway_service_type == "LoadBalancer",
        )
        self.gateways = [self.ingress_gateway]
        if args.egress_gateway:
            self.gateways.append(
                release(
                    "egress", "gateway", "istio-egressgateway", egress_values(args), [self.istiod]
                )
            )
        self.releases = [self.base, self.istiod, *self.gateways]
        self.register_outputs(
            {
                "version": args.version,
                "revision": args.revision,
                "releases": [r.name for r in self.releases],
            }
        )
