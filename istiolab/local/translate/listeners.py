"""A sidecar's listeners and the HTTP connection manager every proxy shares.

- ``virtualOutbound`` on ``<pod ip>:15001``: apps use it as their HTTP proxy; its routes
  come over RDS (``http_proxy``, see routes.py).
- Inbound: one listener per service target port / container port, named
  ``<pod ip>_<port>`` on ``<pod ip>:<port>``; HTTP ports get an HCM routing to
  ``inbound|<port>||`` (the app on its pod-local address), TCP ports a tcp_proxy.
- 15090 (Prometheus) and 15021 (health) are static listeners in the bootstrap, as Istio's.

Access log: every HCM writes Envoy's file access log to ``mesh.access_log_file``
(default ``/dev/stdout`` of the Envoy process; the runtime captures it per proxy), in
Istio's default TEXT format (``%RESPONSE_FLAGS%`` included) or JSON.
"""

from __future__ import annotations

from collections.abc import Iterable

from istiolab.local.model import MeshSettings, Pod, Service
from istiolab.local.translate import names
from istiolab.local.translate.clusters import DNS_CACHE
from istiolab.local.translate.common import socket_address
from istiolab.local.translate.context import Context
from istiolab.local.translate.cors import FILTER as CORS
from istiolab.local.translate.meshconfig import MeshConfig
from istiolab.local.translate.resilience import FAULT_FILTER, FAULT_TYPE

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
HCM = "envoy.filters.network.http_connection_manager"
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
FAULT = {"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}}
DFP = {
    "name": "envoy.filters.http.dynamic_forward_proxy",
    "typed_config": {
        "@type": "type.googleapis.com/"
        "envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig",
        "dns_cache_config": DNS_CACHE,
    },
}

ISTIO_TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "
    '%CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" '
    "%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
    '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" '
    '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% '
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)
ISTIO_JSON_FORMAT = {
    "start_time": "%START_TIME%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration": "%DURATION%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "authority": "%REQ(:AUTHORITY)%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
    "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
    "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "route_name": "%ROUTE_NAME%",
}


def access_log(mesh: MeshConfig) -> list[dict]:
    if not mesh.access_log_file:
        return []
    if mesh.access_log_encoding == "JSON":
        fmt: dict = {"json_format": ISTIO_JSON_FORMAT}
    else:
        text = mesh.access_log_format or ISTIO_TEXT_FORMAT
        fmt = {"text_format_source": {"inline_string": text}}
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": FILE_LOG_TYPE,
                "path": mesh.access_log_file,
                "log_format": fmt,
            },
        }
    ]


def hcm(
    stat_prefix: str,
    mesh: MeshConfig,
    *,
    rds: str | None = None,
    route_config: dict | None = None,
    filters: list[dict] | None = None,
) -> dict:
    """An HTTP connection manager filter: ``filters`` (e.g. RBAC, jwt_authn, dynamic
    forward proxy), then cors, fault, router, as Istio orders them; Envoy headers kept."""
    config: dict = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        "codec_type": "AUTO",
        "server_name": "istio-envoy",
        "use_remote_address": False,
        "normalize_path": True,
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "http_filters": [*(filters or []), CORS, FAULT, ROUTER],
        "access_log": access_log(mesh),
    }
    if rds is not None:
        config["rds"] = {
            "route_config_name": rds,
            "config_source": {"ads": {}, "resource_api_version": "V3"},
        }
    else:
        config["route_config"] = route_config
    return {"name": HCM, "typed_config": config}


def outbound_listener(ctx: Context) -> dict:
    ip = ctx.proxy.pod.ip
    return {
        "@type": LISTENER_TYPE,
        "name": names.OUTBOUND_LISTENER,
        "address": socket_address(ip, 15001),
        "traffic_direction": "OUTBOUND",
        "filter_chains": [
            {
                "filters": [
                    hcm(
                        "outbound_0.0.0.0_15001",
                        ctx.mesh,
                        rds=names.HTTP_PROXY_ROUTE,
                        filters=[DFP],
                    )
                ]
            }
        ],
    }


PRIVILEGED_PORT_LIMIT = 1024  # ports below it need root (net.ipv4.ip_unprivileged_port_start)


def pod_ports(pod: Pod, services: Iterable[Service]) -> dict[int, str]:
    """A pod's ports with their Istio protocol: the target ports of the services selecting
    it, then its container ports (a port no service names counts as HTTP)."""
    ports: dict[int, str] = {}
    for svc in services:
        if svc.namespace != pod.namespace or not pod.matches(svc.selector):
            continue
        for sp in svc.ports:
            ports.setdefault(sp.target_port, sp.istio_protocol)
    for port in pod.container_ports:
        ports.setdefault(port, "HTTP")
    return ports


def uncaptured(port: int, settings: MeshSettings) -> bool:
    """Whether a pod port stays outside the sidecar: below 1024 when the runtime found it
    cannot bind such ports (``settings.privileged_ports is False``)."""
    return settings.privileged_ports is False and port < PRIVILEGED_PORT_LIMIT


def inbound_ports(ctx: Context) -> dict[int, str]:
    """The ports the sidecar captures (one inbound listener each). A port for which
    :func:`uncaptured` holds gets none (an inbound listener Envoy cannot bind would make it
    NACK the whole LDS): the runtime runs the app on the pod IP for it instead, so callers
    reach the app directly, as on a pod without a sidecar."""
    ports = pod_ports(ctx.proxy.pod, ctx.registry.services)
    return {p: proto for p, proto in ports.items() if not uncaptured(p, ctx.settings)}


def inbound_operation(ctx: Context, port: int) -> str:
    """The inbound route's decorator operation: ``<service FQDN>:<service port>/*`` of the
    first service whose target port this is (Istio's instance hostname), else
    ``<app>.<namespace>:<port>/*`` for a port no service names."""
    pod = ctx.proxy.pod
    for svc in ctx.registry.services:
        if svc.namespace != pod.namespace or not pod.matches(svc.selector):
            continue
        for sp in svc.ports:
            if sp.target_port == port:
                return names.trace_operation(svc.fqdn, sp.port)
    return names.trace_operation(ctx.proxy.cluster_name, port)


def inbound_listener(ctx: Context, port: int, protocol: str) -> dict:
    ip = ctx.proxy.pod.ip
    cluster = names.inbound(port)
    if protocol in ("HTTP", "HTTP2", "GRPC", "GRPC-WEB"):
        route_config = {
            "name": cluster,
            "virtual_hosts": [
                {
                    "name": f"inbound|http|{port}",
                    "domains": ["*"],
                    "routes": [
                        {
                            "name": "default",
                            "match": {"prefix": "/"},
                            "route": {"cluster": cluster, "timeout": "0s"},
                            "decorator": {"operation": inbound_operation(ctx, port)},
                        }
                    ],
                }
            ],
            "validate_clusters": False,
        }
        network = hcm(f"inbound_0.0.0.0_{port}", ctx.mesh, route_config=route_config)
    else:
        network = {
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {"@type": TCP_PROXY_TYPE, "stat_prefix": cluster, "cluster": cluster},
        }
    return {
        "@type": LISTENER_TYPE,
        "name": f"{ip}_{port}",
        "address": socket_address(ip, port),
        "traffic_direction": "INBOUND",
        "filter_chains": [{"filters": [network]}],
    }
