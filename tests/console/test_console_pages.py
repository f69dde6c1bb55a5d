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


LAB = "02-request-routing"


@pytest.fixture
def started_lab(console_mesh):
    from local.test_mesh import cli_subprocess

    root = str(console_mesh.root)
    done = cli_subprocess("lab", "start", LAB, "--state-dir", root)
    assert done.returncode == 0, done.stderr
    yield root
    cli_subprocess("lab", "cleanup", "--lab", LAB, "--state-dir", root)


def test_lab_page_ticks_a_task_green_when_the_solution_is_applied_from_a_terminal(
    browser, console, started_lab
):
    from local.test_mesh import cli_subprocess

    from istiolab.labs.format import find_lab, labs_root

    open_page(browser, console, "/labs")
    wait_text(browser, "#labs", LAB)
    browser.find_element(By.LINK_TEXT, LAB).click()
    task = browser.find_element(By.ID, "task-1")
    WebDriverWait(browser, 30, poll_frequency=0.2).until(
        lambda d: task.get_attribute("data-state") == "failed", "task 1 never checked"
    )
    assert "expected" in task.find_element(By.CSS_SELECTOR, ".why").text
    shot(browser, "lab-start")
    assert axe_violations(browser) == []
    # the learner applies the solution in a terminal; the page turns green by itself
    solution = find_lab(labs_root(None), LAB).path / "solution" / "virtual-service-all-v1.yaml"
    done = cli_subprocess("apply", "-f", str(solution), "--state-dir", started_lab)
    assert done.returncode == 0, done.stderr
    WebDriverWait(browser, 30, poll_frequency=0.2).until(
        lambda d: task.get_attribute("data-state") == "passed", "task 1 never turned green"
    )
    assert browser.find_element(By.ID, "task-2").get_attribute("data-state") == "failed"
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, "lab")
    browser.find_element(By.CSS_SELECTOR, "#task-2 button.hint").click()
    wait_text(browser, "#task-2 .hints", "Hint 1")
