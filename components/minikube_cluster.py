"""MinikubeCluster: a minikube profile (driver, CPUs, memory, disk, Kubernetes version).

`pulumi up` runs `minikube start`, then prints the profile's kubeconfig (kubectl config view
--minify --flatten); `pulumi destroy` runs `minikube delete`. The ingress gateway is a NodePort
service: on Linux reachable on http://<minikube ip>:30080. With the docker or podman driver on
macOS and Windows the node's network is inside Docker's VM and `minikube ip` does not answer
from the host; there the NodePorts are published on 127.0.0.1 (`minikube start --ports`, like
kind's port mappings) and the URLs are http://127.0.0.1:<httpPort>.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

from components._k8s import INGRESS_HTTP_NODE_PORT, INGRESS_HTTPS_NODE_PORT, SECRET_STDOUT_LOGGING
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
    http_port: int = 8080  # host ports on 127.0.0.1 where the node is not reachable
    https_port: int = 8443
    extra_ports: dict[int, int] = field(default_factory=dict)  # NodePort -> host port
    host_os: str = field(default_factory=platform.system)  # Linux | Darwin | Windows


CONTAINER_DRIVERS = ("docker", "podman")


def publishes_ports(a: MinikubeClusterArgs) -> bool:
    """True where NodePorts must be published on 127.0.0.1 (a container driver in a VM)."""
    return a.driver in CONTAINER_DRIVERS and a.host_os != "Linux"


def published_ports(a: MinikubeClusterArgs) -> dict[int, int]:
    """NodePort -> host port on 127.0.0.1, where publishes_ports()."""
    if not publishes_ports(a):
        return {}
    ports = {INGRESS_HTTP_NODE_PORT: a.http_port, INGRESS_HTTPS_NODE_PORT: a.https_port}
    ports.update(a.extra_ports)
    return ports


def start_command(a: MinikubeClusterArgs) -> str:
    publish = "".join(
        f"--ports=127.0.0.1:{host}:{node} " for node, host in published_ports(a).items()
    )
    return (
        f"minikube start --profile '{a.profile}' --driver '{a.driver}' --cpus {a.cpus} "
        f"--memory {a.memory_mb}mb --disk-size {a.disk_gb}g --nodes {a.nodes} {publish}"
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
            logging=SECRET_STDOUT_LOGGING,
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, additional_secret_outputs=["stdout"]
            ),
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
        self.published = published_ports(args)
        self.ingress_url = self.dashboard_url(INGRESS_HTTP_NODE_PORT)
        self.register_outputs({"kubeconfig": self.kubeconfig, "ingressUrl": self.ingress_url})

    def dashboard_url(self, node_port: int) -> pulumi.Output[str]:
        if publishes_ports(self.args):
            host_port = self.published.get(node_port)
            return pulumi.Output.from_input(f"http://127.0.0.1:{host_port}" if host_port else None)
        return self.node_ip.apply(lambda h: f"http://{h}:{node_port}")
