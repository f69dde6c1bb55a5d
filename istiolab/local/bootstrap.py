"""An Envoy bootstrap for one proxy, shaped like istio-agent's.

- node: ``id`` = ``Proxy.node_id`` (``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``),
  ``cluster`` = ``Proxy.cluster_name``;
- admin on ``<pod ip>:15000`` (the gateway: ``settings.gateway_pod_ip:15000``), or, when the
  runtime set ``settings.socket_dir``, on the owner-only Unix socket
  ``settings.admin_socket(ip)`` (mode 0600): no other local user can reach it;
- ADS over gRPC to ``settings.istiod_ip:15010`` through the static cluster ``xds-grpc``, or
  to the owner-only Unix socket ``settings.xds_socket``; CDS and LDS come over ADS;
- stats: tag extraction off (``use_all_default_tags: false``) so stat names keep the raw
  cluster names: ``cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_...``;
- every upstream connection leaves from the pod's own IP (``cluster_manager.
  upstream_bind_config``), as on a cluster, not from 127.0.0.1; set here once rather than
  on each xDS cluster, so proxies of a namespace share identical clusters (one encoding);
- static listeners as Istio's bootstrap has them: ``<ip>:15090`` serves
  ``/stats/prometheus`` from the admin API, ``<ip>:15021`` answers ``/healthz/ready``
  (Envoy's ``/ready``).
"""

from __future__ import annotations

from istiolab import versions
from istiolab.local.model import (
    ADMIN_PORT,
    HEALTH_PORT,
    PROMETHEUS_PORT,
    XDS_PORT,
    MeshSettings,
    Proxy,
)

HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)
ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
HTTP2_OPTIONS = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {}},
    }
}


def proxy_ip(proxy: Proxy, settings: MeshSettings) -> str:
    if proxy.type == "router" and proxy.pod.labels.get("istio") == "ingressgateway":
        return settings.gateway_pod_ip
    return proxy.pod.ip  # a sidecar, or another gateway proxy (Gateway API, egress)


def _address(ip: str, port: int) -> dict:
    return {"socket_address": {"address": ip, "port_value": port}}


def _pipe(path: str, mode: int | None = None) -> dict:
    pipe: dict = {"path": path}
    if mode is not None:
        pipe["mode"] = mode
    return {"pipe": pipe}


def _static_cluster(name: str, address: dict) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    }


def _static_listener(name: str, ip: str, port: int, path: str, rewrite: str) -> dict:
    return {
        "name": name,
        "address": _address(ip, port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM_TYPE,
                            "stat_prefix": name,
                            "codec_type": "AUTO",
                            "http_filters": [ROUTER],
                            "route_config": {
                                "virtual_hosts": [
                                    {
                                        "name": "backend",
                                        "domains": ["*"],
                                        "routes": [
                                            {
                                                "match": {"path": path},
                                                "route": {
                                                    "cluster": "prometheus_stats",
                                                    "prefix_rewrite": rewrite,
                                                },
                                            }
                                        ],
                                    }
                                ]
                            },
                        },
                    }
                ]
            }
        ],
    }


def bootstrap(proxy: Proxy, settings: MeshSettings) -> dict:
    """The bootstrap dict (write it as JSON and pass ``-c``)."""
    ip = proxy_ip(proxy, settings)
    xds_socket, admin_socket = settings.xds_socket, settings.admin_socket(ip)
    xds_address = _pipe(xds_socket) if xds_socket else _address(settings.istiod_ip, XDS_PORT)
    admin = _pipe(admin_socket, 0o600) if admin_socket else _address(ip, ADMIN_PORT)
    admin_upstream = _pipe(admin_socket) if admin_socket else admin  # 15090 -> admin
    xds = _static_cluster("xds-grpc", xds_address)
    xds["connect_timeout"] = "1s"
    xds["typed_extension_protocol_options"] = HTTP2_OPTIONS
    if not xds_socket:  # TCP keepalive has no meaning on a Unix socket
        xds["upstream_connection_options"] = {
            "tcp_keepalive": {"keepalive_time": 300, "keepalive_interval": 30}
        }
    ads = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": {
            "id": proxy.node_id,
            "cluster": proxy.cluster_name,
            "metadata": {
                "NAME": proxy.pod.name,
                "NAMESPACE": proxy.pod.namespace,
                "LABELS": dict(proxy.pod.labels),
                "SERVICE_ACCOUNT": proxy.pod.service_account,
                "INSTANCE_IPS": ip,
                "ISTIO_VERSION": versions.ISTIO_VERSION,  # the Istio the mesh behaves as
            },
        },
        "admin": {"address": admin, "access_log": []},
        "stats_config": {"use_all_default_tags": False},
        "cluster_manager": {
            "upstream_bind_config": {"source_address": {"address": ip, "port_value": 0}}
        },
        "static_resources": {
            "clusters": [xds, _static_cluster("prometheus_stats", admin_upstream)],
            "listeners": [
                _static_listener(
                    f"{ip}_{PROMETHEUS_PORT}",
                    ip,
                    PROMETHEUS_PORT,
                    "/stats/prometheus",
                    "/stats/prometheus",
                ),
                _static_listener(
                    f"{ip}_{HEALTH_PORT}", ip, HEALTH_PORT, "/healthz/ready", "/ready"
                ),
            ],
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
            },
            "cds_config": ads,
            "lds_config": ads,
        },
        "layered_runtime": {
            "layers": [
                {
                    "name": "global_config",
                    "static_layer": {"overload.global_downstream_max_connections": 2147483647},
                },
                {"name": "admin", "admin_layer": {}},
            ]
        },
    }
