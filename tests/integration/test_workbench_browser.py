"""The workbench in headless Chromium, on the real stack: a real `credence worker` detects a wash
ring (the golden case wash_ring_vs_households), a real `credence inspect` process (the inspector
principal) feeds its read model from the topics, and an inspector logs in, opens the case from
the queue, confirms it with a reason, and sees the blacklist entry and the audit line.

The run leaves screenshots of the queue and of the case page in docs/screenshots/ (the README
shows them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import CI
from tests.integration.support import ROOT, consume_all, free_port, produce, settings_env

pytestmark = pytest.mark.integration

FAST = {"idle_seconds": 1.0, "batch_wait": 0.02}
CASE = ROOT / "tests" / "fixtures" / "wash_ring_vs_households" / "events.jsonl"
SHOTS = ROOT / "docs" / "screenshots"
SELLER = "s_client"
PW = "correct horse battery"


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        msg = "chromium and chromedriver are needed (make setup installs them)"
        if CI:
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)
    return chromium, driver


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1360,1000", f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver_path), options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


@pytest.fixture
def workbench(env_factory, worker_factory, infra, tmp_path):
    """Topics fed with the golden wash ring, a worker, and `credence inspect` on a free port."""
    from config.credentials import as_principal
    from credence.security import apply_acls, revoke_acls
    from credence.workbench.auth import LenderTokens, UserStore

    s = env_factory(partitions=3, **FAST)
    if infra.secure:
        apply_acls(s, "inspector", "inspector", s)
    produce(s, CASE.read_bytes().splitlines())
    w = worker_factory(s)
    ws = as_principal(s, "inspector") if s.kafka_username else s
    ws = ws.model_copy(update={"home": tmp_path / "wb", "inspect_port": free_port()})
    UserStore(ws.home).add("ann", "inspector", PW)
    UserStore(ws.home).add("bob", "inspector", PW)
    token = LenderTokens(ws.home).add("bank-a")
    log = tmp_path / "inspect.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "credence.cli", "inspect"],
                                env=settings_env(ws), stdout=fh, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{ws.inspect_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):  # noqa: S310
                    break
            except (OSError, urllib.error.HTTPError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"workbench did not start:\n{log.read_text()}") \
                        from None
                time.sleep(0.3)
        yield {"base": base, "settings": s, "worker": w, "token": token, "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if infra.secure:
            revoke_acls(s, "inspector", "inspector", s)


def _post(url: str, data: dict[str, str], cookie: str | None = None) -> int:
    req = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(),  # noqa: S310
                                 method="POST")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_inspector_confirms_a_wash_ring_in_the_browser(workbench, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, d = workbench["base"], browser
    # Log in (through the queue, which sends us to the login page and back).
    d.get(f"{base}/queue")
    assert "/login" in d.current_url
    d.find_element(By.ID, "username").send_keys("ann")
    d.find_element(By.ID, "password").send_keys(PW)
    d.find_element(By.ID, "login").click()
    WebDriverWait(d, 10).until(lambda d: d.current_url.endswith("/queue"))

    # The wash ring's case shows up in the queue without a reload (the page polls).
    def row_there(d) -> bool:
        return bool(d.find_elements(By.CSS_SELECTOR, f'tr[data-entity="{SELLER}"]'))

    try:
        WebDriverWait(d, 300, poll_frequency=1).until(row_there)
    except Exception:
        raise AssertionError(f"no case for {SELLER} in the queue:\n"
                             f"{workbench['worker'].tail()}\n{workbench['log'].read_text()}"
                             ) from None
    time.sleep(4)  # let the remaining alerts of the ring arrive, for the screenshot
    d.refresh()
    row = d.find_element(By.CSS_SELECTOR, f'tr[data-entity="{SELLER}"]')
    assert "sock_puppets" in row.text
    SHOTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(SHOTS / "workbench-queue.png"))

    # The case page: alerts with evidence, plots, score reasons in words.
    row.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(d, 10).until(lambda d: d.current_url.endswith(f"/case/{SELLER}"))
    body = d.find_element(By.TAG_NAME, "body").text
    assert "Alerts (" in body and "Decide" in body
    assert len(d.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 1
    d.set_window_size(1360, 1500)
    d.save_screenshot(str(SHOTS / "workbench-case.png"))
    d.set_window_size(1360, 1000)

    # Confirm with a reason: the inspector is the login.
    d.find_element(By.ID, "action-confirm").click()
    d.find_element(By.ID, "reason").send_keys("sock puppets on shared phones and cards")
    d.find_element(By.ID, "decide-submit").click()
    WebDriverWait(d, 10).until(lambda d: d.find_elements(By.ID, "sent"))

    def listed_by_ann(d) -> bool:
        els = d.find_elements(By.ID, "listing-by")
        try:
            return bool(els) and els[0].text == "inspector:ann"
        except Exception:  # the page reloaded under us
            return False

    try:
        WebDriverWait(d, 120, poll_frequency=1).until(listed_by_ann)
    except Exception:
        raise AssertionError(f"no listing by inspector:ann:\n{workbench['worker'].tail()}"
                             ) from None
    assert d.find_element(By.ID, "listing-state").text == "listed"
    assert "confirmed by inspector" in d.find_element(By.ID, "listing-history").text

    # The audit page has the decision and the listing it caused.
    d.get(f"{base}/audit?entity={SELLER}")
    audit = d.find_element(By.ID, "audit").text
    assert "decision" in audit and "confirm ann" in audit
    assert "sock puppets on shared phones and cards" in audit
    assert "inspector:ann" in audit

    # The decisions are in Kafka, produced by the workbench with ann's name.
    msgs = consume_all(workbench["settings"], "decisions", idle=2, timeout=30)
    decisions = [orjson.loads(m.value()) for m in msgs]
    assert decisions and all(x["inspector"] == "ann" and x["entity_id"] == SELLER
                             for x in decisions)

    # Bob without a session cannot decide; a forged POST with ann's cookie but no CSRF token
    # is refused too.
    url = f"{base}/case/{SELLER}/decide"
    form = {"action": "dismiss", "reason": "forged", "entity_type": "seller"}
    assert _post(url, form) == 403
    cookie = d.get_cookie("credence_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert _post(url, form, cookie=f"credence_session={cookie['value']}") == 403
    assert _post(url, {**form, "csrf": "guess"},
                 cookie=f"credence_session={cookie['value']}") == 403

    # The lender API sees the listing and the reasons in words.
    req = urllib.request.Request(f"{base}/api/v1/sellers/{SELLER}/score",  # noqa: S310
                                 headers={"Authorization": f"Bearer {workbench['token']}"})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        api = orjson.loads(r.read())
    assert api["listed"] is True and api["band"] in "ABCDE"
    assert all(x["text"] for x in api["reasons"])


def test_screenshots_are_where_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("workbench-queue.png", "workbench-case.png"):
        assert f"docs/screenshots/{name}" in readme
        assert Path(SHOTS / name).exists()
