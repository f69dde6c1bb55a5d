"""Telemetry on every proxy (pure): the gRPC access-log service, Envoy's Zipkin tracer and
the Telemetry API (``telemetry.istio.io/v1``).

Upstream Envoy has no Istio stats filter, so each HTTP connection manager and TCP proxy
streams one access-log entry per request / connection to the control plane
(``envoy.access_loggers.http_grpc`` / ``tcp_grpc`` over the bootstrap's ``xds-grpc``
cluster, so the entries follow wherever ADS goes); the control plane turns them into
Istio's standard metrics (:mod:`istiolab.local.telemetry`). The log name says which side
reports: ``inbound`` (reporter ``destination``) or ``outbound`` (reporter ``source``).

Tracing: Envoy's Zipkin tracer (HTTP JSON, 128-bit trace ids) on every HCM, spans to the
cluster ``zipkin`` (``zipkin.istio-system:9411``'s local equivalent on the istiod IP).
Sampling: a Telemetry resource's ``tracing[].randomSamplingPercentage`` (workload selector
> namespace > root namespace ``istio-system``), else the mesh config's
``defaultConfig.tracing.sampling``, else Istio's default 1 %. ``disableSpanReporting: true``
(or the mesh config's ``enableTracing: false`` when no Telemetry sets a percentage) turns
the tracer off.

Access logging: Telemetry ``accessLogging[].disabled: true`` removes the file access log of
the proxies it selects; ``accessLogging`` with a provider on a mesh whose access log file is
off turns the default (``/dev/stdout``) on for them. Metric overrides
(``metrics[].overrides[].tagOverrides``) are applied by the control plane when it builds
a proxy's series (:func:`metric_overrides` gives them per proxy); an override disabling
every metric for both reporters drops the access-log stream itself (:func:`metrics_disabled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from istiolab.local.model import ISTIO_SYSTEM
from istiolab.local.translate.common import labels_match, meta, socket_address
from istiolab.local.translate.context import Context
from istiolab.local.translate.listeners import access_log
from istiolab.names import ZIPKIN_PORT

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
FILE_LOG = "envoy.access_loggers.file"
HTTP_GRPC_LOG = (
    "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig"
)
TCP_GRPC_LOG = "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig"
ZIPKIN_TYPE = "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ALS_CLUSTER = "xds-grpc"  # the bootstrap's control-plane cluster
ZIPKIN_CLUSTER = "zipkin"
ZIPKIN_PATH = "/api/v2/spans"
DEFAULT_SAMPLING = 1.0  # Istio's default (meshConfig.defaultConfig.tracing.sampling)
FLUSH_INTERVAL = "0.25s"  # how long an entry may wait in Envoy's buffer


def als_logger(direction: str, tcp: bool) -> dict:
    """The gRPC access logger of one HCM or TCP proxy (``direction``: inbound/outbound)."""
    common = {
        "log_name": direction,
        "transport_api_version": "V3",
        "grpc_service": {"envoy_grpc": {"cluster_name": ALS_CLUSTER}},
        "buffer_flush_interval": FLUSH_INTERVAL,
    }
    config: dict = {"@type": TCP_GRPC_LOG if tcp else HTTP_GRPC_LOG, "common_config": common}
    if not tcp:
        config["additional_request_headers_to_log"] = ["x-request-id"]
    return {
        "name": "envoy.access_loggers.tcp_grpc" if tcp else "envoy.access_loggers.http_grpc",
        "typed_config": config,
    }


def zipkin_cluster(istiod_ip: str) -> dict:
    return {
        "@type": CLUSTER_TYPE,
        "name": ZIPKIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": ZIPKIN_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": socket_address(istiod_ip, ZIPKIN_PORT)}}
                    ]
                }
            ],
        },
    }


def tracing(percentage: float) -> dict:
    return {
        "random_sampling": {"value": percentage},
        "provider": {
            "name": "envoy.tracers.zipkin",
            "typed_config": {
                "@type": ZIPKIN_TYPE,
                "collector_cluster": ZIPKIN_CLUSTER,
                "collector_endpoint": ZIPKIN_PATH,
                "collector_endpoint_version": "HTTP_JSON",
                "trace_id_128bit": True,
                "shared_span_context": False,
            },
        },
    }


def telemetry_for(ctx: Context) -> list[Mapping]:
    """The Telemetry resources that apply to this proxy, most specific first: the
    workload's (selector matches), its namespace's (no selector), the root namespace's."""
    pod = ctx.proxy.pod
    found: list[tuple[int, Mapping]] = []
    for obj in ctx.index.of_kind("Telemetry"):
        _, ns = meta(obj)
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        if selector:
            if ns == pod.namespace and labels_match(selector, pod.labels):
                found.append((0, obj))
        elif ns == pod.namespace and ns != ISTIO_SYSTEM:
            found.append((1, obj))
        elif ns == ISTIO_SYSTEM:
            found.append((2, obj))
    return [obj for _, obj in sorted(found, key=lambda t: t[0])]


