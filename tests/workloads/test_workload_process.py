"""The process contract: readiness line, SIGTERM, errors, keep-alive."""

from __future__ import annotations

import os
import signal
import socket

from wl_helpers import new_ip, read_line

from istiolab.workloads.client import send


def test_ready_line_and_sigterm_exit(start):
    w = start("istio/examples-bookinfo-ratings-v1", pod_name="ratings-v1-0")
    assert w.ready_line == f"ready {w.ip}:9080"
    os.kill(w.proc.pid, signal.SIGTERM)
    assert w.proc.wait(timeout=5) == 0
    assert send(f"{w.url}/health").error == "refused"


def test_several_listeners(spawn):
    ip = new_ip()
    proc = spawn(
        ["serve", "--image", "fortio/fortio", "--listen", f"{ip}:8080", "--listen", f"{ip}:8079"]
    )
    assert read_line(proc, 15) == f"ready {ip}:8080 {ip}:8079"
    assert send(f"http://{ip}:8079/", data="x", method="POST").body == b"x"


def test_sleep_image_serves_nothing_and_stops_on_sigterm(spawn):
    ip = new_ip()
    proc = spawn(["serve", "--image", "curlimages/curl:8.16.0", "--listen", f"{ip}:80"])
    assert read_line(proc, 15) == "ready"
    assert send(f"http://{ip}:80/").error == "refused"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=5) == 0


def test_unsupported_image_is_refused(spawn):
    proc = spawn(
        ["serve", "--image", "nginx:1.27", "--listen", f"{new_ip()}:80", "--pod-name", "web-0"]
    )
    assert proc.wait(timeout=15) == 1
    err = proc.stderr.read().decode()
    assert "image 'nginx:1.27' has no local implementation" in err
    assert "docker.io/istio/examples-bookinfo-productpage-v1" in err


def test_serving_image_needs_listen(spawn):
    proc = spawn(["serve", "--image", "kong/httpbin"])
    assert proc.wait(timeout=15) == 1
    err = proc.stderr.read().decode()
    assert "--listen HOST:PORT is required for image 'kong/httpbin'" in err
    assert "by default on port 80" in err


def test_address_in_use_is_an_error(spawn, request):
    ip = new_ip()
    taken = socket.socket()
    taken.bind((ip, 9080))
    taken.listen(1)
    request.addfinalizer(taken.close)
    image = "istio/examples-bookinfo-details-v1"
    proc = spawn(["serve", "--image", image, "--listen", f"{ip}:9080"])
    assert proc.wait(timeout=15) == 1
    assert f"cannot listen on {ip}:9080" in proc.stderr.read().decode()


def test_keep_alive_serves_many_requests_on_one_connection(start):
    w = start("istio/examples-bookinfo-details-v1")
    with socket.create_connection((w.ip, w.port)) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(b"GET /details/0 HTTP/1.1\r\nHost: details:9080\r\n\r\n")
            status = reader.readline()
            assert status.startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert b'"publisher": "PublisherA"' in reader.read(length)
        # an absolute-form request (what a sidecar-less proxy client sends) is served too
        sock.sendall(b"GET http://details:9080/health HTTP/1.1\r\nHost: details:9080\r\n\r\n")
        assert reader.readline().startswith(b"HTTP/1.1 200")
