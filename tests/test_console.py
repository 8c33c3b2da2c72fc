"""The operator's console in a real browser (Playwright driving Debian's chromium): log in with
an API key, find a flow paused by its connection with the reason, replay a dead letter (the
receiver then gets it), and run an action from the form built from its JSON Schema.
Screenshots are kept in test-artifacts/console/."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.core.settings import Settings
from engine.polling import delivery
from engine.wiring import open_runtime
from tests.conftest import ROOT
from tests.polling_support import receiver, subscribe  # noqa: F401
from tests.test_status import paused_flow, poll_now

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        message = (f"no browser at {CHROMIUM}: install Debian's chromium package (apt-get "
                   "install chromium; .ci/run does) to run the console's browser test")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def deliver(sub_id: str, **settings) -> None:
    """Run the subscription's delivery job until it has nothing left to do (in a thread of its
    own: Playwright's sync API keeps an event loop in this one)."""
    async def go():
        rt = await open_runtime(Settings(**settings))
        try:
            while await delivery.run_subscription(rt, sub_id) != {"sent": 0, "failed": 0}:
                pass
        finally:
            await rt.close()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


@pytest.mark.covers("contacts.search_contacts", "contacts.create_contact")
def test_the_console_in_a_browser(api, api_server, sandbox, connection, receiver, page):  # noqa: F811
    _, _, flow = paused_flow(api, sandbox)
    sub = subscribe(api, connection, receiver)
    poll_now(api, sub["id"])
    receiver.status = 500
    api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Dee"}}).raise_for_status()
    assert poll_now(api, sub["id"])["deliveries"] == 1
    deliver(sub["id"], ENGINE_DELIVERY_RETRY_SCHEDULE="")  # no retries: a dead letter at once
    (dead,) = api.get(f"/v1/subscriptions/{sub['id']}/deliveries",
                      params={"status": "dead"}).json()["deliveries"]
    receiver.status = 200
    receiver.received.clear()

    page.goto(api_server.url + "/console")
    assert page.url.endswith("/console/login")  # no key yet
    page.fill("#api_key", "ghle_not-a-key")
    page.click("button[type=submit]")
    assert "unknown or revoked API key" in page.content()
    page.fill("#api_key", api.api_key)
    page.click("button[type=submit]")
    row = page.locator("#flows tr", has_text=flow["name"])
    assert "paused" in row.inner_text() and "GoHighLevel refused" in row.inner_text()
    page.screenshot(path=str(SHOTS / "1-overview-paused-flow.png"), full_page=True)

    page.click(f"#subscriptions a:text('{sub['id']}')")
    dead_row = page.locator("#dead tr", has_text=dead["id"])
    assert "HTTP 500" in dead_row.inner_text()
    page.screenshot(path=str(SHOTS / "2-dead-letter.png"), full_page=True)
    dead_row.locator("button", has_text="Replay").click()
    assert f"{dead['id']} queued again" in page.content()
    page.screenshot(path=str(SHOTS / "3-replayed.png"), full_page=True)
    deliver(sub["id"])
    assert [r["headers"]["webhook-id"] for r in receiver.accepted()] == [dead["id"]]

    page.goto(api_server.url + "/console/catalog?q=create contact")
    page.click("a:text('contacts.create_contact')")
    page.select_option("#connection_id", connection["id"])
    page.fill("#f_firstName", "Browser")
    page.fill("#f_email", "browser@example.com")
    page.click("#try button[type=submit]")
    result = page.locator("#result").inner_text()
    assert "Browser" in result and "browser@example.com" in result
    page.screenshot(path=str(SHOTS / "4-action-from-form.png"), full_page=True)
    made = [c for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]
            if c.get("email") == "browser@example.com"]
    assert len(made) == 1 and made[0]["firstName"] == "Browser"