def _first(ctx: Context, section: str, key: str):
    """The first value of ``spec.<section>[].<key>`` in :func:`telemetry_for` order."""
    for obj in telemetry_for(ctx):
        for item in (obj.get("spec") or {}).get(section) or []:
            if isinstance(item, Mapping) and key in item:
                return item[key]
    return None


def sampling(ctx: Context) -> float | None:
    """Sampling percentage, or None when span reporting is disabled."""
    if _first(ctx, "tracing", "disableSpanReporting") is True:
        return None
    value = _first(ctx, "tracing", "randomSamplingPercentage")
    if value is None and ctx.mesh.raw.get("enableTracing") is False:
        return None  # meshConfig.enableTracing: false, and no Telemetry asks for spans
    if value is None:
        default = (ctx.mesh.raw.get("defaultConfig") or {}).get("tracing") or {}
        value = default.get("sampling", DEFAULT_SAMPLING)
    return max(0.0, min(100.0, float(value)))


def access_log_enabled(ctx: Context) -> bool | None:
    """Telemetry ``accessLogging``: False (disabled), True (providers on), None (unset)."""
    for obj in telemetry_for(ctx):
        for item in (obj.get("spec") or {}).get("accessLogging") or []:
            if isinstance(item, Mapping):
                return not item.get("disabled", False)
    return None


def metric_overrides(ctx: Context) -> list[dict]:
    """Telemetry ``metrics[].overrides`` that apply to this proxy (most specific first):
    the control plane applies them when it builds this proxy's series."""
    out: list[dict] = []
    for obj in telemetry_for(ctx):
        for item in (obj.get("spec") or {}).get("metrics") or []:
            for override in (item or {}).get("overrides") or []:
                out.append(dict(override))
    return out


def metrics_disabled(ctx: Context) -> bool:
    """Telemetry ``metrics[].overrides[]`` with ``disabled: true`` for every metric and both
    reporters (no ``match``, or ``ALL_METRICS`` / ``CLIENT_AND_SERVER``): no proxy-side
    cost at all, so the access-log stream to the control plane is left out."""
    for override in metric_overrides(ctx):
        match = override.get("match") or {}
        if (
            override.get("disabled") is True
            and match.get("metric", "ALL_METRICS") == "ALL_METRICS"
            and match.get("mode", "CLIENT_AND_SERVER") == "CLIENT_AND_SERVER"
        ):
            return True
    return False


def instrument(ctx: Context, listeners: dict[str, dict]) -> tuple[dict[str, dict], dict]:
    """``listeners`` with the ALS logger on every HCM and TCP proxy, the tracer on every
    HCM and the Telemetry API's access-log switch; plus the extra clusters (``zipkin``)."""
    percentage = sampling(ctx)
    logging = access_log_enabled(ctx)
    metrics = not metrics_disabled(ctx)
    out: dict[str, dict] = {}
    for name, listener in listeners.items():
        inbound = listener.get("traffic_direction") == "INBOUND"
        direction = "inbound" if inbound else "outbound"
        chains = []
        for chain in listener.get("filter_chains") or []:
            filters = []
            for f in chain.get("filters") or []:
                # copied along the path we change; the rest stays shared
                config = dict(f.get("typed_config") or {})
                if f.get("name") == HCM:
                    logs = _file_logs(ctx, config.get("access_log") or [], logging)
                    if metrics:
                        logs.append(als_logger(direction, tcp=False))
                    config["access_log"] = logs
                    if percentage is not None:
                        config["tracing"] = tracing(percentage)
                    f = {**f, "typed_config": config}
                elif f.get("name") == TCP_PROXY and metrics:
                    config["access_log"] = [
                        *(config.get("access_log") or []),
                        als_logger(direction, tcp=True),
                    ]
                    config["access_log_options"] = {"flush_access_log_on_connected": True}
                    f = {**f, "typed_config": config}
                filters.append(f)
            chains.append({**chain, "filters": filters})
        out[name] = {**listener, "filter_chains": chains}
    clusters = {ZIPKIN_CLUSTER: zipkin_cluster(ctx.settings.istiod_ip)}
    return out, clusters


def _file_logs(ctx: Context, logs: list[dict], enabled: bool | None) -> list[dict]:
    """An HCM's access logs after the Telemetry API's switch: off drops the file logs,
    on adds Istio's default one (stdout) where the mesh config has none."""
    files = [log for log in logs if log.get("name") == FILE_LOG]
    if enabled is False:
        return [log for log in logs if log.get("name") != FILE_LOG]
    if enabled and not files:
        return [*logs, *access_log(replace(ctx.mesh, access_log_file="/dev/stdout"))]
    return list(logs)
