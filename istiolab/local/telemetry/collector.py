"""The control plane's telemetry: metrics from the proxies' access logs, spans from their
tracers, and the endpoints that serve both (one object the mesh owns).

:meth:`Telemetry.update` is called on every reconcile with the mesh's registry, proxies
and config; it (re)opens each proxy's ``<ip>:15020`` endpoint and closes those of proxies
that are gone. The ALS servicer is added to the xDS gRPC server (:meth:`register`), so the
proxies reach it over their ``xds-grpc`` cluster wherever that listens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from istiolab.local.model import MeshSettings, Proxy, Registry
from istiolab.local.telemetry.als import AccessLogServer
from istiolab.local.telemetry.attributes import Entry, Peers
from istiolab.local.telemetry.endpoints import (
    METRICS_PATH,
    METRICS_PORT,
    Endpoints,
    envoy_stats,
    json_reply,
    prometheus_reply,
)
from istiolab.local.telemetry.metrics import MetricStore, expand
from istiolab.local.telemetry.spans import SpanStore, read_spans, spans_path
from istiolab.names import ZIPKIN_PORT

log = logging.getLogger(__name__)
SNAPSHOT_EVERY = 10.0  # seconds between the counter snapshots the graph's rates use
SNAPSHOTS = 60  # kept: 10 minutes


class _Families:
    def __init__(self, collect: Callable[[], list]) -> None:
        self.collect = collect


def exposition(families: Callable[[], list]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))  # type: ignore[arg-type]
    return generate_latest(registry)


class Telemetry:
    def __init__(self, state_root: Path, settings: MeshSettings) -> None:
        self.settings = settings
        self.metrics = MetricStore()
        self.spans = SpanStore(spans_path(state_root))
        self.endpoints = Endpoints()
        self._lock = threading.Lock()
        self._peers = Peers(Registry(), {})
        self._overrides: dict[str, list[dict]] = {}
        self._node_by_ip: dict[str, str] = {}  # a pod's IP -> its proxy's node id, now
        self.als = AccessLogServer(self.observe)
        self.started = time.monotonic()
        self._history: deque[tuple[float, list]] = deque(maxlen=SNAPSHOTS)
        self._stopped = threading.Event()

    # lifecycle
    def register(self, grpc_server) -> None:
        self.als.register(grpc_server)

    def start(self) -> None:
        ip = self.settings.istiod_ip
        self.endpoints.serve(ip, METRICS_PORT, self._mesh_get)
        self.endpoints.serve(ip, ZIPKIN_PORT, self._zipkin_get, self._zipkin_post)
        self._history.append((time.monotonic(), []))
        threading.Thread(target=self._snapshots, name="telemetry-snapshots", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self.endpoints.close_all()

    def _snapshots(self) -> None:
        while not self._stopped.wait(SNAPSHOT_EVERY):
            self._history.append((time.monotonic(), self.metrics.snapshot()))

    def window(self, seconds: float) -> dict:
        """The samples now and about ``seconds`` ago (the oldest snapshot inside the
        window; the mesh's start when it is younger), for rates: ``{now, then, seconds}``."""
        now = time.monotonic()
        current = self.metrics.snapshot()
        then_t, then = now, current
        for t, raw in list(self._history):
            if now - t <= seconds:
                then_t, then = t, raw
                break
        return {"now": expand(current), "then": expand(then), "seconds": round(now - then_t, 3)}

    def update(
        self,
        registry: Registry,
        proxies: Mapping[str, Proxy],
        overrides: Mapping[str, list[dict]],
        mtls: Callable[[str, str], bool],
    ) -> None:
        peers = Peers(registry, dict(proxies), mtls)
        wanted = {p.pod.ip: node for node, p in proxies.items()}
        with self._lock:
            self._peers = peers
            self._overrides = dict(overrides)
            self._node_by_ip = wanted  # a replaced pod may keep its IP under a new node id
        for ip, port in self.endpoints.addresses():
            if port == METRICS_PORT and ip != self.settings.istiod_ip and ip not in wanted:
                self.endpoints.close(ip, port)
        for ip in wanted:
            try:
                self.endpoints.serve(ip, METRICS_PORT, self._proxy_get(ip))
            except OSError as exc:  # the pod's port is taken: the mesh-wide endpoint remains
                log.warning("cannot serve %s:%s: %s", ip, METRICS_PORT, exc)
        self.metrics.forget(proxies)

    # the ALS sink
    def observe(self, entry: Entry) -> None:
        with self._lock:
            peers, overrides = self._peers, self._overrides.get(entry.node_id, [])
        found = peers.labels(entry)
        if found is not None:
            self.metrics.observe(entry, found[0], overrides, key=found[1])

    # endpoints
    def _proxy_get(self, ip: str):
        def get(path: str):
            node = self._node_by_ip.get(ip)
            if path.split("?")[0] != METRICS_PATH or node is None:
                return None
            body = exposition(lambda: self.metrics.collect([node]))
            return prometheus_reply(body + envoy_stats(ip))

        return get

    def _mesh_get(self, path: str):
        if path.split("?")[0] != METRICS_PATH:
            return None
        return prometheus_reply(exposition(lambda: self.metrics.collect()))

    def _zipkin_post(self, path: str, body: bytes) -> int | None:
        if path.split("?")[0] != "/api/v2/spans":
            return None
        try:
            spans = json.loads(body or b"[]")
        except ValueError:
            return 400
        self.spans.add(spans if isinstance(spans, list) else [])
        return 202

    def _zipkin_get(self, path: str):
        """Zipkin's read API, as its UI and clients use it: ``/api/v2/services`` and
        ``/api/v2/traces`` (each trace a list of its spans; ``serviceName``, ``limit``)."""
        url = urlsplit(path)
        query = dict(parse_qsl(url.query))
        spans = read_spans(self.spans.path)
        if url.path == "/api/v2/services":
            names = {(s.get("localEndpoint") or {}).get("serviceName") for s in spans}
            return json_reply(sorted(n for n in names if n))
        if url.path != "/api/v2/traces":
            return None
        by_trace: dict[str, list[dict]] = {}
        for span in spans:
            by_trace.setdefault(str(span.get("traceId")), []).append(span)
        wanted = query.get("serviceName")
        traces = [
            group
            for group in by_trace.values()
            if not wanted
            or any((s.get("localEndpoint") or {}).get("serviceName") == wanted for s in group)
        ]
        traces.sort(key=lambda g: min(int(s.get("timestamp") or 0) for s in g), reverse=True)
        return json_reply(traces[: int(query.get("limit") or 10)])
