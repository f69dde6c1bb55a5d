"""Shared helpers for the resilience acceptance tests (issue 4): one running local mesh,
traffic through the gateway and from inside pods, Envoy stats and access logs, binomial
intervals, and "external" HTTP servers on loopback outside the mesh.

The mesh itself is driven with the CLI helpers of tests/local (imported, not copied).
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import loopback
from local.test_mesh import Mesh
from support import JSONHandler

from istiolab import manifests
from istiolab.backends import HttpResult, Pod
from istiolab.local.supervisor import wait_until

# our own 127.<octet> from the run's one allocator (tests/loopback.py)
OCTET = loopback.take("resilience")
GATEWAY = f"127.{OCTET}.0.3"
PORT = 8080
EXTERNAL_HOST = f"127.{OCTET}.250.20"  # outside the mesh: no pod, no sidecar
Z999 = 3.291  # two-sided 99.9 % normal quantile (binomial splits: tests/stats.py, 99 %)


# ------------------------------------------------------------------ the gateway


def gateway(
    path: str,
    *,
    method: str = "GET",
    headers: dict | None = None,
    body: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict, str, float]:
    """(status, lower-case headers, body, seconds) of one request through the gateway."""
    conn = http.client.HTTPConnection(GATEWAY, PORT, timeout=timeout)
    began = time.monotonic()
    try:
        conn.request(method, path, body=body, headers={"Host": "bookinfo.app", **(headers or {})})
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        elapsed = time.monotonic() - began
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text, elapsed
    finally:
        conn.close()


def login(user: str) -> dict:
    """Sign in on productpage as the Istio tasks do; returns the Cookie header to send."""
    status, headers, _, _ = gateway(
        "/login",
        method="POST",
        body=urlencode({"username": user, "passwd": "password"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302, status
    return {"Cookie": headers["set-cookie"].split(";", 1)[0]}


# ------------------------------------------------------------------ the mesh


class ResilienceMesh(Mesh):
    """tests/local's CLI-driven mesh handle plus in-pod traffic, stats and access logs."""

    def apply_yaml(self, text: str) -> str:
        return self.ok("apply", "-f", "-", stdin=text)

    def delete_yaml(self, text: str) -> str:
        return self.ok("delete", "-f", "-", stdin=text)

    def pods(self, **labels: str) -> list[Pod]:
        return [
            p for p in self.backend.pods() if all(p.labels.get(k) == v for k, v in labels.items())
        ]

    def send(self, source: str, url: str, **kwargs) -> HttpResult:
        """One request from inside `source`'s pod (workload name) through its sidecar."""
        return self.backend.request(source, url, **kwargs)

    def sender(self, source: str) -> Callable[..., HttpResult]:
        """A thread-safe `send(url, **kwargs)` from `source`'s pod (looked up once)."""
        return self.backend.sender(source)

    def load(self, source: str, url: str, count: int, concurrency: int, *headers: str) -> dict:
        """`istiolab request --count N --concurrency C -o json` from `source`."""
        args = ["request", "--from", source, url, "--count", str(count)]
        args += ["--concurrency", str(concurrency), "-o", "json"]
        for h in headers:
            args += ["-H", h]
        return json.loads(self.ok(*args))

    def stats(self, workload: str, regex: str) -> dict[str, int]:
        """Counters and gauges of `workload`'s Envoy whose names match `regex`."""
        return self.backend.proxy_stats(workload, regex)

    def stat(self, workload: str, name: str) -> int:
        found = self.stats(workload, "^" + re.escape(name) + "$")
        assert name in found, f"no stat {name} on {workload}: {found}"
        return found[name]

    def access_log(self, deployment: str) -> str:
        """The sidecar access log of `deployment`'s (first) pod."""
        return self.backend.logs(deployment, "istio-proxy")

    def log_lines(self, deployment: str, *needles: str) -> list[str]:
        return [
            line
            for line in self.access_log(deployment).splitlines()
            if all(n in line for n in needles)
        ]

    def wait_log(self, deployment: str, *needles: str, count: int = 1, timeout=15) -> list[str]:
        """Poll (backoff) until `count` access log lines of `deployment` hold all `needles`."""
        wait_until(
            lambda: len(self.log_lines(deployment, *needles)) >= count,
            timeout,
            f"{count} access log line(s) of {deployment} with {needles}",
        )
        return self.log_lines(deployment, *needles)

    def restore_samples(self) -> None:
        """The samples as `up` deployed them (httpbin v1 only), without any routing rule or
        DestinationRule (the tests start from Istio's defaults)."""
        for kind in ("VirtualService", "DestinationRule", "ServiceEntry"):
            for item in json.loads(self.ok("get", kind, "-o", "json"))["items"]:
                if (kind, item["metadata"]["name"]) != ("VirtualService", "bookinfo"):
                    self.ok("delete", kind, item["metadata"]["name"])
        code, _, _ = self.cli("get", "configmap", "istio", "-n", "istio-system")
        if code == 0:
            self.ok("delete", "configmap", "istio", "-n", "istio-system")
        code, _, _ = self.cli("get", "deployment", "httpbin-v2")
        if code == 0:
            self.ok("delete", "deployment", "httpbin-v2")
        # unchanged objects restart nothing; a changed sample Deployment is rolled back
        self.apply(manifests.bookinfo() + manifests.httpbin() + manifests.bookinfo_gateway())


# ------------------------------------------------------------------ outside the mesh


class _Handler(JSONHandler):
    server: ExternalServer

    def do_GET(self) -> None:
        srv = self.server
        rid = self.headers.get("x-request-id", "")
        with srv.lock:
            srv.hits.append((self.path, self.headers.get("Host", ""), rid))
            srv.attempts[rid] += 1
            attempt = srv.attempts[rid]
        status = 503 if attempt <= srv.fail_first else 200
        body = json.dumps({"server": srv.label, "attempt": attempt, "path": self.path}).encode()
        self.reply(status, body)


class ExternalServer(http.server.ThreadingHTTPServer):
    """An HTTP server outside the mesh (no sidecar) on loopback, started by a test.

    It records (path, Host, x-request-id) per request; with ``fail_first=N`` it answers 503
    to the first N attempts of every request (same x-request-id, as Envoy retries carry it)
    and 200 afterwards: a deterministic flaky upstream.
    """

    daemon_threads = True

    def __init__(self, host: str = EXTERNAL_HOST, label: str = "external", fail_first=0):
        super().__init__((host, 0), _Handler)
        self.label = label
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.hits: list[tuple[str, str, str]] = []
        self.attempts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)

    def paths(self, path: str) -> list[tuple[str, str, str]]:
        return [h for h in self.hits if h[0] == path]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
