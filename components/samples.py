"""Samples: httpbin (v1, v2), sleep (curl) and the fortio client whose sidecar keeps the
`cluster.outbound` stats the circuit-breaking task reads (annotation proxy.istio.io/config),
with httpbin's DestinationRule; also tcp-echo and helloworld (v1, v2) when asked for.

Objects come from istiolab.manifests; namespace before workloads, workloads and Istio
resources after the mesh. `objects` lets the program hand over the exact objects of an EnvSpec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._k8s import deploy
from istiolab import manifests
from istiolab.names import SAMPLES

SAMPLE_NAMES = ("httpbin", "sleep", "fortio")  # the default; any of SAMPLES but bookinfo


@dataclass
class SamplesArgs:
    provider: k8s.Provider
    mesh: pulumi.Resource | None = None
    namespace: str = "default"
    injection: bool = True
    manage_namespace: bool = True
    samples: Sequence[str] = SAMPLE_NAMES
    httpbin_versions: Sequence[str] = ("v1", "v2")
    destination_rules: bool = True
    mtls: bool = False
    objects: list[dict] | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def samples_objects(a: SamplesArgs) -> list[dict]:
    if a.objects is not None:
        return list(a.objects)
    ns = a.namespace
    objs = [manifests.namespace(ns, injection=a.injection)] if a.manage_namespace else []
    for sample in SAMPLES:
        if sample == "bookinfo" or sample not in a.samples:
            continue
        if sample == "httpbin":
            objs += manifests.httpbin(ns, versions=a.httpbin_versions)
        else:
            objs += manifests.SAMPLE_BUILDERS[sample](ns)
    if a.destination_rules and "httpbin" in a.samples:
        objs += manifests.destination_rules(ns, mtls=a.mtls, services=["httpbin"])
    return objs


class Samples(pulumi.ComponentResource):
    def __init__(self, name: str, args: SamplesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istiolab:index:Samples", name, None, opts)
        self.objects = samples_objects(args)
        after = [*([args.mesh] if args.mesh else []), *args.depends_on]
        self.namespaces, self.groups = deploy(
            name, self.objects, parent=self, provider=args.provider, depends_on=after
        )
        self.namespace = args.namespace
        self.register_outputs({"namespace": self.namespace})
