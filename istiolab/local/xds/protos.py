"""Envoy JSON dicts -> protobuf ``Any`` (xds-protos), and back.

Importing this module registers every message type the translation may reference, so
``"@type"`` fields inside resources (filters, access loggers, retry predicates, TLS...)
resolve when parsed.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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
import envoy.extensions.filters.http.local_ratelimit.v3.local_rate_limit_pb2  # EnvoyFilter
import envoy.extensions.filters.http.lua.v3.lua_pb2  # EnvoyFilter
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


def to_any(resource: Mapping, text: str | None = None) -> any_pb2.Any:
    """Parse one resource dict (with its top-level ``"@type"``) into an ``Any``.

    ``json_format.ParseDict`` deletes ``"@type"`` from every nested ``Any`` dict while it
    parses it and puts it back afterwards, so it is never handed the caller's dicts (the
    translation shares module-level constants between resources, and encoders run on
    several threads): it parses a private copy, decoded from ``text`` (the resource's JSON
    form, when the caller has it) or from a fresh serialisation.
    Raises MeshError naming the resource when the dict is not valid Envoy v3 config.
    """
    try:
        private = json.loads(text if text is not None else json.dumps(resource))
        return json_format.ParseDict(private, any_pb2.Any())
    except json_format.ParseError as exc:
        name = resource.get("name") or resource.get("cluster_name") or "?"
        raise MeshError(f"resource {name!r} ({resource.get('@type')}) is not valid: {exc}") from exc


def to_dict(message: any_pb2.Any) -> dict:
    """The inverse of :func:`to_any` (proto field names, as the translation writes them)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class Encoder:
    """Resource -> protobuf ``Any``, memoised by content (the resource's canonical JSON
    text): the proxies of a namespace receive the same clusters, routes and endpoints, and
    the store's dry run encodes what the next push sends, so each distinct resource is
    parsed once (the parse, not the translation, dominates a large push). Least recently
    used entries go first once the texts and encodings pass `max_bytes`; thread-safe."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._cache: OrderedDict[str, tuple[any_pb2.Any, int]] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    def encode(self, text: str, resource: Mapping) -> any_pb2.Any:
        with self._lock:
            found = self._cache.get(text)
            if found is not None:
                self._cache.move_to_end(text)
                return found[0]
        message = to_any(resource, text)  # MeshError for invalid config: never cached
        size = len(text) + message.ByteSize()
        with self._lock:
            if text not in self._cache:
                self._cache[text] = (message, size)
                self._bytes += size
            while self._bytes > self._max and len(self._cache) > 1:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._bytes -= dropped
        return message

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) held."""
        with self._lock:
            return len(self._cache), self._bytes


SHARED_ENCODER = Encoder()  # the runtime's: the xDS server and the store's dry run
