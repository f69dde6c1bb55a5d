"""The console's views of traffic, in a real browser: the graph shows reviews v1/v2/v3 after
traffic through the gateway, a trace opens as a timeline of its spans, and a load run's
report renders its verdicts and plots. Screenshots: reports/console/."""

from __future__ import annotations

import http.client
import json
import urllib.request

import pytest
from local.test_mesh import cli, cli_subprocess
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from telemetry.test_mesh_telemetry import TRACING as TRACE_ALL  # 100 % sampling, mesh-wide

from istiolab.local.supervisor import wait_until

from .conftest import OCTET, shot
from .test_console_pages import axe_violations, open_page, wait_text

pytestmark = pytest.mark.envoy


def productpage(n: int) -> None:
    for _ in range(n):
        conn = http.client.HTTPConnection(f"127.{OCTET}.0.3", 8080, timeout=10)
        try:
            conn.request("GET", "/productpage")
            assert conn.getresponse().read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def traced(console_mesh, tmp_path_factory):
    path = tmp_path_factory.mktemp("telemetry") / "trace-all.yaml"
    path.write_text(TRACE_ALL)
    root = str(console_mesh.root)
    code, _, err = cli("apply", "-f", str(path), "--state-dir", root)
    assert code == 0, err
    productpage(24)  # round robin over reviews v1/v2/v3: each version sees 8
    yield root
    cli("delete", "-f", str(path), "--state-dir", root)


def test_graph_shows_bookinfo_with_every_reviews_version(browser, console, traced):
    open_page(browser, console, "/graph")
    for version in ("reviews v1", "reviews v2", "reviews v3", "ratings v1", "productpage v1"):
        wait_text(browser, "#nodes", version)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#graph svg"))
    edges = browser.find_element(By.ID, "edges")
    assert "istio-ingressgateway → default/svc/productpage" in edges.text
    shot(browser, "graph")
    assert axe_violations(browser) == []


def api(console, path: str):
    req = urllib.request.Request(
        console["base"] + path, headers={"Authorization": f"Bearer {console['token']}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


HOPS = ("istio-ingressgateway", "productpage", "details", "reviews")


def test_a_trace_opens_with_a_span_for_every_hop(browser, console, traced):
    # Envoy reports spans in batches, proxy by proxy: wait (through the console's own API)
    # for a trace through the gateway whose spans from every hop have all arrived
    found: list[str] = []

    def complete() -> bool:
        for t in api(console, "/api/traces?service=istio-ingressgateway&limit=20"):
            spans = api(console, f"/api/traces/{t['trace_id']}")["spans"]
            if all(any(s["service"].startswith(h) for s in spans) for h in HOPS):
                found.append(t["trace_id"])
                return True
        return False

    wait_until(complete, 30.0, "a trace with a span from every hop")
    open_page(browser, console, "/traces")
    browser.find_element(By.ID, "f-service").send_keys("istio-ingressgateway")
    browser.find_element(By.CSS_SELECTOR, "#filter button").click()
    # the page renders only its newest query and says which one it shows: wait for the
    # filtered list (the unfiltered first load may answer later and must not replace it)
    shown = "#traces[aria-busy='false'][data-query*='service=istio-ingressgateway']"
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, shown))
    link = f"#traces tbody a[href='/traces/{found[0]}']"
    browser.find_element(By.CSS_SELECTOR, link).click()
    wait_text(browser, "#spans tbody", "productpage")
    text = browser.find_element(By.CSS_SELECTOR, "#spans tbody").text
    for service in HOPS:
        assert service in text, text
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline svg"))
    shot(browser, "trace")
    assert axe_violations(browser) == []


def test_a_load_run_report_renders_its_verdicts_and_plots(browser, console, console_mesh):
    root = str(console_mesh.root)
    # a subprocess: Locust patches the interpreter with gevent, not for this test process
    done = cli_subprocess(
        "load", "circuit-breaker", "--from", "fortio", "--users", "3", "--requests", "30",
        "--state-dir", root, "-o", "json",
    )  # fmt: skip
    code, err = done.returncode, done.stderr
    result = json.loads(done.stdout)
    open_page(browser, console, "/load")
    wait_text(browser, "#runs tbody", "circuit-breaker")
    browser.find_element(By.CSS_SELECTOR, "#runs tbody a").click()
    wait_text(browser, "#verdicts", "share(")
    images = browser.find_elements(By.CSS_SELECTOR, ".plots img")
    assert len(images) >= 2
    for img in images:  # every plot actually decoded by the browser
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 100
    verdict = "PASS" if result["passed"] else "FAIL"
    assert verdict in browser.find_element(By.CSS_SELECTOR, ".lead").text
    assert (code == 0) == result["passed"], err
    shot(browser, "load-run")
    assert axe_violations(browser) == []
