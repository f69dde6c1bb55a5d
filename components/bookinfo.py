"""Bookinfo: the four-service sample (productpage, details, reviews v1-v3, ratings), its
Gateway/VirtualService on the ingress gateway and its DestinationRules.

Objects come from istiolab.manifests; the namespace (labelled for injection) is created before
any workload, and workloads and Istio resources wait for the mesh (CRDs and the injection
webhook). `objects` lets the program hand over the exact objects of an EnvSpec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._k8s import deploy
from istiolab import manifests
from istiolab.manifests.samples import BOOKINFO_SERVICES


@dataclass
class BookinfoArgs:
    provider: k8s.Provider
    mesh: pulumi.Resource | None = None
    namespace: str = "default"
    injection: bool = True
    manage_namespace: bool = True  # False: another component creates it (see depends_on)
    gateway: bool = True
    gateway_hosts: Sequence[str] = ("*",)
    destination_rules: bool = True
    mtls: bool = False  # DestinationRules with ISTIO_MUTUAL
    objects: list[dict] | None = None  # exact objects to deploy instead of the above
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def bookinfo_objects(a: BookinfoArgs) -> list[dict]:
    if a.objects is not None:
        return list(a.objects)
    objs = [manifests.namespace(a.namespace, injection=a.injection)] if a.manage_namespace else []
    objs += manifests.bookinfo(a.namespace)
    if a.gateway:
        objs += manifests.bookinfo_gateway(a.namespace, hosts=a.gateway_hosts)
    if a.destination_rules:
        objs += manifests.destination_rules(a.namespace, mtls=a.mtls, services=BOOKINFO_SERVICES)
    return objs


class Bookinfo(pulumi.ComponentResource):
    def __init__(self, name: str, args: BookinfoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istiolab:index:Bookinfo", name, None, opts)
        self.objects = bookinfo_objects(args)
        after = [*([args.mesh] if args.mesh else []), *args.depends_on]
        self.namespaces, self.groups = deploy(
            name, self.objects, parent=self, provider=args.provider, depends_on=after
        )
        self.namespace = args.namespace
        self.product_page_path = "/productpage"
        self.register_outputs({"namespace": self.namespace})
