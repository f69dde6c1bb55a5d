"""The Grafana dashboard the lab provisions: the mesh at a glance, from Istio's standard
metrics (`istio_requests_total`, `istio_request_duration_milliseconds`) and the Envoy
circuit-breaker counter the fortio pod exposes (`envoy_cluster_upstream_rq_pending_overflow`).

Written for this project: a small dashboard answering the questions the labs ask (how much
traffic, how much of it fails and why, how slow), not a copy of Istio's own dashboards.
"""

from __future__ import annotations

PROMETHEUS_UID = "prometheus"  # the provisioned datasource's uid, referenced by every panel
DASHBOARD_UID = "istiolab-mesh"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/istio"
DASHBOARD_FILE = "istiolab-mesh.json"

_RATE = "[1m]"
_REQUESTS = "istio_requests_total"
_LATENCY = "istio_request_duration_milliseconds_bucket"

# (title, unit, [(expression, legend)]); two panels per row
_PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Requests per second, by destination service",
        "reqps",
        [
            (
                f'sum by (destination_service) (rate({_REQUESTS}{{reporter="destination"}}'
                f"{_RATE}))",
                "{{destination_service}}",
            )
        ],
    ),
    (
        "Success rate (non-5xx), by destination service",
        "percentunit",
        [
            (
                f"sum by (destination_service) (rate({_REQUESTS}"
                f'{{reporter="destination",response_code!~"5.."}}{_RATE}))'
                f" / sum by (destination_service) (rate({_REQUESTS}"
                f'{{reporter="destination"}}{_RATE}))',
                "{{destination_service}}",
            )
        ],
    ),
    (
        "Responses per second, by code and response flags (client side)",
        "reqps",
        [
            (
                f"sum by (response_code, response_flags) (rate({_REQUESTS}"
                f'{{reporter="source"}}{_RATE}))',
                "{{response_code}} {{response_flags}}",
            )
        ],
    ),
    (
        "Request duration P50 / P90 / P99, by destination service",
        "ms",
        [
            (
                f"histogram_quantile({q}, sum by (le, destination_service) (rate({_LATENCY}"
                f'{{reporter="destination"}}{_RATE})))',
                f"P{label} {{{{destination_service}}}}",
            )
            for q, label in (("0.5", "50"), ("0.9", "90"), ("0.99", "99"))
        ],
    ),
    (
        "Circuit breaker: pending-request overflows (upstream_rq_pending_overflow)",
        "short",
        [
            (
                "sum by (pod, cluster_name) (envoy_cluster_upstream_rq_pending_overflow)",
                "{{pod}} {{cluster_name}}",
            )
        ],
    ),
    (
        "Requests per second, by source and destination workload",
        "reqps",
        [
            (
                f"sum by (source_workload, destination_workload) (rate({_REQUESTS}"
                f'{{reporter="source"}}{_RATE}))',
                "{{source_workload}} -> {{destination_workload}}",
            )
        ],
    ),
]


def mesh_dashboard() -> dict:
    """The Grafana dashboard model (schema of Grafana 11) as a plain dict."""
    datasource = {"type": "prometheus", "uid": PROMETHEUS_UID}
    panels = []
    for i, (title, unit, queries) in enumerate(_PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {
                        "refId": chr(ord("A") + j),
                        "datasource": datasource,
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for j, (expr, legend) in enumerate(queries)
                ],
            }
        )
    return {
        "uid": DASHBOARD_UID,
        "title": "Istio Mesh (istiolab)",
        "tags": ["istio", "istiolab"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-15m", "to": "now"},
        "panels": panels,
    }


def dashboard_providers() -> dict:
    """Grafana's dashboard provisioning file: load the JSON files under DASHBOARDS_PATH."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "istio",
                "orgId": 1,
                "folder": "istio",
                "type": "file",
                "disableDeletion": False,
                "options": {"path": DASHBOARDS_PATH},
            }
        ],
    }
