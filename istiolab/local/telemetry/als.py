"""Envoy's gRPC access-log service (``envoy.service.accesslog.v3``) on the control plane.

Every proxy streams one entry per HTTP request and two per TCP connection (connected,
closed) over the ``xds-grpc`` cluster (see :mod:`istiolab.local.translate.telemetry`); the
stream's first message names the proxy (node id) and the logger (``inbound`` /
``outbound``). Each entry becomes an :class:`~.attributes.Entry` handed to ``sink``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from envoy.config.core.v3 import base_pb2
from envoy.data.accesslog.v3 import accesslog_pb2
from envoy.service.accesslog.v3 import als_pb2, als_pb2_grpc

from istiolab.local.telemetry.attributes import Entry

log = logging.getLogger(__name__)

# Envoy's short response flags (as %RESPONSE_FLAGS% prints them), by ALS field
FLAGS = {
    "failed_local_healthcheck": "LH",
    "no_healthy_upstream": "UH",
    "upstream_request_timeout": "UT",
    "local_reset": "LR",
    "upstream_remote_reset": "UR",
    "upstream_connection_failure": "UF",
    "upstream_connection_termination": "UC",
    "upstream_overflow": "UO",
    "no_route_found": "NR",
    "delay_injected": "DI",
    "fault_injected": "FI",
    "rate_limited": "RL",
    "rate_limit_service_error": "RLSE",
    "downstream_connection_termination": "DC",
    "upstream_retry_limit_exceeded": "URX",
    "stream_idle_timeout": "SI",
    "invalid_envoy_request_headers": "IH",
    "downstream_protocol_error": "DPE",
    "upstream_max_stream_duration_reached": "UMSDR",
    "response_from_cache_filter": "RFCF",
    "no_filter_config_found": "NFCF",
    "duration_timeout": "DT",
    "upstream_protocol_error": "UPE",
    "no_cluster_found": "NC",
    "overload_manager": "OM",
    "dns_resolution_failure": "DF",
    "downstream_remote_reset": "DR",
}
CONNECTED = accesslog_pb2.AccessLogType.Value("TcpUpstreamConnected")
PERIODIC = accesslog_pb2.AccessLogType.Value("TcpPeriodic")


def _ms(duration) -> float:
    return duration.seconds * 1000.0 + duration.nanos / 1e6


def _flags(flags) -> tuple[str, ...]:
    out = [code for field, code in FLAGS.items() if getattr(flags, field, False)]
    if flags.HasField("unauthorized_details"):
        out.append("UAEX")
    return tuple(out)


def _common(node_id: str, direction: str, c, **extra) -> dict:
    peer = c.tls_properties.peer_certificate_properties
    uris = [san.uri for san in peer.subject_alt_name if san.uri]
    return dict(
        node_id=node_id,
        direction=direction,
        # the TCP peer (downstream_remote_address follows X-Forwarded-For)
        downstream_ip=(
            c.downstream_direct_remote_address.socket_address.address
            or c.downstream_remote_address.socket_address.address
        ),
        downstream_port=c.downstream_local_address.socket_address.port_value,
        upstream_ip=c.upstream_remote_address.socket_address.address,
        upstream_cluster=c.upstream_cluster,
        flags=_flags(c.response_flags),
        peer_uri=uris[0] if uris else "",
        **extra,
    )


def http_entry(node_id: str, direction: str, e) -> Entry:
    c, req, resp = e.common_properties, e.request, e.response
    duration = c.duration if c.HasField("duration") else c.time_to_last_downstream_tx_byte
    grpc = "application/grpc" in req.request_headers.get("content-type", "")
    return Entry(
        **_common(node_id, direction, c),
        authority=req.authority,
        method=base_pb2.RequestMethod.Name(req.request_method) if req.request_method else "",
        path=req.original_path or req.path,
        response_code=resp.response_code.value,
        duration_ms=_ms(duration),
        request_bytes=req.request_headers_bytes + req.request_body_bytes,
        response_bytes=resp.response_headers_bytes + resp.response_body_bytes,
        protocol="grpc" if grpc else "http",
    )


def tcp_entry(node_id: str, direction: str, e) -> Entry | None:
    c = e.common_properties
    if c.access_log_type == PERIODIC:
        return None
    return Entry(
        **_common(node_id, direction, c),
        tcp=True,
        connected=c.access_log_type == CONNECTED,
        request_bytes=e.connection_properties.received_bytes,
        response_bytes=e.connection_properties.sent_bytes,
    )


class AccessLogServer(als_pb2_grpc.AccessLogServiceServicer):
    """The ALS servicer: add it to a gRPC server with :meth:`register`."""

    def __init__(self, sink: Callable[[Entry], None]) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self.streams = 0  # open streams (each holds one gRPC worker thread)

    def register(self, server) -> None:
        als_pb2_grpc.add_AccessLogServiceServicer_to_server(self, server)

    def StreamAccessLogs(self, request_iterator, context):
        with self._lock:
            self.streams += 1
        try:
            self._read(request_iterator)
        finally:
            with self._lock:
                self.streams -= 1
        return als_pb2.StreamAccessLogsResponse()

    def _read(self, request_iterator) -> None:
        node_id, direction = "", ""
        for message in request_iterator:
            if message.HasField("identifier"):
                node_id = message.identifier.node.id
                direction = message.identifier.log_name
            try:
                if message.HasField("http_logs"):
                    for e in message.http_logs.log_entry:
                        self._sink(http_entry(node_id, direction, e))
                elif message.HasField("tcp_logs"):
                    for e in message.tcp_logs.log_entry:
                        entry = tcp_entry(node_id, direction, e)
                        if entry is not None:
                            self._sink(entry)
            except Exception:  # one bad entry must not end the proxy's stream
                log.exception("access-log entry from %s dropped", node_id)
