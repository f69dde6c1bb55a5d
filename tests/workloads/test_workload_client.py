"""The in-pod client: source address, proxy (absolute-form) and direct modes, curl-like
failures, and fortio-style load with its summary."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from wl_helpers import new_ip

from istiolab.workloads.client import Session, resolve, send
from istiolab.workloads.images import FORTIO_VERSION
from istiolab.workloads.loadgen import format_fortio, histogram, load


def test_send_through_proxy_uses_absolute_form_and_pod_ip(upstream):
    proxy = upstream(lambda r, i: (200, b'{"ok": true}', 0), port=15001)
    pod_ip = new_ip()
    resp = send(
        "http://details:9080/details/0?x=1",
        source_ip=pod_ip,
        proxy=f"http://{proxy.ip}:15001",
        headers={"x-request-id": "abc"},
    )
    assert resp.status == 200 and resp.json() == {"ok": True} and resp.exit_code == 0
    seen = proxy.requests[0]
    assert seen.target == "http://details:9080/details/0?x=1"
    assert seen.headers["host"] == "details:9080"
    assert seen.headers["x-request-id"] == "abc"
    assert seen.client[0] == pod_ip
    # port 80 is left out of the Host header, as curl does
    send("http://httpbin.foo/ip", source_ip=pod_ip, proxy=f"{proxy.ip}:15001")
    assert proxy.requests[1].headers["host"] == "httpbin.foo"
    assert proxy.requests[1].target == "http://httpbin.foo/ip"


def test_send_direct_resolves_with_hosts_map_and_search_path(upstream):
    server = upstream(lambda r, i: (201, b"{}", 0), port=8080)
    hosts = {"httpbin.foo.svc.cluster.local:8000": f"{server.ip}:8080"}
    pod_ip = new_ip()
    resp = send(
        "http://httpbin.foo:8000/post",
        method="POST",
        data=b"hello",
        source_ip=pod_ip,
        hosts=hosts,
    )
    assert resp.status == 201
    seen = server.requests[0]
    assert (seen.method, seen.target, seen.body) == ("POST", "/post", b"hello")
    assert seen.headers["host"] == "httpbin.foo:8000"
    assert seen.client[0] == pod_ip
    # short name, relative to the client's namespace
    assert send("http://httpbin:8000/get", hosts=hosts, namespace="foo").status == 201
    assert send("http://httpbin:8000/get", hosts=hosts, namespace="bar").error == "resolve"


def test_resolve_rules():
    hosts = {
        "details.default.svc.cluster.local": "127.9.1.1",
        "reviews.default.svc.cluster.local": ["127.9.2.1", "127.9.2.2"],
        "httpbin.foo.svc.cluster.local:8000": "127.9.3.1:80",
    }
    assert resolve("details", 9080, hosts, "default") == ("127.9.1.1", 9080)
    assert resolve("details.default", 9080, hosts) == ("127.9.1.1", 9080)
    assert resolve("details.default.svc.cluster.local", 9080, hosts) == ("127.9.1.1", 9080)
    assert resolve("httpbin.foo", 8000, hosts) == ("127.9.3.1", 80)
    picks = {resolve("reviews", 9080, hosts, "default") for _ in range(50)}
    assert picks == {("127.9.2.1", 9080), ("127.9.2.2", 9080)}
    assert resolve("127.0.0.9", 81, hosts) == ("127.0.0.9", 81)


def test_service_without_endpoints_or_port_is_refused_not_unknown():
    hosts = {"httpbin.foo.svc.cluster.local:8000": [], "web.foo.svc.cluster.local:80": ["1.2"]}
    empty = send("http://httpbin.foo:8000/get", hosts=hosts)
    assert (empty.error, empty.exit_code) == ("refused", 7)
    other_port = send("http://web.foo:8080/", hosts=hosts)
    assert (other_port.error, other_port.exit_code) == ("refused", 7)
    assert send("http://nothing.foo/", hosts=hosts).error == "resolve"


def test_localhost_is_the_pod_itself(upstream):
    app = upstream(port=9080)
    admin = upstream(port=15000)
    proxy = f"http://{admin.ip}:15001"  # the pod IP hosts the sidecar's ports
    assert send("http://localhost:9080/productpage", source_ip=app.ip, proxy=proxy).status == 200
    assert app.requests[0].target == "/productpage"  # direct, not through the sidecar
    assert send("http://localhost:15000/stats", source_ip=app.ip, proxy=proxy).status == 200
    assert admin.requests[0].target == "/stats"
    assert send("http://127.0.0.1:9080/", source_ip=app.ip).status == 200


def _reset_server(ip: str) -> tuple[socket.socket, threading.Thread]:
    """Accepts, reads the request, then closes with RST (SO_LINGER 0), like Envoy on a
    plaintext request to a STRICT mTLS port."""
    srv = socket.socket()
    srv.bind((ip, 8000))
    srv.listen(8)

    def run():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return srv, thread


def test_failures_are_reported_like_curl(request):
    ip = new_ip()
    srv, _ = _reset_server(ip)
    request.addfinalizer(srv.close)
    reset = send(f"http://{ip}:8000/ip")
    assert (reset.status, reset.error, reset.exit_code) == (0, "reset", 56)
    assert reset.describe() == "Recv failure: Connection reset by peer"

    refused = send(f"http://{new_ip()}:8000/ip")
    assert (refused.status, refused.error, refused.exit_code) == (0, "refused", 7)

    unknown = send("http://nowhere:8000/ip", hosts={})
    assert (unknown.error, unknown.exit_code) == ("resolve", 6)

    quiet = socket.socket()  # accepts (backlog) but never answers
    quiet.bind((new_ip(), 8000))
    quiet.listen(8)
    request.addfinalizer(quiet.close)
    timed_out = send(f"http://{quiet.getsockname()[0]}:8000/", timeout=0.3)
    assert (timed_out.error, timed_out.exit_code) == ("timeout", 28)

    assert send("https://secure:443/").error == "url"


def test_session_reuses_connections(upstream):
    server = upstream(lambda r, i: (200, b"{}", 0))
    session = Session(source_ip=new_ip(), hosts={"a": server.ip})
    for _ in range(5):
        assert session.request("http://a:9080/x").status == 200
    assert len({r.client for r in server.requests}) == 1  # one keep-alive connection
    session.close()
    assert session.request("http://a:9080/x").status == 200
    assert len({r.client for r in server.requests}) == 2


def test_load_one_persistent_connection_per_worker_and_fortio_summary(upstream):
    server = upstream(lambda r, i: (200 if i % 2 == 0 else 503, b'{"x": 1}', 0))
    result = load(
        f"http://{server.ip}:9080/get", count=30, concurrency=3, source_ip=new_ip(), timeout=5
    )
    assert result.codes == {200: 15, 503: 15}
    assert len(result.samples) == 30
    assert result.sockets == 3
    assert len({r.client for r in server.requests}) == 3
    assert result.share(503) == 0.5
    text = format_fortio(result)
    assert "Code 200 : 15 (50.0 %)" in text
    assert "Code 503 : 15 (50.0 %)" in text
    assert (
        "Starting at max qps with 3 thread(s) [gomax 3] for exactly 30 calls (10 per thread + 0)"
        in text
    )
    assert "Sockets used: 3 (for perfect keepalive, would be 3)" in text
    for p in ("50%", "75%", "90%", "99%", "99.9%"):
        assert f"# target {p} " in text
    assert text.splitlines()[-1].startswith("All done 30 calls (plus 0 warmup)")
    summary = result.to_dict()
    assert summary["codes"] == {"200": 15, "503": 15} and summary["calls"] == 30


def test_send_with_data_is_a_form_unless_a_content_type_is_given(upstream):
    """Like `curl -d`: a body goes out as application/x-www-form-urlencoded; a caller's own
    Content-Type (any letter case) is kept; no body, no Content-Type."""
    server = upstream()
    url = f"http://{server.ip}:9080/post"
    assert send(url, method="POST", data="a=1", source_ip=new_ip()).status == 200
    assert server.requests[-1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert server.requests[-1].body == b"a=1"
    json_type = {"content-type": "application/json"}
    send(url, method="POST", data="{}", headers=json_type, source_ip=new_ip())
    assert server.requests[-1].headers["content-type"] == "application/json"
    send(f"http://{server.ip}:9080/get", source_ip=new_ip())
    assert "content-type" not in server.requests[-1].headers


def test_load_identifies_itself_as_fortio(upstream):
    """`fortio load` sends User-Agent fortio.org/fortio-<version> (curl's is for one request);
    a -H User-Agent of the caller still wins."""
    server = upstream()
    url = f"http://{server.ip}:9080/get"
    assert load(url, count=4, concurrency=2, source_ip=new_ip(), timeout=5).codes == {200: 4}
    agents = {r.headers["user-agent"] for r in server.requests}
    assert agents == {f"fortio.org/fortio-{FORTIO_VERSION}"}
    load(url, count=1, headers={"User-Agent": "mine/1"}, source_ip=new_ip(), timeout=5)
    assert server.requests[-1].headers["user-agent"] == "mine/1"


def test_load_counts_socket_errors_as_code_minus_one():
    result = load(f"http://{new_ip()}:9080/", count=4, concurrency=2)
    assert result.codes == {-1: 4}
    assert result.errors == {"refused": 4}
    assert "Code -1 : 4 (100.0 %)" in format_fortio(result)


def test_load_with_qps_paces_requests(upstream):
    server = upstream()
    result = load(f"http://{server.ip}:9080/", count=6, concurrency=2, qps=20)
    assert result.codes == {200: 6}
    assert result.elapsed >= (6 / 20) - 0.1 - 0.05  # 3 slots per worker at 0.1 s spacing
    assert "running at 20 queries per second" in format_fortio(result)


def test_fixed_rate_arrivals_are_even_not_bursts(upstream):
    """fortio's -uniform: at 40 qps over 4 connections the workers are staggered by one slot
    (25 ms), so requests arrive one at a time, not four on the same tick every 100 ms."""
    arrivals: list[float] = []

    def respond(rec, index):
        arrivals.append(time.monotonic())
        return 200, b"{}", 0

    server = upstream(respond)
    result = load(f"http://{server.ip}:9080/", count=12, concurrency=4, qps=40)
    assert result.codes == {200: 12}
    gaps = [b - a for a, b in zip(sorted(arrivals), sorted(arrivals)[1:], strict=False)]
    bunched = [g for g in gaps if g < 0.008]  # a tick's burst arrives within a few ms
    assert len(bunched) <= 2, [round(g * 1000, 1) for g in gaps]
    assert "Uniform: true" in format_fortio(result)


def test_histogram_percentiles_follow_fortio():
    # 10 values: 2 in ]0,1ms], 1 in ]1,2], 6 in ]3,4], 1 in ]11,12]
    values = [0.0005, 0.0008, 0.0015] + [0.0035] * 6 + [0.0115]
    h = histogram(values)
    assert [(round(b.start, 6), round(b.end, 6), b.count) for b in h.buckets] == [
        (0.0005, 0.001, 2),
        (0.001, 0.002, 1),
        (0.003, 0.004, 6),
        (0.011, 0.0115, 1),
    ]
    assert h.percentile(50) == pytest.approx(0.003 + 0.001 * (50 - 30) / 60)
    assert h.percentile(100) == 0.0115
    assert h.percentile(5) == 0.0005


def test_session_drops_connections_the_server_closed(request):
    """A keep-alive connection closed by the server while idle is not reused."""
    srv = socket.socket()
    srv.bind((new_ip(), 9080))
    srv.listen(8)
    request.addfinalizer(srv.close)
    accepted = []

    def run():
        while True:
            try:
                conn, addr = srv.accept()
            except OSError:
                return
            accepted.append(addr)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.close()  # no "Connection: close": the client learns it only from the socket

    threading.Thread(target=run, daemon=True).start()
    session = Session(hosts={"svc": srv.getsockname()[0]})
    for _ in range(3):
        resp = session.request("http://svc:9080/")
        assert (resp.status, resp.body, resp.error) == (200, b"ok", None)
    assert len(accepted) == 3
