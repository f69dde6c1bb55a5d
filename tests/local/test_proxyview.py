"""istioctl-shaped views of Envoy admin JSON (pure functions)."""

from __future__ import annotations

from istiolab.backends.local import proxy_sync
from istiolab.commands.proxy import status_table
from istiolab.local import proxyview

DUMP = {
    "configs": [
        {
            "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
            "static_clusters": [{"cluster": {"name": "xds-grpc", "type": "STATIC"}}],
            "dynamic_active_clusters": [
                {
                    "cluster": {
                        "name": "outbound|9080|v1|reviews.default.svc.cluster.local",
                        "type": "EDS",
                        "metadata": {
                            "filter_metadata": {
                                "istio": {
                                    "config": "/apis/networking.istio.io/v1/namespaces/default"
                                    "/destination-rule/reviews"
                                }
                            }
                        },
                    }
                }
            ],
        },
        {
            "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
            "dynamic_listeners": [
                {
                    "active_state": {
                        "listener": {
                            "name": "virtualOutbound",
                            "address": {
                                "socket_address": {"address": "127.10.1.2", "port_value": 15001}
                            },
                            "filter_chains": [
                                {
                                    "filters": [
                                        {
                                            "name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": {"rds": {"route_config_name": "80"}},
                                        }
                                    ]
                                }
                            ],
                        }
                    }
                }
            ],
        },
        {
            "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
            "dynamic_route_configs": [
                {
                    "route_config": {
                        "name": "80",
                        "virtual_hosts": [
                            {
                                "name": "reviews.default.svc.cluster.local:9080",
                                "domains": ["reviews.default.svc.cluster.local", "reviews"],
                                "routes": [{"match": {"prefix": "/"}}],
                            }
                        ],
                    }
                }
            ],
        },
    ]
}


def test_cluster_listener_route_rows():
    headers, rows = proxyview.rows("clusters", DUMP)
    assert headers[0] == "SERVICE FQDN"
    assert rows == [
        ["reviews.default.svc.cluster.local", "9080", "v1", "outbound", "EDS", "reviews.default"],
        ["xds-grpc", "-", "-", "-", "STATIC", "-"],
    ]
    _, rows = proxyview.rows("listeners", DUMP)
    assert rows == [["127.10.1.2", "15001", "ALL", "Route: 80"]]
    _, rows = proxyview.rows("routes", DUMP)
    assert rows == [
        [
            "80",
            "reviews.default.svc.cluster.local:9080",
            "reviews.default.svc.cluster.local + 1 more...",
            "/*",
            "-",
        ]
    ]


def test_endpoint_rows():
    data = {
        "cluster_statuses": [
            {
                "name": "outbound|9080||details.default.svc.cluster.local",
                "host_statuses": [
                    {
                        "address": {
                            "socket_address": {"address": "127.10.1.1", "port_value": 9080}
                        },
                        "health_status": {
                            "eds_health_status": "HEALTHY",
                            "failed_outlier_check": True,
                        },
                    }
                ],
            }
        ]
    }
    _, rows = proxyview.rows("endpoints", data)
    assert rows == [
        ["127.10.1.1:9080", "HEALTHY", "FAILED", "outbound|9080||details.default.svc.cluster.local"]
    ]


def test_status_rows_show_nack_stale_and_disconnected():
    proxies = [
        {
            "name": "b.default",
            "status": {
                "push_version": 7,
                "types": {
                    "CDS": {"state": "SYNCED"},
                    "LDS": {"state": "NACK"},
                    "EDS": {"state": "STALE"},
                    "RDS": {"state": "SYNCED"},
                },
            },
        },
        {"name": "a.default", "status": None},
    ]
    headers, rows = status_table(proxy_sync(p) for p in proxies)
    assert headers == ["NAME", "CDS", "LDS", "EDS", "RDS", "VERSION"]
    assert rows[0][0] == "a.default" and rows[0][1] == "NOT CONNECTED"
    assert rows[1] == ["b.default", "SYNCED", "NACK", "STALE", "SYNCED", "7"]
    assert [proxy_sync(p).synced for p in proxies] == [False, False]
