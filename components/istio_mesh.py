"""IstioMesh: Istio from its Helm charts, `base` -> `istiod` -> gateways.

Chart versions and repository come from istiolab.versions (ISTIO_VERSION, ISTIO_HELM_REPO).
The namespace istio-system comes first; the optional plug-in CA Secret `cacerts` is created
after it and `base`, and before istiod, so istiod starts with it. The ingress gateway's
Service is NodePort (30080/30443) on kind, minikube and k0s, LoadBalancer on an existing
cluster; the demo profile adds an egress gateway. The charts' values come from
istiolab.istio_install (tested against the real charts in tests/pulumi/test_chart_renders.py).
Custom resources of other components depend on this component (its CRDs and injection webhook).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import plugin_ca
from components._k8s import ISTIO_SYSTEM, namespace_resources
from istiolab import manifests, versions
from istiolab.istio_install import HELM_TIMEOUT_SECONDS, IstioInstall, releases


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
    timeout_seconds: int = HELM_TIMEOUT_SECONDS

    def install(self) -> IstioInstall:
        """The Helm-value settings (the IstioInstall fields of these args)."""
        names = {f.name for f in dataclasses.fields(IstioInstall)}
        return IstioInstall(**{n: getattr(self, n) for n in names})


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

        def release(suffix, r, depends_on=(), skip_await=False):
            return k8s.helm.v3.Release(
                f"{name}-{suffix}",
                name=r.name,
                chart=r.chart,
                version=args.version,
                repository_opts=repo,
                namespace=ISTIO_SYSTEM,
                values=r.values,
                timeout=args.timeout_seconds,
                skip_await=skip_await or None,
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, depends_on=list(depends_on)
                ),
            )

        base, istiod, ingress, *egress = releases(args.install())
        self.base = release("base", base, [self.namespace])
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
        self.istiod = release("istiod", istiod, before_istiod)
        # Helm's wait would wait forever for a LoadBalancer address where no load balancer
        # controller runs (bare metal without MetalLB).
        self.ingress_gateway = release(
            "ingress",
            ingress,
            [self.istiod],
            skip_await=args.gateway_service_type == "LoadBalancer",
        )
        self.gateways = [self.ingress_gateway]
        self.gateways += [release("egress", r, [self.istiod]) for r in egress]
        self.releases = [self.base, self.istiod, *self.gateways]
        self.register_outputs(
            {
                "version": args.version,
                "revision": args.revision,
                "releases": [r.name for r in self.releases],
            }
        )
