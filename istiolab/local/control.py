"""The supervisor's control API: HTTP/JSON over a Unix socket in the state directory.

The CLI (`apply`, `delete`, `get`, `status`, `proxy-status`, `down`) talks to a running mesh
through it. Routes are ``(METHOD, path) -> handler(body: dict) -> JSON-able``; a handler's
IstiolabError travels back as ``{"error": {"type", "message", "findings"}}`` and the client
raises the same error class with the same message, so the CLI prints exactly what the
supervisor found.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import socketserver
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from istiolab import errors
from istiolab.errors import Finding, IstiolabError, MeshError, ValidationError

Handler = Callable[[dict], Any]


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    routes: dict[tuple[str, str], Handler]


class _RequestHandler(BaseHTTPRequestHandler):
    server: _UnixHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def address_string(self) -> str:  # Unix sockets have no client address
        return "local"

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        body: dict = dict(parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            try:
                body.update(json.loads(self.rfile.read(length)))
            except ValueError:
                return self._send(400, {"error": {"type": "MeshError", "message": "bad JSON"}})
        handler = self.server.routes.get((method, url.path))
        if handler is None:
            return self._send(404, {"error": {"type": "NotFoundError", "message": url.path}})
        try:
            return self._send(200, handler(body))
        except IstiolabError as exc:
            payload = {"type": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, ValidationError):
                payload["findings"] = [vars(f) for f in exc.findings]
            return self._send(400, {"error": payload})
        except Exception as exc:
            traceback.print_exc()
            msg = f"internal error in the mesh supervisor: {type(exc).__name__}: {exc}"
            return self._send(500, {"error": {"type": "MeshError", "message": msg}})

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class ControlServer:
    """Serves `routes` on a Unix socket until stopped."""

    def __init__(self, socket_path: Path, routes: dict[tuple[str, str], Handler]) -> None:
        self.socket_path = Path(socket_path)
        self.routes = routes
        self._server: _UnixHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if len(str(self.socket_path).encode()) > 100:  # sun_path holds 108 bytes
            raise MeshError(
                f"the state directory path is too long for the control socket "
                f"({self.socket_path}, {len(str(self.socket_path))} characters, at most 100); "
                "use a shorter --state-dir"
            )
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # a stale socket from a killed supervisor
        server = _UnixHTTPServer(str(self.socket_path), _RequestHandler)
        os.chmod(self.socket_path, 0o600)
        server.routes = self.routes
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket: the control API, Envoy admin ``pipe`` addresses."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class NotRunning(MeshError):
    """No supervisor answers on the state directory's control socket."""


class ControlClient:
    def __init__(self, socket_path: Path, timeout: float = 120.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def available(self) -> bool:
        return self.socket_path.exists()

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        conn = UnixHTTPConnection(str(self.socket_path), self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = json.loads(resp.read() or b"null")
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning(
                f"the local mesh is not running (no supervisor on {self.socket_path}); "
                "start it with `istiolab up`"
            ) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise MeshError(f"control API {self.socket_path}: {exc}") from exc
        finally:
            conn.close()
        if isinstance(payload, dict) and "error" in payload and resp.status >= 400:
            raise _rebuild(payload["error"])
        return payload

    def get(self, path: str, **query: Any) -> Any:
        if query:
            from urllib.parse import urlencode

            path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return self.call("GET", path)

    def post(self, path: str, body: dict | None = None) -> Any:
        return self.call("POST", path, body or {})


def _rebuild(err: dict) -> IstiolabError:
    """The supervisor's error, as the same class with the same message."""
    message = str(err.get("message", "error"))
    if err.get("type") == "ValidationError" and err.get("findings"):
        return ValidationError([Finding(**f) for f in err["findings"]])
    cls = getattr(errors, str(err.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, IstiolabError)):
        cls = MeshError
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    return exc
