"""Istio's cluster metadata: the services behind an outbound cluster and the DestinationRule
that shapes it, as `istioctl proxy-config clusters` shows in its DESTINATION RULE column."""

from __future__ import annotations

from istiolab.local import proxyview
from istiolab.local.xds import to_any

from .helpers import bookinfo_world, destination_rule, istio, sidecar

HTTPBIN = "httpbin.default.svc.cluster.local"
RATINGS = "ratings.default.svc.cluster.local"
CONFIG = "/apis/networking.istio.io/v1/namespaces/default/destination-rule/httpbin-cb"
DUMP = "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"


def without_rules() -> list[dict]:
    return [o for o in bookinfo_world() if o["kind"] != "DestinationRule"]


def test_clusters_shaped_by_a_destination_rule_name_it():
    dr = destination_rule(
        "httpbin-cb",
        "httpbin",
        trafficPolicy={"connectionPool": {"tcp": {"maxConnections": 1}}},
        subsets=[{"name": "v1", "labels": {"version": "v1"}}],
    )
    res, _, _ = sidecar([*without_rules(), dr])
    service = {"host": HTTPBIN, "name": "httpbin", "namespace": "default"}
    for name in (f"outbound|8000||{HTTPBIN}", f"outbound|8000|v1|{HTTPBIN}"):
        cluster = res.clusters[name]
        assert cluster["metadata"] == {
            "filter_metadata": {"istio": {"config": CONFIG, "services": [service]}}
        }
        to_any(cluster)  # valid Envoy config
    plain = res.clusters[f"outbound|9080||{RATINGS}"]  # no DestinationRule: services only
    assert plain["metadata"]["filter_metadata"]["istio"] == {
        "services": [{"host": RATINGS, "name": "ratings", "namespace": "default"}]
    }

    dump = {
        "configs": [
            {
                "@type": DUMP,
                "dynamic_active_clusters": [{"cluster": c} for c in res.clusters.values()],
            }
        ]
    }
    headers, rows = proxyview.cluster_rows(dump)
    column = headers.index("DESTINATION RULE")
    by_name = {(r[0], r[1], r[2]): r[column] for r in rows}
    assert by_name[(HTTPBIN, "8000", "-")] == "httpbin-cb.default"
    assert by_name[(HTTPBIN, "8000", "v1")] == "httpbin-cb.default"
    assert by_name[(RATINGS, "9080", "-")] == "-"


def test_service_entry_clusters_name_the_entry_host():
    se = istio(
        "ServiceEntry",
        "ext",
        "default",
        {
            "hosts": ["api.example.com"],
            "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
            "resolution": "DNS",
            "location": "MESH_EXTERNAL",
        },
    )
    dr = destination_rule("ext-dr", "api.example.com", namespace="default")
    res, _, _ = sidecar([*without_rules(), se, dr])
    istio_md = res.clusters["outbound|80||api.example.com"]["metadata"]["filter_metadata"]
    assert istio_md["istio"] == {
        "config": "/apis/networking.istio.io/v1/namespaces/default/destination-rule/ext-dr",
        "services": [
            {"host": "api.example.com", "name": "api.example.com", "namespace": "default"}
        ],
    }
