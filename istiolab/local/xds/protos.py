"""Envoy JSON dicts -> protobuf ``Any`` (xds-protos), and back.

Importing this module registers every message type the translation may reference, so
``"@type"`` fields inside resources (filters, access loggers, retry predicates, TLS...)
resolve when parsed.
"""

from __future__ import annotations

from collections.abc import Mapping

# Registered for their side effect: the descriptor pool must know every "@type" we emit.
import envoy.config.cluster.v3.cluster_pb2
import envoy.config.endpoint.v3.endpoint_pb2
import envoy.config.listener.v3.listener_pb2
import envoy.config.route.v3.route_pb2
import envoy.config.trace.v3.zipkin_pb2
import envoy.extensions.access_loggers.file.v3.file_pb2
import envoy.extensions.access_loggers.grpc.v3.als_pb2
import envoy.extensions.access_loggers.stream.v3.stream_pb2
import envoy.extensions.clusters.dynamic_forward_proxy.v3.cluster_pb2
import envoy.extensions.filters.http.cors.v3.cors_pb2
import envoy.extensions.filters.http.dynamic_forward_proxy.v3.dynamic_forward_proxy_pb2
import envoy.extensions.filters.http.fault.v3.fault_pb2
import envoy.extensions.filters.http.jwt_authn.v3.config_pb2
import envoy.extensions.filters.http.rbac.v3.rbac_pb2
import envoy.extensions.filters.http.router.v3.router_pb2
import envoy.extensions.filters.listener.tls_inspector.v3.tls_inspector_pb2
import envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2
import envoy.extensions.filters.network.rbac.v3.rbac_pb2
import envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2
import envoy.extensions.retry.host.previous_hosts.v3.previous_hosts_pb2
import envoy.extensions.retry.priority.previous_priorities.v3.previous_priorities_config_pb2
import envoy.extensions.transport_sockets.tls.v3.cert_pb2
import envoy.extensions.transport_sockets.tls.v3.tls_pb2
import envoy.extensions.upstreams.http.v3.http_protocol_options_pb2  # noqa: F401
from google.protobuf import any_pb2, json_format

from istiolab.errors import MeshError


def to_any(resource: Mapping) -> any_pb2.Any:
    """Parse one resource dict (with its top-level ``"@type"``) into an ``Any``.

    Raises MeshError naming the resource when the dict is not valid Envoy v3 config.
    """
    try:
        return json_format.ParseDict(dict(resource), any_pb2.Any())
    except json_format.ParseError as exc:
        name = resource.get("name") or resource.get("cluster_name") or "?"
        raise MeshError(f"resource {name!r} ({resource.get('@type')}) is not valid: {exc}") from exc


def to_dict(message: any_pb2.Any) -> dict:
    """The inverse of :func:`to_any` (proto field names, as the translation writes them)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
