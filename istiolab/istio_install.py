"""How the lab installs Istio from its Helm charts: which releases, in which order, with which
values. Pure data, shared by the Pulumi component (components/istio_mesh.py), the render
tests that feed these values to the real charts, and the sizing model (istiolab/sizing.py,
whose Istio figures are the requests these values make the charts render).

Facts of the Istio 1.30 charts these values rely on:
- the `gateway` chart has its own `resources` and `autoscaling` (an HPA, on by default); the
  demo profile's legacy `gateways.istio-ingressgateway.*` figures are not read by it, so the
  demo profile's gateway requests (10m / 40Mi) and "no autoscaling" are passed explicitly;
- istiod's `defaultRevision` is not read by the istiod chart; `revisionTags: [default]` makes
  the chart render the `istio-revision-tag-default` webhook that matches namespaces labelled
  `istio-injection=enabled`, so they keep injecting when istiod has a revision;
- tracing goes through the current mesh config: a zipkin `extensionProviders` entry chosen by
  `defaultProviders.tracing`, with istiod's `pilot.traceSampling` as the sampling percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from istiolab.names import PROFILES  # noqa: F401 - re-exported to the stack config

# NodePorts of the ingress gateway (kind maps them to 127.0.0.1:<httpPort>/<httpsPort>).
INGRESS_HTTP_NODE_PORT = 30080
INGRESS_HTTPS_NODE_PORT = 30443
# Helm waits for the release's pods; a cold node pulls istiod and proxy images first.
HELM_TIMEOUT_SECONDS = 900
SERVICE_TYPES = ("NodePort", "LoadBalancer", "ClusterIP")
# The demo profile's figures for gateways (istiod chart files/profile-demo.yaml), which the
# gateway chart does not read by itself.
DEMO_GATEWAY_REQUESTS = {"cpu": "10m", "memory": "40Mi"}
ZIPKIN_PROVIDER = "zipkin"


@dataclass(frozen=True)
class IstioInstall:
    """The mesh settings that shape the Helm values."""

    profile: str = "default"  # default | demo (the charts' profiles)
    revision: str = ""
    access_log_file: str = "/dev/stdout"
    outbound_traffic_policy: str = "ALLOW_ANY"
    tracing_sampling: float = 1.0  # percent
    zipkin_address: str = ""  # host:port of a Zipkin-compatible collector, '' = no tracing
    egress_gateway: bool = False
    gateway_service_type: str = "NodePort"


@dataclass(frozen=True)
class Release:
    name: str  # the Helm release name
    chart: str  # base | istiod | gateway
    values: dict[str, Any]


def _profile_and_revision(i: IstioInstall, values: dict) -> dict:
    if i.profile == "demo":
        values["profile"] = "demo"
    if i.revision:
        values["revision"] = i.revision
    return values


def base_values(i: IstioInstall) -> dict:
    # base's defaultRevision picks the revision whose validation webhook is the default one.
    return {"defaultRevision": i.revision} if i.revision else {}


def istiod_values(i: IstioInstall) -> dict:
    mesh: dict[str, Any] = {
        "accessLogFile": i.access_log_file,
        "outboundTrafficPolicy": {"mode": i.outbound_traffic_policy},
    }
    if i.zipkin_address and i.tracing_sampling > 0:
        host, _, port = i.zipkin_address.rpartition(":")
        mesh["enableTracing"] = True
        mesh["extensionProviders"] = [
            {"name": ZIPKIN_PROVIDER, "zipkin": {"service": _fqdn(host), "port": int(port)}}
        ]
        mesh["defaultProviders"] = {"tracing": [ZIPKIN_PROVIDER]}
    values: dict[str, Any] = {
        "meshConfig": mesh,
        # one istiod, no HPA: what the sizing model counts is what runs
        "pilot": {"autoscaleEnabled": False, "traceSampling": float(i.tracing_sampling)},
    }
    _profile_and_revision(i, values)
    if i.revision:
        values["revisionTags"] = ["default"]  # `istio-injection=enabled` keeps injecting
    return values


def _fqdn(host: str) -> str:
    """`zipkin.istio-system` -> `zipkin.istio-system.svc.cluster.local`."""
    return host if host.endswith(".svc.cluster.local") else f"{host}.svc.cluster.local"


def _gateway(i: IstioInstall, service: dict) -> dict:
    values: dict[str, Any] = {"service": service, "autoscaling": {"enabled": False}}
    if i.profile == "demo":
        values["resources"] = {"requests": dict(DEMO_GATEWAY_REQUESTS)}
    return _profile_and_revision(i, values)


def ingress_values(i: IstioInstall) -> dict:
    http: dict = {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80}
    https: dict = {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}
    if i.gateway_service_type == "NodePort":  # fixed ports only where nothing else assigns
        http["nodePort"], https["nodePort"] = INGRESS_HTTP_NODE_PORT, INGRESS_HTTPS_NODE_PORT
    status = {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021}
    return _gateway(i, {"type": i.gateway_service_type, "ports": [status, http, https]})


def egress_values(i: IstioInstall) -> dict:
    ports = [
        {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
    ]
    return _gateway(i, {"type": "ClusterIP", "ports": ports})


def releases(i: IstioInstall) -> list[Release]:
    """The Helm releases in install order: base (CRDs), istiod, the gateways."""
    out = [
        Release("istio-base", "base", base_values(i)),
        Release(f"istiod-{i.revision}" if i.revision else "istiod", "istiod", istiod_values(i)),
        Release("istio-ingressgateway", "gateway", ingress_values(i)),
    ]
    if i.egress_gateway:
        out.append(Release("istio-egressgateway", "gateway", egress_values(i)))
    return out
