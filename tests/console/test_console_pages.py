"""The console in a real browser (headless Chromium): every page renders with live data,
keyboard navigation works, and axe-core finds no serious accessibility violation."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import shot

pytestmark = pytest.mark.envoy


def open_page(browser, console, path: str) -> None:
    browser.get(console["url"])  # sets the session cookie
    browser.get(console["base"] + path)


def wait_text(browser, css: str, text: str, timeout: float = 20.0) -> None:
    WebDriverWait(browser, timeout, poll_frequency=0.2).until(
        lambda d: text in d.find_element(By.CSS_SELECTOR, css).text,
        f"{text!r} never appeared in {css}",
    )


def axe_violations(browser) -> list[dict]:
    from axe_selenium_python import Axe

    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_mesh_page_lists_pods_and_synced_proxies(browser, console):
    open_page(browser, console, "/mesh")
    wait_text(browser, "#pods tbody", "productpage-v1")
    wait_text(browser, "#proxies tbody", "SYNCED")
    assert "reviews-v3" in browser.find_element(By.CSS_SELECTOR, "#pods tbody").text
    shot(browser, "mesh")
    assert axe_violations(browser) == []


def test_keyboard_reaches_the_skip_link_then_the_pages(browser, console):
    open_page(browser, console, "/mesh")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Skip to content"
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Labs"
