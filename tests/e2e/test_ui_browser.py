"""The dashboard in a real browser (headless Chromium under Selenium) against a real
``dcmanager-all`` with simulated subclouds: an admin sees the fleet, creates and applies
a strategy from the page, watches it finish and aborts another, and sees a site with
its application and its own overrides; with Keystone, a reader logs in and gets no
action buttons, an admin gets them."""

import base64
import hashlib
import json
import time
import urllib.request

import pytest
import requests
from selenium.common.exceptions import NoSuchElementException
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests import apps as test_apps
from tests import browser as test_browser
from tests import releases as test_releases
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.e2e.deployment import FAST_SETTINGS
from tests.functional.strategy_helpers import wait_for
from tests.services import free_port

SUBCLOUDS = 12
WAIT = 30


@pytest.fixture(scope="module")
def browser():
    driver = test_browser.start()
    yield driver
    driver.quit()


class Embedded:
    """``dcmanager-all`` on its own state directory, with a release in its store."""

    def __init__(self, tmp_path, services, keystone=None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keystone = keystone
        config = tmp_path / "dcmanager.conf"
        config.write_text(
            f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n"
            f"auth_strategy = {'keystone' if keystone else 'noauth'}\n"
            f"[api]\nbind_port = {self.port}\n"
            + FAST_SETTINGS
            + (keystone.authtoken_options() if keystone else "")
        )
        env = clean_env(tmp_path) | {"DCMANAGER_SIMULATOR_STATE": str(tmp_path / "sim")}
        self.service = Service(
            "dcmanager-all", ["--config-file", str(config)], env, tmp_path / "all.log"
        )
        services.append(self.service)
        self.service.wait_for_http(self.url + "/")

    def call(self, method: str, path: str, body=None, data: bytes | None = None):
        headers = {"Content-Type": "application/octet-stream" if data else "application/json"}
        if self.keystone:
            headers["X-Auth-Token"] = self.keystone.token(self.keystone.admin)
        payload = data if data is not None else (json.dumps(body).encode() if body else None)
        request = urllib.request.Request(self.url + path, payload, headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def populate(self, options: str = "") -> None:
        """A release, and managed subclouds the audit brings online."""
        package = test_releases.package("25.09")
        digest = "sha256:" + hashlib.sha256(package).hexdigest()
        self.call("PUT", f"/v1.0/blobs/{digest}", data=package)
        files = [{"path": "p.deb", "size": len(package), "digest": digest}]
        self.call("POST", "/v1.0/releases", {"version": "25.09", "files": files})
        entries = [
            {"name": f"sc{n:02d}", "endpoint": f"simulated://sc{n:02d}{options}"}
            for n in range(SUBCLOUDS)
        ]
        self.call("POST", "/v1.0/subclouds/bulk", {"subclouds": entries, "manage": True})


def _text(driver, selector: str) -> str:
    try:
        return driver.find_element(By.CSS_SELECTOR, selector).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def _wait_text(driver, selector: str, wanted, what: str) -> str:
    """Until the element's text satisfies ``wanted`` (a string it must equal, or a test)."""
    test = wanted if callable(wanted) else (lambda text: text == wanted)
    try:
        return wait_for(
            lambda: (text := _text(driver, selector)) and test(text) and text, WAIT, what
        )
    except AssertionError as exc:
        # What the page showed instead, and what the browser logged.
        logs = [entry["message"] for entry in driver.get_log("browser")]
        raise AssertionError(f"{exc}; the page: {_text(driver, 'body')!r}; {logs}") from None


def _click(driver, selector: str) -> None:
    """Click it, found again if the view was drawn anew meanwhile (it is, every poll)."""

    def clicked() -> bool:
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    wait_for(clicked, WAIT, selector)


def _confirm(driver) -> None:
    wait_for(lambda: _alert(driver), WAIT, "the confirmation").accept()


def _alert(driver):
    try:
        return driver.switch_to.alert
    except Exception:  # noqa: BLE001 - none open yet
        return None


def _create_prestage(driver, max_parallel: int) -> None:
    _wait_text(driver, "#no-strategy", "No strategy.", "no strategy")
    form = driver.find_element(By.CSS_SELECTOR, "#create")
    Select(form.find_element(By.NAME, "type")).select_by_value("prestage")
    field = form.find_element(By.NAME, "max")
    field.clear()
    field.send_keys(str(max_parallel))
    form.find_element(By.NAME, "password").send_keys("Li69nux*")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(driver, "dd[data-field=state]", "initial", "the strategy created")


def test_an_admin_sees_the_fleet_and_runs_strategies_from_the_page(tmp_path, services, browser):
    dcmanager = Embedded(tmp_path, services)
    dcmanager.populate("?delay=0.3")
    browser.get(dcmanager.url + "/ui/")

    # The fleet: every subcloud a cell, online once the audit heard from it.
    _wait_text(browser, "#fleet-count", f"{SUBCLOUDS} of {SUBCLOUDS} subclouds", "the grid")
    _wait_text(browser, "#legend li[data-value=online]", f"online {SUBCLOUDS}", "all online")
    timings = browser.execute_script("return window.dcmanagerTimings")
    assert timings["firstRender"] > 0
    Select(browser.find_element(By.ID, "color-by")).select_by_value("prestage")
    assert _text(browser, "#legend li[data-value=none]") == f"none {SUBCLOUDS}"
    browser.find_element(By.ID, "filter").send_keys("sc1")
    _wait_text(browser, "#fleet-count", f"2 of {SUBCLOUDS} subclouds", "the filter")

    # An application at sc03, with an override of its own.
    dcmanager.call("POST", "/v1.0/apps", data=test_apps.app_tarball())
    dcmanager.call(
        "POST", "/v1.0/subclouds/sc03/apps/demo", {"action": "apply", "version": "1.0.0"}
    )
    dcmanager.call(
        "PATCH",
        "/v1.0/helm_charts/demo-api?app=demo&subcloud=sc03",
        {"flag": "reuse", "values": {"set": ["replicas=3"]}},
    )

    # Create, apply, watch it end, delete it.
    browser.get(dcmanager.url + "/ui/#/strategy")
    _create_prestage(browser, max_parallel=4)
    assert _text(browser, "#step-counts") == f"initial {SUBCLOUDS}"
    _click(browser, "button[data-action=apply]")
    _confirm(browser)
    _wait_text(browser, "dd[data-field=state]", "complete", "the strategy to complete")
    assert _text(browser, "#step-counts") == f"complete {SUBCLOUDS}"
    assert "12/12 past it" in _text(browser, ".phase[data-phase=prestaging-images]")
    # Every site received a simulated release: 5 GiB each.
    assert _text(browser, "#transfers") == f"Moved: {5 * SUBCLOUDS}.0 GiB"
    _click(browser, "button[data-action=delete]")
    _confirm(browser)

    # Another, aborted while it runs: the steps not started are aborted.
    _create_prestage(browser, max_parallel=2)
    _click(browser, "button[data-action=apply]")
    _confirm(browser)
    _wait_text(browser, "dd[data-field=state]", "applying", "the strategy to apply")
    _click(browser, "button[data-action=abort]")
    _confirm(browser)
    _wait_text(browser, "dd[data-field=state]", "aborted", "the strategy to be aborted")
    assert "aborted" in _text(browser, "#step-counts")

    # A site: its details and its step.
    browser.get(dcmanager.url + "/ui/#/site/sc03")
    _wait_text(browser, "dd[data-field=availability-status]", "online", "the site view")
    assert _text(browser, "#site-step [data-field=state]").endswith("(attempt 1)")
    _wait_text(browser, "#site-apps tr[data-app=demo] td:nth-child(3)", "applied", "its app")
    assert "demo-api demo-api-0.1.0 rev 1" in _text(browser, "#site-apps .ledger")
    assert _text(browser, "#site-overrides pre") == "replicas: 3"
    assert "Traceback" not in dcmanager.service.log


def _log_in(driver, url: str, user) -> dict:
    driver.get(url + "/ui/#/login")
    form = wait_for(lambda: driver.find_elements(By.ID, "login"), WAIT, "the login form")[0]
    for name, value in (
        ("username", user.name),
        ("password", user.password),
        ("project", user.project),
    ):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(driver, "#fleet-count", lambda text: text.endswith("subclouds"), "the fleet")
    return driver.execute_script("return JSON.parse(sessionStorage.getItem('dcmanager.session'))")


def test_with_keystone_a_reader_gets_no_buttons_and_an_admin_does(
    tmp_path, services, browser, keystone
):
    dcmanager = Embedded(tmp_path, services, keystone)
    dcmanager.populate()
    browser.get(dcmanager.url + "/ui/")
    assert wait_for(lambda: "#/login" in browser.current_url, WAIT, "the login page")

    # A wrong password is refused with the reason, and no session.
    form = wait_for(lambda: browser.find_elements(By.ID, "login"), WAIT, "the form")[0]
    form.find_element(By.NAME, "username").send_keys(keystone.viewer.name)
    form.find_element(By.NAME, "password").send_keys("wrong")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(browser, "#login-error", "The username, password or project is wrong", "refusal")

    reader = _log_in(browser, dcmanager.url, keystone.viewer)
    assert reader["roles"] == ["reader"]
    assert not any(reader["allowed"].values())
    browser.get(dcmanager.url + "/ui/#/strategy")
    _wait_text(browser, "#no-strategy", "No strategy.", "no strategy")
    time.sleep(1.5)  # a poll later: still no form
    assert not browser.find_elements(By.ID, "create")

    admin = _log_in(browser, dcmanager.url, keystone.admin)
    assert all(admin["allowed"].values())
    browser.get(dcmanager.url + "/ui/#/strategy")
    _create_prestage(browser, max_parallel=2)
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action=apply]")
    password = base64.b64encode(b"Li69nux*").decode()
    assert password not in dcmanager.service.log

    # Logging out revokes the token at Keystone.
    assert keystone.valid(admin["token"])
    _click(browser, "#logout")
    assert wait_for(lambda: "#/login" in browser.current_url, WAIT, "the login page")
    assert wait_for(lambda: not keystone.valid(admin["token"]), WAIT, "the token revoked")
    # A token already revoked is as good as logged out.
    again = requests.delete(
        dcmanager.url + "/ui/login", headers={"X-Auth-Token": admin["token"]}, timeout=30
    )
    assert again.status_code == 204
