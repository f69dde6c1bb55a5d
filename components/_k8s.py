"""Shared plumbing for the components: ports, options, namespaces and object groups.

Objects come from `istiolab.manifests` as plain dicts. Namespaces become typed resources so
their injection label exists before any workload (`NamespacePatch` for namespaces every
cluster already has, so `pulumi destroy` removes the label, never the namespace); everything
else goes into `yaml.v2.ConfigGroup(objs=...)` groups ordered with `depends_on`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# The gateway's NodePorts and the mesh namespace, for the components that import them here.
from istiolab.istio_install import (  # noqa: F401
    INGRESS_HTTP_NODE_PORT,
    INGRESS_HTTPS_NODE_PORT,
)
from istiolab.manifests import ISTIO_SYSTEM  # noqa: F401

# Commands whose stdout is a kubeconfig: only stderr (progress) goes to `pulumi up`'s output,
# and the resource marks stdout secret (additional_secret_outputs) so state keeps it encrypted.
SECRET_STDOUT_LOGGING = "stderr"
PREEXISTING_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def child_opts(
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(
        parent=parent, provider=provider, depends_on=list(depends_on or [])
    )


def is_namespace(obj: dict) -> bool:
    return obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1"


def is_istio(obj: dict) -> bool:
    return ".istio.io/" in str(obj.get("apiVersion", ""))


def namespace_resources(
    name: str,
    objs: Sequence[dict],
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> list[pulumi.CustomResource]:
    """One typed resource per Namespace object (Namespace, or NamespacePatch when it exists)."""
    out: list[pulumi.CustomResource] = []
    for obj in objs:
        ns_name = obj["metadata"]["name"]
        opts = child_opts(parent, provider, depends_on)
        if ns_name in PREEXISTING_NAMESPACES:
            out.append(
                k8s.core.v1.NamespacePatch(
                    f"{name}-ns-{ns_name}", metadata=obj["metadata"], opts=opts
                )
            )
        else:
            out.append(
                k8s.core.v1.Namespace(f"{name}-ns-{ns_name}", metadata=obj["metadata"], opts=opts)
            )
    return out


def object_group(
    name: str,
    objs: Any,
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> k8s.yaml.v2.ConfigGroup:
    """The objects as one ConfigGroup (`objs` may be an Output computed in an apply)."""
    return k8s.yaml.v2.ConfigGroup(name, objs=objs, opts=child_opts(parent, provider, depends_on))


def deploy(
    name: str,
    objs: Sequence[dict],
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> tuple[list[pulumi.CustomResource], list[k8s.yaml.v2.ConfigGroup]]:
    """Namespaces first, then the Kubernetes workloads, then the Istio custom resources, each
    group after the previous one and after `depends_on` (the mesh: its CRDs, and istiod's
    injection webhook, which must answer before any pod is created)."""
    ns_objs = [o for o in objs if is_namespace(o)]
    istio = [o for o in objs if not is_namespace(o) and is_istio(o)]
    plain = [o for o in objs if not is_namespace(o) and o not in istio]
    namespaces = namespace_resources(
        name, ns_objs, parent=parent, provider=provider, depends_on=depends_on
    )
    groups = []
    after = [*(depends_on or []), *namespaces]
    if plain:
        groups.append(
            object_group(
                f"{name}-workloads", plain, parent=parent, provider=provider, depends_on=after
            )
        )
    if istio:
        groups.append(
            object_group(
                f"{name}-istio",
                istio,
                parent=parent,
                provider=provider,
                depends_on=after,
            )
        )
    return namespaces, groups
