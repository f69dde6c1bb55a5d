"""A small threaded HTTP/1.1 server for the sample apps (stdlib only, fast to start).

Keep-alive is on (Envoy reuses upstream connections), one thread per connection (long
delayed requests do not block others), each response is written in one send with
TCP_NODELAY so small responses are not held back by Nagle's algorithm.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 16 * 1024 * 1024
INBOUND_PASSTHROUGH_IP = "127.0.0.6"  # where Istio's sidecar connects to its app from


@dataclass
class Request:
    method: str
    target: str  # as received: origin-form (/path?q) or absolute-form
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # case-insensitive (email.message.Message)
    header_items: list[tuple[str, str]]  # in received order, original case
    body: bytes
    client: tuple[str, int]
    local: tuple[str, int]
    http_version: str = "HTTP/1.1"

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for _, value in (h for h in self.header_items if h[0].lower() == "cookie"):
            for part in value.split(";"):
                name, sep, val = part.strip().partition("=")
                if sep and name:
                    jar.setdefault(name, val)
        return jar


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: object, status: int = 200, indent: int | None = None) -> Response:
        text = json.dumps(data, indent=indent) + ("\n" if indent else "")
        return cls(status, text.encode(), "application/json")

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


App = Callable[[Request], Response]


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def access_line(request: Request, status: int, size: int) -> str:
    """The app's own access log line, in the Common Log Format httpbin's server writes:
    ``127.10.1.4 - - [30/Nov/2026:18:40:11 +0000] "GET /headers HTTP/1.1" 200 512 "-"
    "curl/8.16.0"``."""
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    agent = request.headers.get("User-Agent", "-")
    referer = request.headers.get("Referer", "-")
    line = f"{request.method} {request.target} {request.http_version}"
    # behind the sidecar (a Unix socket) the peer is the sidecar: Istio's inbound passthrough
    # source address, 127.0.0.6, as httpbin's log shows on a cluster
    client = request.client[0] if request.client and request.client[0] else "127.0.0.6"
    return f'{client} - - [{when}] "{line}" {status} {size} "{referer}" "{agent}"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "local"

    def log_message(self, format: str, *args: object) -> None:
        pass  # access logs are off: the sidecar's access log is the place for them

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,  # type: ignore[arg-type]
            header_items=list(self.headers.items()),
            body=self._read_body(),
            client=self._client(),
            local=self._local(),
            http_version=self.request_version,
        )
        try:
            response = self.server.app(request)
        except Exception as exc:  # an app bug answers 500 instead of killing the connection
            response = Response(500, f"internal error: {exc!r}\n".encode())
        self._send(request, response)

    def _client(self) -> tuple[str, int]:
        if self.connection.family == socket.AF_UNIX:  # from the sidecar, as Istio's 127.0.0.6
            return (INBOUND_PASSTHROUGH_IP, 0)
        return self.client_address[:2]

    def _local(self) -> tuple[str, int]:
        if self.connection.family == socket.AF_UNIX:
            return self.server.local_address  # type: ignore[attr-defined]
        return self.connection.getsockname()[:2]

    def _send(self, request: Request, response: Response) -> None:
        body = b"" if request.method == "HEAD" else response.body
        lines = [
            f"{self.protocol_version} {response.status} {reason(response.status)}",
            f"Server: {self.server.server_name_header}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        names = {name.lower() for name, _ in response.headers}
        if any(n.lower() == "connection" and v.lower() == "close" for n, v in response.headers):
            self.close_connection = True
            names.discard("connection")
            response.headers = [h for h in response.headers if h[0].lower() != "connection"]
        if "content-type" not in names and response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if response.status >= 200 and response.status not in (204, 304):
            lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        if self.server.access_log:
            print(access_line(request, response.status, len(body)), flush=True)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, ValueError):
            self.close_connection = True

    def __getattr__(self, name: str):  # do_GET, do_POST, ... for every method
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], app: App, server_name: str, access_log: bool = False
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.server_name_header = server_name
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # skip HTTPServer's reverse DNS lookup (slow)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]
        self.server_name, self.server_port = self.server_address


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The app behind its sidecar: a Unix socket only the mesh's owner can connect to
    (mode 0600), so nothing local reaches the app around the sidecar."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, path: str, port: int, pod_ip: str, app: App, server_name: str) -> None:
        self.app = app
        self.server_name_header = server_name
        self.local_address = (pod_ip or "127.0.0.1", port)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a killed predecessor
        old = os.umask(0o177)
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(OSError):
            os.unlink(self.server_address)  # type: ignore[arg-type]


class Servers:
    """Several listeners serving one app; `start` binds them all, `stop` closes them."""

    def __init__(
        self,
        app: App,
        addresses: list[tuple[str, int]],
        name: str = "istiolab",
        unix: list[tuple[int, str]] = (),  # type: ignore[assignment]
        pod_ip: str = "",
        access_log: bool = False,
    ):
        self._servers: list = [_Server(addr, app, name) for addr in addresses]
        self._servers += [_UnixServer(path, port, pod_ip, app, name) for port, path in unix]
        for server in self._servers:
            server.access_log = access_log  # httpbin's own access lines (access_line)
        self._threads: list[threading.Thread] = []

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [s.server_address for s in self._servers if isinstance(s, _Server)]

    @property
    def names(self) -> list[str]:
        """Every listener as ``host:port`` or ``unix:PATH``."""
        return [
            f"{s.server_address[0]}:{s.server_address[1]}"
            if isinstance(s, _Server)
            else f"unix:{s.server_address}"
            for s in self._servers
        ]

    def start(self) -> None:
        for s in self._servers:
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1})
            t.daemon = True
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        stoppers = [threading.Thread(target=s.shutdown) for s in self._servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for s in self._servers:
            s.server_close()
