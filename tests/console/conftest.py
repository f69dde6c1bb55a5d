"""The console's browser tests: one local mesh (Bookinfo, httpbin, sleep, fortio) on this run's
own 127.<octet> prefix, the console served from this process on that prefix, and one headless
Chromium (Debian's chromium + chromium-driver, driven by Selenium) for every test. Screenshots
of each page are kept in reports/console/ as test artefacts."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import loopback
import pytest
from local.test_mesh import Mesh, running_mesh
from support import require

from istiolab.console import server
from istiolab.local.supervisor import wait_until

OCTET = loopback.take("console")
SAMPLES = "bookinfo,httpbin,sleep,fortio"
SHOTS = Path(__file__).resolve().parents[2] / "reports" / "console"


@pytest.fixture(scope="session")
def console_mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("console-mesh")
    with running_mesh(root, OCTET, SAMPLES, Mesh, "console mesh") as m:
        yield m


@pytest.fixture(scope="session")
def console(console_mesh):
    """The console of the mesh, served from a thread of this process; yields its URL."""
    prepared = server.prepare(
        Path(console_mesh.root), None, f"127.{OCTET}.0.9", None, None, record=True
    )
    running = server.serve(prepared.app, prepared.host, prepared.port, prepared.token, True)
    base = prepared.url.split("/?", 1)[0]

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/labs?token={prepared.token}", timeout=2):
                return True
        except OSError:
            return False

    wait_until(answers, 10.0, "the console to answer")
    yield {"url": prepared.url, "base": base, "token": prepared.token}
    running.stop()


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    driver_bin = shutil.which("chromedriver")
    require(
        chromium is not None and driver_bin is not None,
        "Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(arg)
    service = Service(driver_bin, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()  # stops chromedriver (the Service's process) and Chromium


def shot(driver, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
