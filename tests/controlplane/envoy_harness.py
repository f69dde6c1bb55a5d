"""Real Envoy and real upstream apps for control-plane tests, all on a private loopback
prefix (127.<150-199>.x.y, random per session) and stopped by PID in finalizers."""

from __future__ import annotations

import http.server
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ENVOY = Path(sys.executable).parent / "envoy"


def random_octet() -> int:
    return random.SystemRandom().randint(150, 199)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def backoff(deadline: float):
    """Yield until the deadline with growing pauses (10 ms .. 200 ms)."""
    delay = 0.01
    while time.monotonic() < deadline:
        yield
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


class Envoy:
    def __init__(self, bootstrap: dict, workdir: Path, admin: str) -> None:
        self.workdir = workdir
        self.admin = admin  # "ip:port"
        path = workdir / "bootstrap.json"
        path.write_text(json.dumps(bootstrap))
        self.log = workdir / "envoy.log"
        self._out = open(workdir / "stdout.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                str(ENVOY),
                "-c",
                str(path),
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--log-level",
                "warn",
                "--log-path",
                str(self.log),
                "--drain-time-s",
                "1",
                "--file-flush-interval-msec",
                "50",
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{self.admin}{path}", timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout: float = 20.0) -> None:
        for _ in backoff(time.monotonic() + timeout):
            if self.proc.poll() is not None:
                raise AssertionError(f"envoy exited: {self.log.read_text()[-2000:]}")
            try:
                status, body = self.get("/ready", timeout=1)
                if status == 200 and "LIVE" in body:
                    return
            except OSError:
                pass
        raise AssertionError(f"envoy not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def config_dump(self) -> dict:
        status, body = self.get("/config_dump?include_eds")
        assert status == 200, body
        return json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait(5)
        self._out.close()


def dump_names(dump: dict) -> dict[str, set[str]]:
    """Names of the dynamic clusters, listeners and route configs in a config_dump."""
    out: dict[str, set[str]] = {"clusters": set(), "listeners": set(), "routes": set()}
    for section in dump["configs"]:
        t = section.get("@type", "")
        if t.endswith("ClustersConfigDump"):
            for c in section.get("dynamic_active_clusters", []):
                out["clusters"].add(c["cluster"]["name"])
        elif t.endswith("ListenersConfigDump"):
            for li in section.get("dynamic_listeners", []):
                if "active_state" in li:
                    out["listeners"].add(li["name"])
        elif t.endswith("RoutesConfigDump"):
            for r in section.get("dynamic_route_configs", []):
                out["routes"].add(r["route_config"]["name"])
    return out


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET anything: echo as JSON; ``/status/<code>`` answers that code; ``/delay/<s>``
    answers after s seconds; ``server.fail_status`` makes every answer that code."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server = self.server
        server.hits.append((self.path, self.headers.get("Host", "")))  # type: ignore[attr-defined]
        status = server.fail_status or 200  # type: ignore[attr-defined]
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1:
            status = int(parts[1])
        elif parts[0] == "delay" and len(parts) > 1:
            time.sleep(float(parts[1]))
        body = json.dumps(
            {
                "server": server.label,  # type: ignore[attr-defined]
                "path": self.path,
                "headers": dict(self.headers.items()),
            }
        ).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class App:
    """A tiny HTTP app that echoes what it received, labelled to tell replicas apart."""

    def __init__(self, ip: str, port: int, label: str) -> None:
        self.server = http.server.ThreadingHTTPServer((ip, port), _Handler)
        self.server.label = label  # type: ignore[attr-defined]
        self.server.hits = []  # type: ignore[attr-defined]  # (path, Host) per request
        self.server.fail_status = 0  # type: ignore[attr-defined]  # answer this to everything
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self) -> list[tuple[str, str]]:
        return self.server.hits  # type: ignore[attr-defined]

    def fail(self, status: int) -> None:
        self.server.fail_status = status  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def proxy_get(proxy: str, url: str, headers: dict | None = None, timeout: float = 5.0):
    """GET ``url`` through an HTTP proxy (absolute-form), as the local apps do."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://{proxy}"}))
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read().decode()
