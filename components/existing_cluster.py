"""ExistingCluster: a cluster someone else made, from a kubeconfig file or its content.

Creates nothing but the Kubernetes provider; `pulumi destroy` leaves the cluster alone. The
file is read at construction (a local read, no network); the content is kept secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from istiolab.errors import ConfigError


@dataclass
class ExistingClusterArgs:
    kubeconfig_path: str = ""
    kubeconfig: str = ""
    context: str = ""


def read_kubeconfig(args: ExistingClusterArgs) -> str:
    if args.kubeconfig:
        return args.kubeconfig
    path = Path(args.kubeconfig_path).expanduser()
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"istiolab:cluster.kubeconfigPath={args.kubeconfig_path!r}: cannot read it "
            f"({exc.strerror})"
        ) from None


class ExistingCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    ingress_url: None = None  # known only once the cloud assigns the LoadBalancer an address
    ingress_url_command = (
        "kubectl -n istio-system get svc istio-ingressgateway "
        "-o jsonpath='{.status.loadBalancer.ingress[0].ip}"
        "{.status.loadBalancer.ingress[0].hostname}'"
    )
    gateway_service_type = "LoadBalancer"

    def __init__(
        self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:ExistingCluster", name, None, opts)
        self.args = args
        self.kubeconfig = pulumi.Output.secret(read_kubeconfig(args))
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            context=args.context or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})

    def dashboard_url(self, node_port: int) -> None:
        return None
