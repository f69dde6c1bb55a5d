"""Fixtures: real workload processes on a private loopback prefix, and test-controlled upstreams.

Every test session picks 127.<100..199>; every process or server a test starts is stopped
by its PID (or shut down) in a finalizer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from wl_helpers import new_ip, read_line, stop_process


@dataclass
class Workload:
    proc: subprocess.Popen
    ready_line: str
    ip: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"


@pytest.fixture
def spawn(request) -> Callable[..., subprocess.Popen]:
    """Start ``python -m istiolab.workloads <args>``; stopped by PID at teardown."""

    def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        full_env = {k: v for k, v in os.environ.items() if k.lower() != "http_proxy"}
        full_env.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-m", "istiolab.workloads", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        request.addfinalizer(lambda: stop_process(proc))
        return proc

    return _spawn


@pytest.fixture
def start(spawn) -> Callable[..., Workload]:
    """Start one workload on a fresh pod IP and wait for its ``ready`` line."""

    def _start(
        image: str,
        *,
        port: int = 9080,
        hosts: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        pod_name: str = "",
        ip: str | None = None,
    ) -> Workload:
        ip = ip or new_ip()
        full_env = {"ISTIOLAB_HOSTS": json.dumps(hosts or {})}
        full_env.update(env or {})
        args = ["serve", "--image", image, "--listen", f"{ip}:{port}", "--namespace", "default"]
        if pod_name:
            args += ["--pod-name", pod_name]
        proc = spawn(args, full_env)
        line = read_line(proc, 15)
        assert line == f"ready {ip}:{port}", (line, proc.stderr.read1(4096) if not line else "")
        return Workload(proc, line, ip, port)

    return _start


@dataclass
class Recorded:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: tuple[str, int]


@dataclass
class Upstream:
    """A test-controlled HTTP server: records requests, answers with `respond`."""

    ip: str
    port: int
    requests: list[Recorded] = field(default_factory=list)
    respond: Callable[[Recorded, int], tuple[int, bytes, float]] = lambda r, i: (200, b"{}", 0)
    server: ThreadingHTTPServer | None = None

    @property
    def hostport(self) -> str:
        return f"{self.ip}:{self.port}"


@pytest.fixture
def upstream(request) -> Callable[..., Upstream]:
    """``upstream(respond)``: a recording server; ``respond(req, index) -> (status, body,
    delay)``. Shut down at teardown (delayed handlers run on daemon threads)."""

    def _make(respond=None, port: int = 9080, ip: str | None = None) -> Upstream:
        up = Upstream(ip or new_ip(), port)
        if respond is not None:
            up.respond = respond
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                rec = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    self.client_address,
                )
                with lock:
                    index = len(up.requests)
                    up.requests.append(rec)
                status, body, delay = up.respond(rec, index)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        server = Server((up.ip, up.port), Handler)
        up.server = server
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()

        def _stop():
            server.shutdown()
            server.server_close()

        request.addfinalizer(_stop)
        return up

    return _make
