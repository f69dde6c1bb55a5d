"""Observability addons for istio-system: Prometheus, Grafana, Kiali and Jaeger.

Plain manifests (no Helm needed), written here; service names and ports are the ones
Istio's tooling expects (prometheus:9090, grafana:3000, kiali:20001, tracing:80 ->
16686, zipkin:9411). With `node_port=True` the UIs are exposed as NodePort services on
the ports of seed 002 (kiali 30007, its metrics 30008, prometheus 30009) plus grafana
30010 and tracing 30011.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from istiolab import versions
from istiolab.errors import ParameterError
from istiolab.manifests import dashboards
from istiolab.manifests._base import ISTIO_SYSTEM, check_name, deployment, obj
from istiolab.names import (
    ADDONS,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
    TRACING_PORT,
    TRACING_SERVICE,
    ZIPKIN_PORT,
    ZIPKIN_SERVICE,
)

# (service, port name) -> nodePort when exposed
NODE_PORTS: dict[tuple[str, str], int] = {
    ("kiali", "http"): 30007,
    ("kiali", "http-metrics"): 30008,
    ("prometheus", "http"): 30009,
    ("grafana", "service"): 30010,
    ("tracing", "http-query"): 30011,
}

_READ = ["get", "list", "watch"]


def addons(
    namespace: str = ISTIO_SYSTEM, *, names: Iterable[str] = ADDONS, node_port: bool = False
) -> list[dict]:
    """The manifests of the addons `names` (default all), in `namespace`."""
    check_name("namespace", namespace)
    wanted = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in wanted if n not in ADDONS]
    if unknown or not wanted:
        raise ParameterError("addons", wanted, "a non-empty subset of " + ", ".join(ADDONS))
    out: list[dict] = []
    for name in ADDONS:
        if name == "kiali" and name in wanted:  # Kiali links only to what is deployed
            out += kiali(
                namespace, node_port, grafana="grafana" in wanted, tracing="jaeger" in wanted
            )
        elif name in wanted:
            out += _BUILDERS[name](namespace, node_port)
    return out


def _service(
    name: str, namespace: str, labels: dict, selector: dict, ports: list[dict], node_port: bool
) -> dict:
    port_specs = []
    for port in ports:
        spec = {"name": port["name"], "port": port["port"], "protocol": "TCP"}
        spec["targetPort"] = port.get("targetPort", port["port"])
        if node_port and (name, port["name"]) in NODE_PORTS:
            spec["nodePort"] = NODE_PORTS[(name, port["name"])]
        port_specs.append(spec)
    spec: dict[str, Any] = {}
    if node_port and any((name, p["name"]) in NODE_PORTS for p in ports):
        spec["type"] = "NodePort"
    spec["ports"] = port_specs
    spec["selector"] = dict(selector)
    return obj("v1", "Service", name, namespace, labels=labels, spec=spec)


def _deployment(
    name: str, namespace: str, labels: dict, pod_spec: dict, annotations: dict | None = None
) -> dict:
    pod_meta: dict[str, Any] = {"labels": dict(labels)}
    if annotations:
        pod_meta["annotations"] = annotations
    return deployment(name, namespace, labels, pod_meta, pod_spec)


def _cluster_rbac(name: str, namespace: str, labels: dict, rules: list[dict]) -> list[dict]:
    return [
        obj("rbac.authorization.k8s.io/v1", "ClusterRole", name, labels=labels, rules=rules),
        obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            name,
            labels=labels,
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            subjects=[{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        ),
    ]


def _config_map(name: str, namespace: str, labels: dict, files: dict[str, Any]) -> dict:
    data = {
        key: value if isinstance(value, str) else yaml.safe_dump(value, sort_keys=False)
        for key, value in files.items()
    }
    return obj("v1", "ConfigMap", name, namespace, labels=labels, data=data)


def prometheus(namespace: str = ISTIO_SYSTEM, node_port: bool = False) -> list[dict]:
    labels = {"app": "prometheus", "component": "server"}
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"localhost:{PROMETHEUS_PORT}"]}],
            },
            {
                # Sidecar-injected pods carry prometheus.io/scrape, port and path annotations.
                "job_name": "kubernetes-pods",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                        "action": "keep",
                        "regex": "true",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                        "action": "replace",
                        "target_label": "__metrics_path__",
                        "regex": "(.+)",
                    },
                    {
                        "source_labels": [
                            "__address__",
                            "__meta_kubernetes_pod_annotation_prometheus_io_port",
                        ],
                        "action": "replace",
                        "regex": "([^:]+)(?::\\d+)?;(\\d+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            },
        ],
    }
    rules = [
        {
            "apiGroups": [""],
            "resources": ["nodes", "nodes/proxy", "nodes/metrics", "services", "endpoints", "pods"],
            "verbs": _READ,
        },
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    ]
    container = {
        "name": "prometheus-server",
        "image": versions.PROMETHEUS_IMAGE,
        "args": [
            "--config.file=/etc/config/prometheus.yml",
            "--storage.tsdb.path=/data",
            "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle",
        ],
        "ports": [{"containerPort": PROMETHEUS_PORT, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PROMETHEUS_PORT}},
        "volumeMounts": [
            {"name": "config-volume", "mountPath": "/etc/config"},
            {"name": "storage-volume", "mountPath": "/data"},
        ],
    }
    pod = {
        "serviceAccountName": "prometheus",
        "containers": [container],
        "volumes": [
            {"name": "config-volume", "configMap": {"name": "prometheus"}},
            {"name": "storage-volume", "emptyDir": {}},
        ],
    }
    return [
        obj("v1", "ServiceAccount", "prometheus", namespace, labels=labels),
        _config_map("prometheus", namespace, labels, {"prometheus.yml": config}),
        *_cluster_rbac("prometheus", namespace, labels, rules),
        _service(
            PROMETHEUS_SERVICE,
            namespace,
            labels,
            labels,
            [{"name": "http", "port": PROMETHEUS_PORT}],
            node_port,
        ),
        _deployment("prometheus", namespace, labels, pod, {"sidecar.istio.io/inject": "false"}),
    ]


DATASOURCES, PROVIDERS = "datasources.yaml", "dashboardproviders.yaml"
GRAFANA_DASHBOARDS = "istio-grafana-dashboards"


def _item(key: str) -> dict:
    return {"key": key, "path": key}


def grafana(namespace: str = ISTIO_SYSTEM, node_port: bool = False) -> list[dict]:
    """Grafana with Prometheus as its default datasource and the mesh dashboard
    (istiolab.manifests.dashboards) provisioned in the folder `istio`."""
    labels = {"app": "grafana"}
    datasources = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": dashboards.PROMETHEUS_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://{PROMETHEUS_SERVICE}.{namespace}:{PROMETHEUS_PORT}",
                "isDefault": True,
                "editable": True,
            }
        ],
    }
    container = {
        "name": "grafana",
        "image": versions.GRAFANA_IMAGE,
        "ports": [{"containerPort": 3000, "name": "grafana"}],
        "env": [
            {"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "true"},
            {"name": "GF_AUTH_ANONYMOUS_ORG_ROLE", "value": "Admin"},
            {"name": "GF_AUTH_BASIC_ENABLED", "value": "false"},
            {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
            {"name": "GF_PATHS_DATA", "value": "/var/lib/grafana"},
        ],
        "readinessProbe": {"httpGet": {"path": "/api/health", "port": 3000}},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/grafana/provisioning/datasources"},
            {"name": "providers", "mountPath": "/etc/grafana/provisioning/dashboards"},
            {"name": "storage", "mountPath": "/var/lib/grafana"},
            {"name": "dashboards", "mountPath": dashboards.DASHBOARDS_PATH},
        ],
    }
    pod = {
        "serviceAccountName": "grafana",
        "securityContext": {"runAsUser": 472, "runAsGroup": 472, "fsGroup": 472},
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": "grafana", "items": [_item(DATASOURCES)]}},
            {"name": "providers", "configMap": {"name": "grafana", "items": [_item(PROVIDERS)]}},
            {"name": "storage", "emptyDir": {}},
            {"name": "dashboards", "configMap": {"name": GRAFANA_DASHBOARDS}},
        ],
    }
    dashboard = json.dumps(dashboards.mesh_dashboard(), indent=2, sort_keys=True)
    return [
        obj("v1", "ServiceAccount", "grafana", namespace, labels=labels),
        _config_map(
            "grafana",
            namespace,
            labels,
            {DATASOURCES: datasources, PROVIDERS: dashboards.dashboard_providers()},
        ),
        _config_map(GRAFANA_DASHBOARDS, namespace, labels, {dashboards.DASHBOARD_FILE: dashboard}),
        _service(
            "grafana",
            namespace,
            labels,
            labels,
            [{"name": "service", "port": 3000}],
            node_port,
        ),
        _deployment("grafana", namespace, labels, pod, {"sidecar.istio.io/inject": "false"}),
    ]


def kiali(
    namespace: str = ISTIO_SYSTEM,
    node_port: bool = False,
    *,
    grafana: bool = True,
    tracing: bool = True,
) -> list[dict]:
    """Kiali, view-only; `grafana` / `tracing`: whether those addons are deployed next to it
    (Kiali reports an unreachable Grafana or Jaeger as an error on every page)."""
    selector = {"app.kubernetes.io/name": "kiali", "app.kubernetes.io/instance": "kiali"}
    labels = {"app": "kiali", **selector}
    config = {
        "istio_namespace": namespace,
        "auth": {"strategy": "anonymous"},
        "deployment": {"cluster_wide_access": True, "view_only_mode": True},
        "server": {
            "port": 20001,
            "web_root": "/kiali",
            "observability": {"metrics": {"enabled": True, "port": 9090}},
        },
        "external_services": {
            "prometheus": {"url": f"http://{PROMETHEUS_SERVICE}.{namespace}:{PROMETHEUS_PORT}"},
            "grafana": (
                {"enabled": True, "internal_url": f"http://grafana.{namespace}:3000"}
                if grafana
                else {"enabled": False}
            ),
            "tracing": (
                {
                    "enabled": True,
                    "internal_url": f"http://tracing.{namespace}:16685/jaeger",
                    "use_grpc": True,
                }
                if tracing
                else {"enabled": False}
            ),
        },
    }
    rules = [
        {
            "apiGroups": [""],
            "resources": [
                "configmaps",
                "endpoints",
                "namespaces",
                "nodes",
                "pods",
                "pods/log",
                "pods/proxy",
                "replicationcontrollers",
                "services",
            ],
            "verbs": _READ,
        },
        {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create", "post"]},
        {
            "apiGroups": ["apps"],
            "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"],
            "verbs": _READ,
        },
        {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": _READ},
        {  # the injection webhooks tell Kiali which namespaces get sidecars
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations"],
            "verbs": _READ,
        },
        {
            "apiGroups": [
                "networking.istio.io",
                "security.istio.io",
                "extensions.istio.io",
                "telemetry.istio.io",
                "gateway.networking.k8s.io",
            ],
            "resources": ["*"],
            "verbs": _READ,
        },
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews"],
            "verbs": ["create"],
        },
    ]
    container = {
        "name": "kiali",
        "image": versions.KIALI_IMAGE,
        "command": ["/opt/kiali/kiali", "-config", "/kiali-configuration/config.yaml"],
        "ports": [
            {"containerPort": 20001, "name": "api-port"},
            {"containerPort": 9090, "name": "http-metrics"},
        ],
        "env": [
            {
                "name": "ACTIVE_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "readinessProbe": {"httpGet": {"path": "/kiali/healthz", "port": "api-port"}},
        "volumeMounts": [{"name": "kiali-configuration", "mountPath": "/kiali-configuration"}],
    }
    pod = {
        "serviceAccountName": "kiali",
        "containers": [container],
        "volumes": [{"name": "kiali-configuration", "configMap": {"name": "kiali"}}],
    }
    return [
        obj("v1", "ServiceAccount", "kiali", namespace, labels=labels),
        _config_map("kiali", namespace, labels, {"config.yaml": config}),
        *_cluster_rbac("kiali", namespace, labels, rules),
        _service(
            "kiali",
            namespace,
            labels,
            selector,
            [
                {"name": "http", "port": 20001},
                {"name": "http-metrics", "port": 9090},
            ],
            node_port,
        ),
        _deployment("kiali", namespace, labels, pod, {"sidecar.istio.io/inject": "false"}),
    ]


def _jaeger_config() -> dict:
    """Jaeger 2 (an OpenTelemetry collector): OTLP and Zipkin in, in-memory storage, the UI
    and query API under /jaeger, health on 13133."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp", "zipkin"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": "0.0.0.0:13133"}},
            "jaeger_query": {"base_path": "/jaeger", "storage": {"traces": "memory"}},
            "jaeger_storage": {"backends": {"memory": {"memory": {"max_traces": 50000}}}},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "0.0.0.0:4317"},
                    "http": {"endpoint": "0.0.0.0:4318"},
                }
            },
            "zipkin": {"endpoint": "0.0.0.0:9411"},
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory"}},
    }


