"""KindCluster: a local Kubernetes cluster in Docker containers, made by the kind CLI.

`pulumi up` runs `kind create cluster` with a generated config (control-plane and worker
counts, the pinned node image, and extraPortMappings so the ingress gateway's NodePort answers
on http://127.0.0.1:<httpPort>, like the local mesh); `pulumi destroy` runs
`kind delete cluster`. Nothing runs at construction time: the CLI runs in the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import yaml

from components._k8s import (
    INGRESS_HTTP_NODE_PORT,
    INGRESS_HTTPS_NODE_PORT,
    SECRET_STDOUT_LOGGING,
)
from istiolab import versions

KIND_CONFIG_API = "kind.x-k8s.io/v1alpha4"


@dataclass
class KindClusterArgs:
    cluster_name: str = "istiolab"
    control_planes: int = 1
    workers: int = 1
    node_image: str = versions.KIND_NODE_IMAGE
    http_port: int = 8080
    https_port: int = 8443
    # further NodePort -> host port mappings on 127.0.0.1 (e.g. addon dashboards)
    extra_ports: dict[int, int] = field(default_factory=dict)


def kind_config(args: KindClusterArgs) -> dict:
    """The kind cluster config: nodes, image, and the host port mappings on the first node."""
    ports = {INGRESS_HTTP_NODE_PORT: args.http_port, INGRESS_HTTPS_NODE_PORT: args.https_port}
    ports.update(args.extra_ports)
    mappings = [
        {"containerPort": node_port, "hostPort": host_port, "listenAddress": "127.0.0.1",
         "protocol": "TCP"}
        for node_port, host_port in ports.items()
    ]  # fmt: skip
    nodes: list[dict] = []
    for i in range(args.control_planes):
        node: dict = {"role": "control-plane", "image": args.node_image}
        if i == 0:
            node["extraPortMappings"] = mappings
        nodes.append(node)
    nodes += [{"role": "worker", "image": args.node_image} for _ in range(args.workers)]
    return {"kind": "Cluster", "apiVersion": KIND_CONFIG_API, "name": args.cluster_name,
            "nodes": nodes}  # fmt: skip


def create_script(name: str) -> str:
    """Create unless it exists (a re-run after a failed `up` adopts it) from the config on
    stdin, then print the kubeconfig on stdout (kind's progress goes to stderr)."""
    return (
        "set -e; "
        f"if ! kind get clusters 2>/dev/null | grep -qx '{name}'; then "
        'cfg="$(mktemp)"; cat > "$cfg"; '
        f"kind create cluster --name '{name}' --config \"$cfg\" --wait 180s 1>&2; "
        'rm -f "$cfg"; fi; '
        f"kind get kubeconfig --name '{name}'"
    )


def delete_script(name: str) -> str:
    return f"kind delete cluster --name '{name}'"


class KindCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    ingress_url: str
    gateway_service_type = "NodePort"

    def __init__(
        self, name: str, args: KindClusterArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:KindCluster", name, None, opts)
        self.args = args
        config_yaml = yaml.safe_dump(kind_config(args), sort_keys=False)
        self.config_yaml = config_yaml
        cluster = command.local.Command(
            f"{name}-cluster",
            create=create_script(args.cluster_name),
            delete=delete_script(args.cluster_name),
            stdin=config_yaml,
            triggers=[config_yaml],
            logging=SECRET_STDOUT_LOGGING,
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, additional_secret_outputs=["stdout"]
            ),
        )
        self.command = cluster
        self.kubeconfig = pulumi.Output.secret(cluster.stdout)
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress_url = f"http://127.0.0.1:{args.http_port}"
        self.register_outputs({"kubeconfig": self.kubeconfig, "ingressUrl": self.ingress_url})

    def dashboard_url(self, node_port: int) -> str | None:
        host = self.args.extra_ports.get(node_port)
        return f"http://127.0.0.1:{host}" if host else None
