"""The ADS server (gRPC, state-of-the-world), tracking ACK/NACK per proxy like istiod.

Protocol, as Envoy expects it:
- a proxy connects and sends a DiscoveryRequest per type (CDS, LDS; then EDS and RDS
  naming the clusters / route configs it needs); each response carries a ``version_info``
  (a hash of the content sent, so an unchanged type is never re-sent) and a fresh nonce;
- the proxy ACKs (same nonce, new version) or NACKs (same nonce, previous version,
  ``error_detail``); a NACKed config is not applied by Envoy, the last good one keeps
  serving; the NACK is recorded for :meth:`XdsServer.status`;
- :meth:`XdsServer.push` recomputes every connected proxy's resources and sends the
  changed types in the order CDS, EDS, LDS, RDS, SDS.

Each stream runs in one gRPC worker thread plus one reader thread.

Who may connect: the runtime serves ADS on a Unix socket (``socket_path``, mode 0600, in the
mesh owner's 0700 directory), so only the owner's processes can open a stream and receive a
workload's SDS secret; TCP (``host:port``) is for tests that run Envoy against their own
server. A node may hold several streams at once (a reconnecting Envoy, a second client):
every stream of a node receives every push, and a new stream never drops a live one; the
node's status is that of its synced stream, if any, else its newest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import replace

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from istiolab.errors import MeshError
from istiolab.local.model import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    EXTENSION_TYPE,
    ROUTE_TYPE,
    SECRET_TYPE,
    TYPE_ORDER,
    ProxyResources,
)
from istiolab.local.xds.protos import Encoder
from istiolab.local.xds.status import SHORT, ProxyStatus, TypeStatus

log = logging.getLogger(__name__)

NAMED_TYPES = (ENDPOINT_TYPE, ROUTE_TYPE, SECRET_TYPE, EXTENSION_TYPE)  # subscribed by name


def canonical(resource: dict) -> str:
    """A resource as canonical JSON: its content version and its encoding cache key."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"))


def content_version(resources: Iterable[tuple[str, dict]], texts: list[str] | None = None) -> str:
    """A hash of (name, content) pairs, whatever their order; ``texts`` are their
    :func:`canonical` forms when already computed."""
    pairs = list(resources)
    texts = texts if texts is not None else [canonical(r) for _, r in pairs]
    digest = hashlib.sha256()
    for name, text in sorted(zip((n for n, _ in pairs), texts, strict=True)):
        digest.update(f"{name}\0{text}\n".encode())
    return digest.hexdigest()[:16]


class _Stream:
    def __init__(self) -> None:
        self.node_id = ""
        self.since = time.time()
        self.events: queue.Queue = queue.Queue()
        self.resources: ProxyResources | None = None
        self.push_version = 0
        self.types: dict[str, TypeStatus] = {}
        self.nonces: dict[str, str] = {}
        self.names: dict[str, tuple[str, ...]] = {}


