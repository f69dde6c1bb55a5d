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

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from istiolab.local.model import MeshSettings, Proxy, Registry
from istiolab.local.telemetry.als import AccessLogServer
from istiolab.local.telemetry.attributes import Entry, Peers, labels_for
from istiolab.local.telemetry.endpoints import (
    METRICS_PATH,
    METRICS_PORT,
    Endpoints,
    envoy_stats,
    json_reply,
    prometheus_reply,
)
from istiolab.local.telemetry.metrics import MetricStore
from istiolab.local.telemetry.spans import SpanStore, read_spans, spans_path
from istiolab.local.telemetry.traces import build_traces

log = logging.getLogger(__name__)
ZIPKIN_PORT = 9411
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
            self._history.append((time.monotonic(), self.metrics.samples()))

    def window(self, seconds: float) -> dict:
        """The samples now and about ``seconds`` ago (the oldest snapshot inside the
        window; the mesh's start when it is younger), for rates: ``{now, then, seconds}``."""
        now = time.monotonic()
        then_t, then = now, self.metrics.samples()
        for t, samples in list(self._history):
            if now - t <= seconds:
                then_t, then = t, samples
                break
        return {"now": self.metrics.samples(), "then": then, "seconds": round(now - then_t, 3)}

    def update(
        self,
        registry: Registry,
        proxies: Mapping[str, Proxy],
        overrides: Mapping[str, list[dict]],
        mtls: Callable[[str, str], bool],
    ) -> None:
        peers = Peers(registry, dict(proxies), mtls)
        with self._lock:
            self._peers = peers
            self._overrides = dict(overrides)
        wanted = {p.pod.ip: node for node, p in proxies.items()}
        for ip, port in self.endpoints.addresses():
            if port == METRICS_PORT and ip != self.settings.istiod_ip and ip not in wanted:
                self.endpoints.close(ip, port)
        for ip, node in wanted.items():
            try:
                self.endpoints.serve(ip, METRICS_PORT, self._proxy_get(ip, node))
            except OSError as exc:  # the pod's port is taken: the mesh-wide endpoint remains
                log.warning("cannot serve %s:%s: %s", ip, METRICS_PORT, exc)
        self.metrics.forget(proxies)

    # the ALS sink
    def observe(self, entry: Entry) -> None:
        with self._lock:
            peers, overrides = self._peers, self._overrides.get(entry.node_id, [])
        labels = labels_for(entry, peers)
        if labels is not None:
            self.metrics.observe(entry, labels, overrides)

    # endpoints
    def _proxy_get(self, ip: str, node: str):
        def get(path: str):
            if path.split("?")[0] != METRICS_PATH:
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
        if path.split("?")[0] != "/api/v2/traces":
            return None
        return json_reply([t.to_dict() for t in build_traces(read_spans(self.spans.path))])
