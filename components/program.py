"""The lab program: cluster -> mesh -> samples -> addons -> security -> load generator.

`build(cfg)` is what `__main__.py` runs with the validated stack config; it checks sizing
first (nothing is registered when the lab does not fit), then creates the components and
returns the stack outputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi

from components import preflight
from components.bookinfo import Bookinfo, BookinfoArgs
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.fortio_client import FortioClient, FortioClientArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.k0s_cluster import K0sCluster, K0sClusterArgs
from components.kind_cluster import KindCluster, KindClusterArgs
from components.mesh_security import MeshSecurity, MeshSecurityArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from components.observability import DASHBOARDS, Observability, ObservabilityArgs, node_port
from components.parts import split_environment
from components.samples import Samples, SamplesArgs
from istiolab import versions
from istiolab.istio_install import IstioInstall
from istiolab.manifests import validate_objects
from istiolab.stack_config import (
    ExistingSettings,
    K0sSettings,
    KindSettings,
    MinikubeSettings,
    StackConfig,
)

Cluster = KindCluster | MinikubeCluster | K0sCluster | ExistingCluster


def make_cluster(cfg: StackConfig, root: Path) -> Cluster:
    c = cfg.cluster
    extra = {}
    if cfg.addons.node_ports:  # kind (and minikube in Docker's VM): dashboards on 127.0.0.1
        extra = {node_port(a): DASHBOARDS[a][2] for a in cfg.addons.enabled}
    if isinstance(c, KindSettings):
        return KindCluster(
            "cluster",
            KindClusterArgs(
                cluster_name=c.name,
                control_planes=c.control_planes,
                workers=c.workers,
                node_image=c.node_image,
                http_port=c.http_port,
                https_port=c.https_port,
                extra_ports=extra,
            ),
        )
    if isinstance(c, MinikubeSettings):
        return MinikubeCluster(
            "cluster",
            MinikubeClusterArgs(
                profile=c.name,
                driver=c.driver,
                cpus=c.cpus,
                memory_mb=c.memory_mb,
                disk_gb=c.disk_gb,
                nodes=c.nodes,
                kubernetes_version=c.kubernetes_version,
                http_port=c.http_port,
                https_port=c.https_port,
                extra_ports=extra,
            ),
        )
    if isinstance(c, K0sSettings):
        return K0sCluster(
            "cluster",
            K0sClusterArgs(
                hosts=preflight.k0s_hosts(c, root)[0],
                cluster_name=c.name,
                single=c.single,
                k0s_version=c.version,
            ),
        )
    assert isinstance(c, ExistingSettings)
    return ExistingCluster(
        "cluster",
        ExistingClusterArgs(
            kubeconfig_path=c.kubeconfig_path, kubeconfig=c.kubeconfig, context=c.context
        ),
    )


def istio_install(cfg: StackConfig, cluster_service_type: str) -> IstioInstall:
    """The Helm-value settings of the stack's mesh (`cluster_service_type`: the cluster's
    gateway Service type, used when mesh.gatewayService is auto)."""
    m = cfg.mesh
    zipkin = f"zipkin.{cfg.addons.namespace}:9411" if "jaeger" in cfg.addons.enabled else ""
    return IstioInstall(
        profile=m.profile,
        revision=m.revision,
        access_log_file=m.access_log_file,
        outbound_traffic_policy=m.outbound_traffic_policy,
        tracing_sampling=m.tracing_sampling,
        zipkin_address=zipkin,
        egress_gateway=m.egress,
        gateway_service_type=(
            cluster_service_type if m.gateway_service == "auto" else m.gateway_service
        ),
    )


def build(cfg: StackConfig, root: Path | None = None) -> dict[str, Any]:
    """`root`: the Pulumi project directory (stack files, playbooks), by default the current
    directory, where `pulumi` runs the program."""
    root = Path.cwd() if root is None else root
    preflight.check(cfg, root)  # raises before anything is registered
    spec = cfg.env
    parts = split_environment(spec)
    # The same strict schema check `istiolab render` and `istiolab apply` make.
    validate_objects(parts.all(), source=cfg.source)
    cluster = make_cluster(cfg, root)
    provider = cluster.provider

    install = istio_install(cfg, cluster.gateway_service_type)
    mesh = IstioMesh(
        "istio",
        IstioMeshArgs(
            provider=provider,
            **dataclasses.asdict(install),
            plugin_ca=cfg.mesh.plugin_ca,
            ca_dir=cfg.mesh.ca_dir,
            cluster_name=cfg.cluster.name,
        ),
    )

    apps_ns: list[pulumi.Resource] = []
    namespaces = ["istio-system"]
    outputs: dict[str, Any] = {
        "clusterType": cfg.cluster.type,
        "kubeconfig": cluster.kubeconfig,
        "istioVersion": versions.ISTIO_VERSION,
    }
    if cluster.ingress_url is not None:
        outputs["ingressUrl"] = cluster.ingress_url
    else:
        outputs["ingressAddressCommand"] = ExistingCluster.ingress_url_command
    if parts.bookinfo or parts.samples:
        namespaces.append(spec.apps.namespace)
    if "bookinfo" in spec.apps.samples:
        bookinfo = Bookinfo(
            "bookinfo",
            BookinfoArgs(
                provider=provider, mesh=mesh, namespace=spec.apps.namespace, objects=parts.bookinfo
            ),
        )
        apps_ns += bookinfo.namespaces
        if cluster.ingress_url is not None:
            outputs["productPageUrl"] = pulumi.Output.concat(cluster.ingress_url, "/productpage")
    if parts.samples:
        samples = Samples(
            "samples",
            SamplesArgs(
                provider=provider,
                mesh=mesh,
                namespace=spec.apps.namespace,
                objects=parts.samples,
                depends_on=list(apps_ns),
            ),
        )
        apps_ns += samples.namespaces
    if parts.addons:
        obs = Observability(
            "observability",
            ObservabilityArgs(
                provider=provider,
                mesh=mesh,
                addons=cfg.addons.enabled,
                namespace=cfg.addons.namespace,
                node_ports=cfg.addons.node_ports,
                objects=parts.addons,
            ),
        )
        dashboards: dict[str, Any] = dict(obs.dashboards)
        if cfg.addons.node_ports:
            for addon in obs.addons:
                url = cluster.dashboard_url(node_port(addon))
                if url is not None:
                    dashboards[addon] = pulumi.Output.concat(url, DASHBOARDS[addon][3])
        outputs["dashboards"] = dashboards
        if cfg.addons.namespace not in namespaces:
            namespaces.append(cfg.addons.namespace)
    s = cfg.security
    if parts.security or s.jwt:
        security = MeshSecurity(
            "security",
            MeshSecurityArgs(
                provider=provider,
                mesh=mesh,
                namespace=spec.apps.namespace,
                jwt=s.jwt,
                jwt_issuer=s.jwt_issuer,
                jwt_required=s.jwt_required,
                objects=parts.security,
                depends_on=list(apps_ns),
            ),
        )
        if s.jwt:
            outputs["jwtIssuer"] = s.jwt_issuer
            outputs["jwks"] = security.jwks
            outputs["jwtPrivateKeyPem"] = security.jwt_private_key_pem
    lo = cfg.load_generator
    if lo.enabled:
        load = FortioClient(
            "load", FortioClientArgs(provider=provider, mesh=mesh, namespace=lo.namespace)
        )
        outputs["loadCommand"] = load.exec_command
        if lo.namespace not in namespaces:
            namespaces.append(lo.namespace)
    outputs["namespaces"] = namespaces
    return outputs