class XdsServer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    def __init__(
        self,
        host: str,
        port: int,
        resources_for: Callable[[str], ProxyResources | None],
        socket_path: str | None = None,
        encoder: Encoder | None = None,
        services: Iterable[Callable[[grpc.Server], None]] = (),
    ) -> None:
        """``services`` add more gRPC services to the same server (the access-log service:
        the proxies reach it over their ADS cluster)."""
        self.host, self.port = host, port
        self.socket_path = socket_path
        self._services = list(services)
        self._resources_for = resources_for
        self._streams: dict[str, list[_Stream]] = {}  # node id -> its live streams, oldest first
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._server: grpc.Server | None = None
        self._encoder = encoder if encoder is not None else Encoder()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        server = grpc.server(
            # one worker per open stream: ADS plus up to two access-log streams per proxy
            futures.ThreadPoolExecutor(max_workers=1024, thread_name_prefix="xds"),
            options=[("grpc.so_reuseport", 0), ("grpc.max_send_message_length", 64 << 20)],
        )
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(self, server)
        for add in self._services:
            add(server)
        if self.socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)  # a stale socket of a killed supervisor
        where = f"unix:{self.socket_path}" if self.socket_path else f"{self.host}:{self.port}"
        try:
            bound = server.add_insecure_port(where)
        except RuntimeError as exc:
            raise MeshError(f"xDS server cannot listen on {where}: {exc}") from exc
        if not bound:
            raise MeshError(f"xDS server cannot listen on {where} (in use?)")
        if self.socket_path:
            os.chmod(self.socket_path, 0o600)
        else:
            self.port = bound
        server.start()
        self._server = server

    @property
    def address(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else f"{self.host}:{self.port}"

    def stop(self) -> None:
        with self._lock:
            streams = [s for group in self._streams.values() for s in group]
        for s in streams:
            s.events.put(("eof", None))
        if self._server is not None:
            self._server.stop(grace=0.5).wait(5)
            self._server = None

    # -- public API ------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def push(self) -> int:
        with self._lock:
            self._version += 1
            version = self._version
            streams = [s for group in self._streams.values() for s in group]
        for s in streams:
            s.events.put(("push", version))
        return version

    def status(self) -> list[ProxyStatus]:
        with self._lock:
            out = []
            for node_id in sorted(self._streams):
                s = self._primary(node_id)
                if s is not None:
                    out.append(ProxyStatus(node_id, s.since, s.push_version, dict(s.types)))
            return out

    def streams(self, node_id: str) -> int:
        """How many live streams the node has (1 normally)."""
        with self._lock:
            return len(self._streams.get(node_id, ()))

    def _primary(self, node_id: str) -> _Stream | None:
        """The stream that speaks for a node: a synced one (the oldest), else the newest."""
        group = self._streams.get(node_id) or []
        for s in group:
            if self._stream_synced(s, self._version):
                return s
        return group[-1] if group else None

    def wait_synced(self, node_ids: Iterable[str], timeout: float) -> bool:
        """True once every given proxy processed the latest push and ACKed all it was sent;
        False at the timeout, or as soon as one of them NACKed what it was sent."""
        wanted = list(node_ids)
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._version
            while True:
                if all(self._synced(n, target) for n in wanted):
                    return True
                if any(self._nacked(n, target) for n in wanted):
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))

    def _nacked(self, node_id: str, target: int) -> bool:
        group = self._streams.get(node_id) or []
        if any(self._stream_synced(s, target) for s in group):
            return False
        s = group[-1] if group else None
        if s is None or s.push_version < target:
            return False
        return any(t.nack for t in s.types.values())

    def _synced(self, node_id: str, target: int) -> bool:
        return any(self._stream_synced(s, target) for s in self._streams.get(node_id) or [])

    @staticmethod
    def _stream_synced(s: _Stream, target: int) -> bool:
        if s.push_version < target:
            return False
        return ProxyStatus(s.node_id, s.since, s.push_version, dict(s.types)).synced

    # -- the stream ------------------------------------------------------------------
    def StreamAggregatedResources(self, request_iterator, context):
        stream = _Stream()
        context.add_callback(lambda: stream.events.put(("eof", None)))

        def read() -> None:
            try:
                for request in request_iterator:
                    stream.events.put(("request", request))
            except Exception:  # the peer went away: the stream ends
                pass
            finally:
                stream.events.put(("eof", None))

        threading.Thread(target=read, name="xds-reader", daemon=True).start()
        try:
            while True:
                kind, item = stream.events.get()
                if kind == "eof":
                    return
                if kind == "request":
                    responses = self._on_request(stream, item)
                else:
                    responses = self._on_push(stream, item)
                yield from responses
        finally:
            with self._changed:
                group = self._streams.get(stream.node_id)
                if group is not None and stream in group:
                    group.remove(stream)  # only this stream: the node's others live on
                    if not group:
                        del self._streams[stream.node_id]
                self._changed.notify_all()

    def _compute(self, stream: _Stream) -> None:
        try:
            stream.resources = self._resources_for(stream.node_id)
        except Exception:  # a translation bug must not kill the stream; keep the last good
            log.exception("computing resources for %s failed", stream.node_id)

    def _on_request(self, stream: _Stream, req) -> list:
        with self._changed:
            if not stream.node_id:
                stream.node_id = req.node.id
                stream.push_version = self._version
                self._streams.setdefault(stream.node_id, []).append(stream)
                new = True
            else:
                new = False
        if new:
            self._compute(stream)
        t = req.type_url
        status = stream.types.get(SHORT.get(t, t), TypeStatus())
        nonce = stream.nonces.get(t, "")
        if req.response_nonce and req.response_nonce != nonce:
            return []  # a reply to an older response; a newer one is in flight
        if req.HasField("error_detail") and (req.error_detail.code or req.error_detail.message):
            self._set(stream, t, replace(status, nack=req.error_detail.message or "NACK"))
            log.warning("%s NACKed %s: %s", stream.node_id, SHORT.get(t), req.error_detail.message)
            return []
        if req.response_nonce:
            status = replace(status, acked_version=req.version_info, nack="", last_ack=time.time())
            self._set(stream, t, status)
        names = tuple(sorted(req.resource_names))
        if t in NAMED_TYPES and not names and stream.names.get(t):
            # Envoy unsubscribed from every resource of the type (e.g. the gateway lost its
            # listeners): it ignores responses for an unwatched type, so none is sent and
            # the type no longer counts for this proxy's sync state
            del stream.names[t]  # its nonce stays: a later subscription answers to it
            with self._changed:
                stream.types.pop(SHORT.get(t, t), None)
                self._changed.notify_all()
            return []
        changed = names != stream.names.get(t)
        stream.names[t] = names
        if changed and not names and t in NAMED_TYPES and t != SECRET_TYPE:
            # unsubscribed from every name (a gateway losing its last listener drops its ECDS
            # names one by one): nothing is left to be in sync, so nothing is pending
            self._set(stream, t, TypeStatus())
            return []
        if not req.response_nonce or changed:
            response = self._response(stream, t, force=True)
            return [response] if response is not None else []
        return []

    def _on_push(self, stream: _Stream, version: int) -> list:
        if not stream.node_id:
            return []
        self._compute(stream)
        out = []
        for t in TYPE_ORDER:
            if t in NAMED_TYPES and t != SECRET_TYPE and not stream.names.get(t):
                continue  # nothing subscribed (a gateway with no listeners): Envoy would not ACK
            if t in stream.names:
                # a changed EDS cluster is re-created by Envoy and warms until it gets its
                # endpoints again: after a CDS push, EDS is re-sent even if unchanged (istiod)
                cds_sent = any(r.type_url == CLUSTER_TYPE for r in out)
                response = self._response(stream, t, force=t == ENDPOINT_TYPE and cds_sent)
                if response is not None:
                    out.append(response)
        with self._changed:
            stream.push_version = max(stream.push_version, version)
            self._changed.notify_all()
        return out

    def _response(self, stream: _Stream, t: str, *, force: bool):
        if stream.resources is None:
            return None
        table = stream.resources.by_type().get(t, {})
        names = stream.names.get(t, ())
        if t in NAMED_TYPES and names:
            items = [(n, table[n]) for n in names if n in table]
        elif t in NAMED_TYPES and t != SECRET_TYPE:
            # nothing requested by name (yet, or any more: a gateway whose last listener went
            # unsubscribes from ECDS/RDS): Envoy would never ACK an answer, leaving it STALE
            return None
        else:
            items = sorted(table.items())
        texts = [canonical(r) for _, r in items]
        version = content_version(items, texts)
        status = stream.types.get(SHORT.get(t, t), TypeStatus())
        if not force and version == status.sent_version:
            return None
        try:
            encoded = [self._encoder.encode(x, r) for x, (_, r) in zip(texts, items, strict=True)]
        except MeshError as exc:
            self._set(stream, t, replace(status, error=str(exc)))
            log.error("not sending %s to %s: %s", SHORT.get(t), stream.node_id, exc)
            return None
        nonce = uuid.uuid4().hex[:12]
        stream.nonces[t] = nonce
        self._set(
            stream,
            t,
            replace(
                status,
                sent_version=version,
                sent_at=time.time(),
                resources=len(items),
                error="",
                nack="" if status.sent_version != version else status.nack,
            ),
        )
        return discovery_pb2.DiscoveryResponse(
            version_info=version, type_url=t, nonce=nonce, resources=encoded
        )

    def _set(self, stream: _Stream, t: str, status: TypeStatus) -> None:
        with self._changed:
            stream.types[SHORT.get(t, t)] = status
            self._changed.notify_all()
