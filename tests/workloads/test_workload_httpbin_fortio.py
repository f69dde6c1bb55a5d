"""httpbin and fortio's server as real processes."""

from __future__ import annotations

import threading
import time

import pytest

from istiolab.workloads.client import send


@pytest.fixture
def httpbin(start):
    return start("docker.io/kong/httpbin", port=8080)


def test_httpbin_get_and_headers(httpbin):
    headers = {
        "x-b3-traceid": "abc",
        "X-Envoy-Attempt-Count": "1",
        "x-request-id": "hidden",
        "X-Forwarded-Client-Cert": "By=spiffe://cluster.local/ns/foo/sa/httpbin",
    }
    get = send(f"{httpbin.url}/get?a=1&b=2&b=3", headers=headers)
    assert get.status == 200 and get.headers["content-type"] == "application/json"
    body = get.json()
    assert body["args"] == {"a": "1", "b": ["2", "3"]}
    assert body["url"] == f"{httpbin.url}/get?a=1&b=2&b=3"
    assert body["origin"] == "127.0.0.1" or body["origin"].startswith("127.")
    h = body["headers"]
    assert h["X-B3-Traceid"] == "abc"
    assert h["X-Envoy-Attempt-Count"] == "1"
    assert h["X-Forwarded-Client-Cert"].startswith("By=spiffe://")
    assert h["User-Agent"].startswith("curl/") and h["Host"] == f"{httpbin.ip}:8080"
    assert "X-Request-Id" not in h  # hidden like httpbin does, unless show_env
    shown = send(f"{httpbin.url}/headers?show_env=1", headers=headers).json()["headers"]
    assert shown["X-Request-Id"] == "hidden"
    assert send(f"{httpbin.url}/headers", headers=headers).json()["headers"]["X-B3-Traceid"]


def test_httpbin_endpoints(httpbin):
    u = httpbin.url
    assert send(f"{u}/ip", headers={"X-Forwarded-For": "10.0.0.7"}).json() == {"origin": "10.0.0.7"}
    assert send(f"{u}/status/418").status == 418
    assert send(f"{u}/status/503").status == 503
    assert send(f"{u}/status/200").body == b""
    assert send(f"{u}/status/abc").status == 400
    assert send(f"{u}/status/302").headers["location"] == "/redirect/1"
    json_type = {"Content-Type": "application/json"}
    post = send(f"{u}/post", method="POST", data='{"k": "v"}', headers=json_type)
    assert post.json()["json"] == {"k": "v"} and post.json()["data"] == '{"k": "v"}'
    form = send(f"{u}/post", method="POST", data="a=1&b=2").json()  # curl -d: a form
    assert form["form"] == {"a": "1", "b": "2"}
    assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert send(f"{u}/post").status == 405
    assert send(f"{u}/get", method="POST").status == 405
    text_type = {"content-type": "text/plain"}
    anything = send(f"{u}/anything/x/y", method="PUT", data="z", headers=text_type).json()
    assert anything["method"] == "PUT" and anything["data"] == "z"
    rh = send(f"{u}/response-headers?X-Test=1&freeform=hi")
    assert rh.headers["x-test"] == "1" and rh.headers["freeform"] == "hi"
    assert rh.json()["X-Test"] == "1"
    assert rh.json()["Content-Length"] == str(len(rh.body))
    assert "Moby-Dick" in send(f"{u}/html").text
    assert len(send(f"{u}/uuid").json()["uuid"]) == 36
    assert len(send(f"{u}/bytes/1024").body) == 1024
    delayed = send(f"{u}/delay/1")
    assert delayed.status == 200 and delayed.elapsed >= 1.0
    assert send(f"{u}/user-agent").json() == {"user-agent": "curl/8.16.0"}
    assert send(f"{u}/nope").status == 404


def test_httpbin_serves_many_concurrent_delayed_requests(httpbin):
    results: list[int] = []
    lock = threading.Lock()

    def call():
        status = send(f"{httpbin.url}/delay/1", timeout=30).status
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(120)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 120
    # served concurrently: far less than 120 x 1 s
    assert time.perf_counter() - t0 < 30


def test_fortio_echo_server(start):
    fortio = start("fortio/fortio:latest_release", port=8080, pod_name="fortio-deploy-abc-0")
    echo = send(f"{fortio.url}/echo", method="POST", data="hello")
    assert (echo.status, echo.body) == (200, b"hello")
    assert send(f"{fortio.url}/?status=503").status == 503
    assert send(f"{fortio.url}/?status=429:100").status == 429
    assert len(send(f"{fortio.url}/?size=100").body) == 100
    h = send(f"{fortio.url}/?header=X-Hello:World")
    assert h.headers["x-hello"] == "World"
    debug = send(f"{fortio.url}/debug", headers={"X-Probe": "1"}).text
    assert "echo debug server" in debug and "fortio-deploy-abc-0" in debug
    assert "X-Probe: 1" in debug and "GET /debug HTTP/1.1" in debug
    delayed = send(f"{fortio.url}/?delay=200ms")
    assert delayed.status == 200 and delayed.elapsed >= 0.2
    assert "Φορτίο" in send(f"{fortio.url}/fortio/").text


def test_go_httpbin_reports_lists(start):
    go = start("docker.io/mccutchen/go-httpbin:v2.15.0", port=8080)
    body = send(f"{go.url}/get?a=1", headers={"X-B3-Sampled": "1"}).json()
    assert body["args"] == {"a": ["1"]}
    assert body["headers"]["X-B3-Sampled"] == ["1"]
    assert body["method"] == "GET"
    assert send(f"{go.url}/headers").json()["headers"]["User-Agent"] == ["curl/8.16.0"]
    json_type = {"Content-Type": "application/json"}
    posted = send(f"{go.url}/post", method="POST", data='{"k": 1}', headers=json_type).json()
    assert posted["json"] == {"k": 1} and posted["method"] == "POST"