def jaeger(namespace: str = ISTIO_SYSTEM, node_port: bool = False) -> list[dict]:
    labels = {"app": "jaeger"}
    container = {
        "name": "jaeger",
        "image": versions.JAEGER_IMAGE,
        "args": ["--config", "/jaeger-configuration/config.yaml"],
        "ports": [
            {"containerPort": 16686, "name": "http-query"},
            {"containerPort": 16685, "name": "grpc-query"},
            {"containerPort": 9411, "name": "http-zipkin"},
            {"containerPort": 4317, "name": "grpc-otel"},
            {"containerPort": 4318, "name": "http-otel"},
        ],
        "readinessProbe": {"httpGet": {"path": "/status", "port": 13133}},
        "resources": {"requests": {"cpu": "10m"}},
        "volumeMounts": [{"name": "jaeger-configuration", "mountPath": "/jaeger-configuration"}],
    }
    pod = {
        "containers": [container],
        "volumes": [{"name": "jaeger-configuration", "configMap": {"name": "jaeger"}}],
    }
    return [
        _config_map("jaeger", namespace, labels, {"config.yaml": _jaeger_config()}),
        _deployment("jaeger", namespace, labels, pod, {"sidecar.istio.io/inject": "false"}),
        _service(
            TRACING_SERVICE,
            namespace,
            labels,
            labels,
            [
                {"name": "http-query", "port": TRACING_PORT, "targetPort": 16686},
                {"name": "grpc-query", "port": 16685},
            ],
            node_port,
        ),
        _service(
            ZIPKIN_SERVICE,
            namespace,
            {"name": ZIPKIN_SERVICE},
            labels,
            [{"name": "http-query", "port": ZIPKIN_PORT}],
            False,
        ),
        _service(
            "jaeger-collector",
            namespace,
            labels,
            labels,
            [
                {"name": "http-zipkin", "port": 9411},
                {"name": "grpc-otel", "port": 4317},
                {"name": "http-otel", "port": 4318},
            ],
            False,
        ),
    ]


_BUILDERS = {"prometheus": prometheus, "grafana": grafana, "kiali": kiali, "jaeger": jaeger}
