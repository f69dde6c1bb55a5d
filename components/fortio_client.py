"""FortioClient: a fortio load generator in its own namespace (labelled for injection), for
in-cluster load such as `kubectl -n load exec deploy/fortio-deploy -c fortio -- fortio load ...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._k8s import deploy
from istiolab import manifests


@dataclass
class FortioClientArgs:
    provider: k8s.Provider
    mesh: pulumi.Resource | None = None
    namespace: str = "load"
    injection: bool = True
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def fortio_objects(a: FortioClientArgs) -> list[dict]:
    return [manifests.namespace(a.namespace, injection=a.injection), *manifests.fortio(a.namespace)]


class FortioClient(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: FortioClientArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:FortioClient", name, None, opts)
        self.objects = fortio_objects(args)
        after = [*([args.mesh] if args.mesh else []), *args.depends_on]
        self.namespaces, self.groups = deploy(
            name, self.objects, parent=self, provider=args.provider, depends_on=after
        )
        deployment = next(o for o in self.objects if o["kind"] == "Deployment")
        self.namespace = args.namespace
        self.exec_command = (
            f"kubectl -n {args.namespace} exec deploy/{deployment['metadata']['name']} "
            "-c fortio -- fortio load -c 3 -qps 0 -n 30 http://httpbin.default:8000/get"
        )
        self.register_outputs({"namespace": self.namespace, "execCommand": self.exec_command})
