"""The telemetry HTTP endpoints the control plane serves on loopback.

- ``<pod ip>:15020/stats/prometheus`` for every proxy (the gateway too): Istio's merged
  metrics endpoint: the proxy's ``istio_*`` series, then its Envoy stats (fetched from
  its own ``:15090``). Istio's agent serves this port inside the pod; here the control
  plane binds it on the pod's IP, which Prometheus scrapes exactly as on a cluster.
- ``<istiod ip>:15020/stats/prometheus``: the whole mesh's ``istio_*`` series.
- ``<istiod ip>:9411``: Zipkin's collector (``POST /api/v2/spans``, as
  ``zipkin.istio-system:9411``) and its read API (``GET /api/v2/services``,
  ``/api/v2/traces?serviceName=&limit=``) over the stored spans.

Loopback TCP, as Prometheus and Envoy's tracer need: metrics and spans are readable by
local users (the residual limit `status` and the README name).
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_PORT = 15020
METRICS_PATH = "/stats/prometheus"

Get = Callable[[str], tuple[int, str, bytes] | None]  # path -> (status, type, body)
Post = Callable[[str, bytes], int | None]  # path, body -> status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    get: Get
    post: Post | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        found = self.server.get(self.path)
        self._reply(*(found or (404, "text/plain", b"not found\n")))

    def _body(self) -> bytes:
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while True:  # Envoy's tracer posts chunked bodies
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def do_POST(self) -> None:
        body = self._body()
        status = self.server.post(self.path, body) if self.server.post else None
        self._reply(status or 404, "text/plain", b"")


class Endpoints:
    """HTTP servers by (ip, port); :meth:`serve` starts one, :meth:`close` stops one."""

    def __init__(self) -> None:
        self._servers: dict[tuple[str, int], tuple[_Server, threading.Thread]] = {}
        self._lock = threading.Lock()

    def serve(self, ip: str, port: int, get: Get, post: Post | None = None) -> None:
        with self._lock:
            if (ip, port) in self._servers:
                return
            server = _Server((ip, port), _Handler)
            server.get, server.post = get, post
            thread = threading.Thread(
                target=server.serve_forever, name=f"telemetry-{ip}:{port}", daemon=True
            )
            thread.start()
            self._servers[(ip, port)] = (server, thread)

    def addresses(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._servers)

    def close(self, ip: str, port: int) -> None:
        with self._lock:
            found = self._servers.pop((ip, port), None)
        if found is not None:
            server, thread = found
            server.shutdown()
            server.server_close()
            thread.join(2)

    def close_all(self) -> None:
        for ip, port in self.addresses():
            self.close(ip, port)


def envoy_stats(ip: str, port: int = 15090, timeout: float = 2.0) -> bytes:
    """The proxy's own Envoy stats in Prometheus text ("" when it does not answer)."""
    with contextlib.suppress(OSError, ValueError):
        url = f"http://{ip}:{port}{METRICS_PATH}"
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    return b""


def prometheus_reply(body: bytes) -> tuple[int, str, bytes]:
    return 200, CONTENT_TYPE_LATEST, body


def json_reply(data) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(data).encode()


__all__ = ["METRICS_PATH", "METRICS_PORT", "Endpoints", "envoy_stats"]
