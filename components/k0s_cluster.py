"""K0sCluster: k0s on the inventory's hosts, installed by k0sctl over SSH.

Hosts and roles come from the same Ansible inventory the playbooks use (groups `controllers`
and `workers`). `pulumi up` writes the generated k0sctl config to a temporary file, runs
`k0sctl apply` and prints `k0sctl kubeconfig`; `pulumi destroy` runs `k0sctl reset`. With
`single=True` the first controller runs everything (`k0s install controller --single`, seed 001).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import yaml

from components._k8s import INGRESS_HTTP_NODE_PORT, SECRET_STDOUT_LOGGING
from components.k0s_inventory import Host
from istiolab import versions
from istiolab.errors import ConfigError

K0SCTL_API = "k0sctl.k0sproject.io/v1beta1"


@dataclass
class K0sClusterArgs:
    hosts: list[Host]
    cluster_name: str = "istiolab"
    single: bool | None = None  # None: single when there is exactly one host
    k0s_version: str = versions.K0S_VERSION


def roles(args: K0sClusterArgs) -> list[tuple[Host, str]]:
    """Each host's k0sctl role: the hand-off file's when it gave one, else from the groups."""
    controllers = [h for h in args.hosts if h.group == "controllers"]
    workers = [h for h in args.hosts if h.group == "workers"]
    if not controllers:
        raise ConfigError("k0s: the inventory group controllers has no hosts")
    single = args.single if args.single is not None else len(args.hosts) == 1
    if single:
        if len(args.hosts) > 1:
            extra = [h.name for h in args.hosts if h is not controllers[0]]
            raise ConfigError(
                "istiolab:cluster.single=true runs one node (k0s controller --single) but the "
                f"inventory has more hosts: {', '.join(extra)}; set single=false or use the "
                "single-node inventory"
            )
        return [(controllers[0], "single")]
    if all(h.role for h in args.hosts):
        if any(h.role == "single" for h in args.hosts) and len(args.hosts) > 1:
            raise ConfigError("k0s: the hand-off file gives role single to one of several hosts")
        return [(h, h.role) for h in controllers + workers]
    # Without workers the controllers must run pods themselves.
    ctrl_role = "controller" if workers else "controller+worker"
    return [(h, ctrl_role) for h in controllers] + [(h, "worker") for h in workers]


def k0sctl_host(h: Host, role: str) -> dict:
    """One k0sctl host: its role, SSH login, and where it applies: the node address the
    playbooks found (privateAddress) and, for controller+worker, no control-plane taint (k0s
    taints controllers that run pods, so nothing would schedule on them otherwise)."""
    host: dict = {
        "role": role,
        "ssh": {"address": h.address, "user": h.user, "port": h.port, "keyPath": h.key_path},
    }
    if h.private_address:
        host["privateAddress"] = h.private_address
    if role == "controller+worker":
        host["noTaints"] = True
    return host


def k0sctl_config(args: K0sClusterArgs) -> dict:
    return {
        "apiVersion": K0SCTL_API,
        "kind": "Cluster",
        "metadata": {"name": args.cluster_name},
        "spec": {
            "hosts": [k0sctl_host(h, role) for h, role in roles(args)],
            "k0s": {"version": args.k0s_version},
        },
    }


_WITH_CONFIG = (
    'set -e; cfg="$(mktemp)"; trap \'rm -f "$cfg"\' EXIT; '
    'printf "%s\\n" "$ISTIOLAB_K0SCTL_CONFIG" > "$cfg"; '
)
CREATE = _WITH_CONFIG + 'k0sctl apply --config "$cfg" 1>&2; k0sctl kubeconfig --config "$cfg"'
DELETE = _WITH_CONFIG + 'k0sctl reset --config "$cfg" --force 1>&2'


class K0sCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    ingress_url: str
    gateway_service_type = "NodePort"  # no load balancer controller on bare metal

    def __init__(self, name: str, args: K0sClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istiolab:index:K0sCluster", name, None, opts)
        self.args = args
        config_yaml = yaml.safe_dump(k0sctl_config(args), sort_keys=False)
        self.config_yaml = config_yaml
        cluster = command.local.Command(
            f"{name}-cluster",
            create=CREATE,
            delete=DELETE,
            environment={"ISTIOLAB_K0SCTL_CONFIG": config_yaml},
            triggers=[config_yaml],
            logging=SECRET_STDOUT_LOGGING,
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, additional_secret_outputs=["stdout"]
            ),
        )
        self.command = cluster
        self.kubeconfig = pulumi.Output.secret(cluster.stdout)
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        runs_pods = [
            h for h, role in roles(args) if role in ("worker", "single", "controller+worker")
        ]
        self.node_address = runs_pods[0].address
        self.ingress_url = f"http://{self.node_address}:{INGRESS_HTTP_NODE_PORT}"
        self.register_outputs({"kubeconfig": self.kubeconfig, "ingressUrl": self.ingress_url})

    def dashboard_url(self, node_port: int) -> str:
        return f"http://{self.node_address}:{node_port}"
