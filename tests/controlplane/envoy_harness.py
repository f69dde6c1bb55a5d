"""The one Envoy test harness: real Envoy processes started with the runtime's own command
line (istiolab.local.envoy), an XdsServer serving translated config (:class:`Mesh`), tiny
echo apps as upstreams, all on a private loopback prefix and stopped by PID in finalizers.

Used by tests/controlplane (through its conftest's ``settings`` and ``started`` fixtures)
and tests/local; waiting is ``istiolab.local.supervisor.wait_until`` (backoff, no sleeps).
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import loopback
from support import JSONHandler

from istiolab import manifests as m
from istiolab.errors import MeshError
from istiolab.local import envoy as runtime
from istiolab.local.bootstrap import bootstrap
from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.pki import with_secrets
from istiolab.local.registry import build_registry
from istiolab.local.supervisor import tail, wait_until
from istiolab.local.translate import MeshIndex, build_resources
from istiolab.local.xds import XdsServer

from .helpers import istio

HTTPBIN = "httpbin.backend.svc.cluster.local"


def envoy_binary() -> str | None:
    """The Envoy the runtime would run, or None when this machine has none."""
    try:
        return runtime.find_envoy()
    except MeshError:
        return None


def random_octet() -> int:
    """A fresh 127.<octet> for one test, from the run's one allocator (tests/loopback.py)."""
    return loopback.fresh("controlplane")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """``wait_until`` with the tests' default timeout."""
    wait_until(predicate, timeout, what)


class Envoy:
    """One real Envoy, run as the runtime runs it (flushing its access log every 50 ms)."""

    def __init__(self, bootstrap_config: dict, workdir: Path, admin: str) -> None:
        binary = envoy_binary()
        assert binary is not None, "no Envoy binary (tests require() it first)"
        self.workdir = workdir
        self.admin = admin  # "ip:port"
        self.host, port = admin.rsplit(":", 1)
        self.port = int(port)
        path = runtime.write_bootstrap(workdir / "bootstrap.json", bootstrap_config)
        self.log = workdir / "envoy.log"
        argv = runtime.envoy_argv(binary, path, self.log, flush_interval_ms=50)
        self._out = open(workdir / "stdout.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        return runtime.admin_request(self.host, path, self.port, timeout=timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        def exited() -> str | None:
            if self.proc.poll() is None:
                return None
            return f"exited with {self.proc.returncode}: {tail(self.log, 20)}"

        ready = lambda: runtime.is_ready(self.host, self.port)  # noqa: E731
        wait_until(ready, timeout, f"Envoy {self.admin} /ready", fail=exited)

    def config_dump(self) -> dict:
        return runtime.admin_json(self.host, "/config_dump?include_eds", self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


class Mesh:
    """One XdsServer + the objects it serves; ``set_objects`` then ``xds.push()`` changes it
    live. Every proxy of a generation shares one MeshIndex, as the runtime's pushes do."""

    def __init__(self, tmp_path, settings: MeshSettings, objects: list[dict]) -> None:
        self.settings = settings
        self.objects = objects
        self.registry, _ = build_registry(objects, settings, {})
        self.proxies: dict[str, Proxy] = {}
        self.apps: dict = {}  # version label -> App (filled by the fixture)
        self.override = None  # node id -> ProxyResources, to push deliberately bad config
        self._index: MeshIndex | None = None
        self.xds = XdsServer(settings.istiod_ip, free_port(settings.istiod_ip), self.resources)

    def resources(self, node_id: str):
        if self.override is not None:
            return self.override
        proxy = self.proxies.get(node_id)
        if proxy is None:
            return None
        index = self._index
        if index is None:
            index = self._index = MeshIndex(self.objects, self.registry, self.settings)
        resources = build_resources(self.objects, self.registry, proxy, self.settings, index=index)
        return with_secrets(resources, proxy, self.objects)

    def set_objects(self, objects: list[dict]) -> None:
        m.validate_objects(objects)
        self.objects = objects
        self._index = None

    def start_envoy(self, tmp_path, proxy: Proxy) -> Envoy:
        self.proxies[proxy.node_id] = proxy
        boot = bootstrap(proxy, self.settings)
        for c in boot["static_resources"]["clusters"]:
            if c["name"] == "xds-grpc":
                addr = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
                addr["address"]["socket_address"]["port_value"] = self.xds.port
        workdir = tmp_path / proxy.pod.name
        workdir.mkdir()
        admin = boot["admin"]["address"]["socket_address"]
        return Envoy(boot, workdir, f"{admin['address']}:{admin['port_value']}")


def mesh_configmap(log_path, mode="ALLOW_ANY") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"},
        "data": {"mesh": f"accessLogFile: {log_path}\noutboundTrafficPolicy:\n  mode: {mode}\n"},
    }


def vs(spec_http: list[dict], name="httpbin", gateways=None, hosts=("httpbin.backend",)) -> dict:
    spec: dict = {"hosts": list(hosts), "http": spec_http}
    if gateways:
        spec["gateways"] = gateways
    return istio("VirtualService", name, "backend", spec)


def base_objects(log_path, mode="ALLOW_ANY") -> list[dict]:
    return [
        m.namespace("default"),
        m.namespace("backend", injection=False),
        *m.sleep(),
        *m.httpbin("backend", versions=("v1", "v2")),
        m.destination_rule("httpbin", "backend", subsets=("v1", "v2")),
        mesh_configmap(log_path, mode),
    ]


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


class _Handler(JSONHandler):
    """GET anything: echo as JSON; ``/status/<code>`` answers that code; ``/delay/<s>``
    answers after s seconds; ``server.fail_status`` makes every answer that code."""

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
        self.reply(status, body)


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
