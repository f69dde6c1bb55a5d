"""Istio configuration -> Envoy v3 resources for one proxy (pure functions).

``build_resources(objects, registry, proxy, settings)`` returns the
:class:`~istiolab.local.model.ProxyResources` a sidecar or the ingress gateway is sent:
Envoy JSON dicts with ``"@type"``, keyed by resource name, named as Istio names them.
``analyze``/``findings`` report what Istio's analyzers would (IST0101 and friends).

Modules, one concern each: names (Istio naming, host resolution, exportTo), context
(what one proxy sees: hosts, DestinationRule lookup, Sidecar scoping), meshconfig,
clusters, endpoints, policy (DestinationRule traffic policy), routes (matches and
actions), virtualhosts (the sidecar's route config), resilience (fault, timeout, retries,
mirror), cors, listeners (sidecar listeners, HCM, access log), gateway, analysis.

Conventions the runtime relies on:
- mesh config: the ``istio`` ConfigMap in ``istio-system`` (``data.mesh``), see meshconfig.py;
- access logs: ``accessLogFile`` of that mesh config, default ``/dev/stdout`` of each Envoy
  (capture each Envoy's stdout to its own log file), Istio's TEXT format by default
  (``accessLogEncoding: JSON`` for JSON, ``accessLogFile: ""`` turns them off);
- security (security/): auto mTLS on outbound clusters, PeerAuthentication filter chains,
  jwt_authn and RBAC filters before cors/fault/router; the SDS secrets ``default`` and
  ``ROOTCA`` are added per proxy by the runtime (istiolab.local.pki).
"""

from __future__ import annotations

from istiolab.local.model import MeshSettings, Proxy, ProxyResources, Registry
from istiolab.local.translate import clusters as _clusters
from istiolab.local.translate import listeners as _listeners
from istiolab.local.translate.analysis import Analysis, analyze, findings
from istiolab.local.translate.context import Context
from istiolab.local.translate.envoyfilter import apply_envoy_filters
from istiolab.local.translate.gateway import gateway_resources
from istiolab.local.translate.index import MeshIndex
from istiolab.local.translate.meshconfig import MeshConfig, mesh_config
from istiolab.local.translate.security import auto_mtls, secure
from istiolab.local.translate.telemetry import instrument
from istiolab.local.translate.virtualhosts import sidecar_route_config

__all__ = [
    "Analysis",
    "MeshConfig",
    "MeshIndex",
    "analyze",
    "build_resources",
    "findings",
    "mesh_config",
]


def build_resources(
    objects: list[dict],
    registry: Registry,
    proxy: Proxy,
    settings: MeshSettings,
    *,
    index: MeshIndex | None = None,
) -> ProxyResources:
    """Everything ``proxy`` is sent for this configuration. Pass the same ``index`` (a
    :class:`MeshIndex` of these very objects, registry and settings) for every proxy of a
    push: lookups are then built once, and proxies that see the same hosts (same namespace
    and Sidecar scope) share their outbound clusters and route config. Pure: the SDS secrets
    (``default``, ``ROOTCA``) are left to the runtime that owns the CA
    (:func:`istiolab.local.pki.with_secrets`)."""
    index = index if index is not None else MeshIndex(list(objects), registry, settings)
    ctx = Context(index.objects, registry, proxy, settings, index=index)
    shared, endpoints = _shared(ctx, ("clusters", ctx.scope_key), _outbound)
    listeners: dict[str, dict] = {}
    routes: dict[str, dict] = {}
    inbound: dict[str, dict] = {}
    if proxy.type == "router":
        listeners, routes = gateway_resources(ctx)
    else:
        out = _listeners.outbound_listener(ctx)
        listeners[out["name"]] = out
        labels = tuple(sorted(proxy.pod.labels.items())) if index.uses_source_labels else None
        route = _shared(ctx, ("routes", ctx.scope_key, labels), sidecar_route_config)
        routes[route["name"]] = route
        for port, protocol in sorted(_listeners.inbound_ports(ctx).items()):
            listener = _listeners.inbound_listener(ctx, port, protocol)
            listeners[listener["name"]] = listener
            cluster = _clusters.inbound_cluster(
                port, proxy.pod.app_ip, settings.app_socket(proxy.pod.ip, port)
            )
            inbound[cluster["name"]] = cluster
    # shared with every proxy of the same scope: never changed here. Upstream connections
    # leave from the pod IP through the bootstrap (cluster_manager.upstream_bind_config).
    clusters = {**shared, **inbound}
    # the security layer: PeerAuthentication chains, jwt_authn and RBAC (security/)
    listeners, extra, extensions = secure(ctx, listeners)
    listeners = apply_envoy_filters(index.objects, proxy, listeners)  # HTTP_FILTER patches
    clusters.update(extra)
    # telemetry: ALS to the control plane, Zipkin tracer, Telemetry API (telemetry.py)
    listeners, extra = instrument(ctx, listeners)
    clusters.update(extra)
    return ProxyResources(
        clusters=dict(sorted(clusters.items())),
        endpoints=endpoints,
        listeners=listeners,
        routes=routes,
        extensions=extensions,
    )


def _shared(ctx: Context, key: tuple, build):
    """``build(ctx)``, computed once per push for every proxy with the same ``key``."""
    memo = ctx.index.memo
    if key not in memo:
        memo[key] = build(ctx)
    return memo[key]


def _outbound(ctx: Context) -> tuple[dict[str, dict], dict[str, dict]]:
    clusters, endpoints = _clusters.outbound_clusters(ctx)
    clusters = auto_mtls(ctx, clusters)  # Istio mTLS where the destination has a sidecar
    clusters[_clusters.names.PASSTHROUGH] = _clusters.passthrough()
    clusters[_clusters.names.BLACKHOLE] = _clusters.blackhole()
    return clusters, dict(sorted(endpoints.items()))
