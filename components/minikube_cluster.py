"""MinikubeCluster: a minikube profile (driver, CPUs, memory, disk, Kubernetes version).

`pulumi up` runs `minikube start`, then prints the profile's kubeconfig (kubectl config view
--minify --flatten); `pulumi destroy` runs `minikube delete`. The ingress gateway is a NodePort
service reachable on http://<minikube ip>:30080.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

from components._k8s import INGRESS_HTTP_NODE_PORT
from istiolab import versions


@dataclass
class MinikubeClusterArgs:
    profile: str = "istiolab"
    driver: str = "docker"
    cpus: int = 4
    memory_mb: int = 8192
    disk_gb: int = 20
    nodes: int = 1
    kubernetes_version: str = versions.MINIKUBE_KUBERNETES_VERSION


def start_command(a: MinikubeClusterArgs) -> str:
    return (
        f"minikube start --profile '{a.profile}' --driver '{a.driver}' --cpus {a.cpus} "
        f"--memory {a.memory_mb}mb --disk-size {a.disk_gb}g --nodes {a.nodes} "
        f"--kubernetes-version '{a.kubernetes_version}' --wait all 1>&2 && "
        f"kubectl config view --raw --minify --flatten --context '{a.profile}'"
    )


class MinikubeCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    ingress_url: pulumi.Output[str]
    gateway_service_type = "NodePort"

    def __init__(
        self, name: str, args: MinikubeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:MinikubeCluster", name, None, opts)
        self.args = args
        start = start_command(args)
        cluster = command.local.Command(
            f"{name}-cluster",
            create=start,
            delete=f"minikube delete --profile '{args.profile}'",
            triggers=[start],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.command = cluster
        ip = command.local.Command(
            f"{name}-ip",
            create=f"minikube ip --profile '{args.profile}'",
            triggers=[start],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        self.node_ip = ip.stdout.apply(lambda s: s.strip())
        self.kubeconfig = pulumi.Output.secret(cluster.stdout)
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        self.ingress_url = self.node_ip.apply(lambda h: f"http://{h}:{INGRESS_HTTP_NODE_PORT}")
        self.register_outputs({"kubeconfig": self.kubeconfig, "ingressUrl": self.ingress_url})

    def dashboard_url(self, node_port: int) -> pulumi.Output[str]:
        return self.node_ip.apply(lambda h: f"http://{h}:{node_port}")
