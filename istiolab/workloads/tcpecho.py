"""Istio's ``tcp-echo`` sample (``istio/tcp-echo-server``): a TCP server that answers each
line it receives with the line prefixed by its prefix and a space (``one hello``).

Container args as in Istio's sample: ``["9000,9001,9002", "one"]`` (ports, prefix); the
default prefix is ``hello``. Listens on every given address (the runtime passes the pod's).
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
from collections.abc import Sequence

DEFAULT_PREFIX = "hello"


def prefix_of(args: Sequence[str]) -> str:
    return args[1] if len(args) > 1 else DEFAULT_PREFIX


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for line in self.rfile:
            reply = f"{self.server.prefix} ".encode() + line
            if not reply.endswith(b"\n"):
                reply += b"\n"
            self.wfile.write(reply)
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], prefix: str) -> None:
        self.prefix = prefix
        super().__init__(address, _Handler)


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Behind a sidecar: a Unix socket only the mesh's owner can reach (0600), as
    workloads.server does for HTTP apps."""

    daemon_threads = True

    def __init__(self, path: str, prefix: str) -> None:
        self.prefix = prefix
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        old = os.umask(0o177)
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old)


class EchoServers:
    """One threaded echo server per address (and per Unix socket); ``start``/``stop`` like
    workloads.server."""

    def __init__(
        self, addresses: list[tuple[str, int]], prefix: str, unix: Sequence[str] = ()
    ) -> None:
        self.servers: list = [_Server(a, prefix) for a in addresses]
        self.servers += [_UnixServer(path, prefix) for path in unix]

    @property
    def addresses(self) -> list[str]:
        out = []
        for s in self.servers:
            address = s.server_address
            out.append(address if isinstance(address, str) else f"{address[0]}:{address[1]}")
        return out

    def start(self) -> None:
        for s in self.servers:
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()
