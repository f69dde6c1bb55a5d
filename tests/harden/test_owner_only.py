"""Only the mesh's owner can reach xDS, Envoy admin and the apps behind sidecars
(issue 10 items 1 and 2), checked on real processes, as an unprivileged user too."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import stat
import subprocess
import threading

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from support import require

from istiolab.local.admin import admin_call
from istiolab.local.control import ControlClient
from istiolab.local.model import SECRET_TYPE
from istiolab.local.supervisor import wait_until
from istiolab.manifests import security as sec

pytestmark = pytest.mark.envoy
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    require(shutil.which("setpriv") is not None, "setpriv (util-linux)")
    require(shutil.which("curl") is not None, "curl")
    require(os.getuid() == 0, "root, to run a command as another user (setpriv)")
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, timeout=30)


def curl_code(*args: str) -> str:
    """curl's HTTP status as the unprivileged user ("000": no connection)."""
    proc = as_nobody("curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", *args)
    return proc.stdout.strip() or "000"


def node_of(mesh, deployment: str, namespace: str) -> str:
    data = json.loads(mesh.ok("proxy-status", "-o", "json"))
    pod = mesh.pod_in(deployment, namespace)
    return next(p["node"] for p in data["proxies"] if p["name"].startswith(pod["name"] + "."))


def test_state_directory_and_files_are_owner_only(mesh):
    root = mesh.state.root
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            mode = stat.S_IMODE(os.lstat(os.path.join(dirpath, d)).st_mode)
            assert mode & 0o077 == 0, f"{dirpath}/{d} is {oct(mode)}"
        for f in filenames:
            mode = stat.S_IMODE(os.lstat(os.path.join(dirpath, f)).st_mode)
            assert mode & 0o077 == 0, f"{dirpath}/{f} is {oct(mode)}"


def test_another_user_reaches_neither_xds_nor_admin_nor_the_app(mesh):
    httpbin = mesh.pod_in("httpbin-v1", "foo")
    sockets = mesh.state.socket_dir
    settings = mesh.status()["settings"]
    istiod = f"127.{settings['octet']}.0.1"
    # the owner reaches all three
    assert mesh.state.xds_socket.exists()
    assert admin_call(mesh.state, httpbin["ip"], "/ready").strip() == "LIVE"
    # another user: no socket in the 0700 directory, no TCP port for xDS, admin or the app
    for path in (
        mesh.state.xds_socket,
        sockets / "a" / f"{httpbin['ip']}.sock",
        sockets / "s" / f"{httpbin['ip']}-8080.sock",
    ):
        assert path.exists(), path
        assert curl_code("--unix-socket", str(path), "http://x/ready") == "000", path
    for url in (
        f"http://{istiod}:15010/",
        f"http://{httpbin['ip']}:15000/ready",
        f"http://{httpbin['app_ip']}:8080/get",
    ):
        assert curl_code(url) == "000", url


def test_strict_mtls_cannot_be_bypassed_by_another_user(mesh):
    httpbin = mesh.pod_in("httpbin-v1", "foo")
    try:
        mesh.apply(sec.peer_authentication("foo", mode="STRICT"))
        assert mesh.code("foo", "http://httpbin.foo:8000/get") == 200  # mTLS from sleep
        # plaintext straight to the pod: refused by the sidecar; the app has no TCP port
        assert curl_code(f"http://{httpbin['ip']}:8000/get") == "000"
        assert curl_code(f"http://{httpbin['app_ip']}:8080/get") == "000"
        assert curl_code(f"http://{httpbin['app_ip']}:8000/get") == "000"
    finally:
        mesh.remove_security()


def rogue_stream(socket_path: str, node_id: str):
    """An ADS stream claiming `node_id` (as the owner: only the owner can connect)."""
    channel = grpc.insecure_channel(f"unix:{socket_path}")
    requests: queue.Queue = queue.Queue()
    requests.put(
        discovery_pb2.DiscoveryRequest(
            node=base_pb2.Node(id=node_id), type_url=SECRET_TYPE, resource_names=["default"]
        )
    )

    def gen():
        while True:
            item = requests.get()
            if item is None:
                return
            yield item

    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
    responses = stub.StreamAggregatedResources(gen())
    got: list = []

    def read() -> None:
        with contextlib.suppress(grpc.RpcError):
            for r in responses:
                got.append(r)

    threading.Thread(target=read, daemon=True).start()
    return channel, requests, got


def test_a_second_stream_never_drops_the_live_proxy(mesh):
    node = node_of(mesh, "httpbin-v1", "foo")
    channel, requests, got = rogue_stream(str(mesh.state.xds_socket), node)
    try:
        wait_until(lambda: bool(got), 10, "the second stream's first response")
        mesh.apply(sec.deny_all("foo", app="httpbin"))  # exits 0 only once synced
        assert mesh.code("foo", "http://httpbin.foo:8000/get") == 403
        status = json.loads(mesh.ok("proxy-status", "-o", "json"))
        row = next(p for p in status["proxies"] if p["node"] == node)
        assert row["status"]["synced"] is True, row
    finally:
        requests.put(None)
        channel.close()
        mesh.remove_security()
    assert mesh.code("foo", "http://httpbin.foo:8000/get") == 200


def test_proxy_admin_through_the_control_api(mesh):
    client = ControlClient(mesh.state.socket, timeout=10)
    body = {"pod": "httpbin", "namespace": "foo", "path": "/server_info"}
    out = client.call("GET", "/proxy-admin", body)
    assert json.loads(out["body"])["state"] == "LIVE"
    gw = client.call("GET", "/proxy-admin", {"pod": "istio-ingressgateway", "path": "/ready"})
    assert gw["body"].strip() == "LIVE"
    status = mesh.status()
    assert status["xds"].startswith("unix:")
    assert any("residual" in note for note in status["security"])
    assert "residual: the sidecars' own listeners" in mesh.ok("status")
