"""The data cockpit (`GET /cockpit`) in a real headless Chromium against a live server.

A call is taken through to the handover, then the page (dispatcher token in the fragment)
must show it in its figures; a tablet sends pictures and the video view must show one less
than 2 s old; a unit's token is refused. Screenshots go to `$JIJIU_TEST_ARTIFACTS` (default: the
test's tmp dir). Every wait is Playwright's; nothing is timed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.pages import WAIT_MS, Screen, screen_of
from tests.support.server import Running, auth, recv_until
from tests.support.tablet import patient_on_the_way, picture


@pytest.fixture
def screen(browser: Browser) -> Iterator[Screen]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        yield screen_of(context.new_page())
    finally:
        context.close()


def artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("JIJIU_TEST_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def journey(live: Running) -> str:
    """A chest-pain call taken by ALS01 to zjpph and handed over."""
    iid = patient_on_the_way(live)
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        for status in ("en_route", "on_scene", "transporting", "at_hospital"):
            tablet.send(json.dumps({"type": "status", "status": status}))
            recv_until(tablet, lambda f: f["type"] == "accepted")
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/handover", headers=auth(live.tokens["dispatcher"])
    )
    assert r.status_code == 200
    return iid


def test_the_cockpit_shows_the_period_s_figures_and_live_video(
    live: Running, screen: Screen, tmp_path: Path
) -> None:
    journey(live)
    page = screen.page
    page.goto(f"{live.http}/cockpit#token={live.tokens['dispatcher']}")
    expect(page.locator("#calls")).to_have_text("1", timeout=WAIT_MS)
    response = page.locator('#intervals tr[data-interval="response"] td')
    expect(response.nth(1)).to_have_text("1")
    expect(response.nth(2)).not_to_have_text("—")  # non-empty percentiles
    expect(page.locator("#compliance tbody tr")).to_have_count(2)
    page.select_option("#preset", "nfpa")
    expect(page.locator("#compliance tbody tr").first).to_contain_text("NFPA 1225")

    stop = threading.Event()

    def send_pictures() -> None:  # a tablet streaming about 2 pictures a second
        with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
            json.loads(tablet.recv(timeout=10))
            shade = 0
            while not stop.is_set():
                tablet.send(picture(shade % 255))
                shade += 40
                time.sleep(0.5)

    sender = threading.Thread(target=send_pictures, daemon=True)
    sender.start()
    try:
        page.fill("#video-form input[name=unit]", "ALS01")
        page.click("#video-form button")
        expect(page.locator("#video-frame")).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function(
            "() => { const s = document.querySelector('#video-age').dataset.ageS;"
            " const a = s ? Number(s) : NaN;"  # Number("") is 0: an empty label is no age
            " return Number.isFinite(a) && a < 2; }",
            timeout=WAIT_MS,
        )
        page.screenshot(path=str(artifacts(tmp_path) / "cockpit.png"), full_page=True)
    finally:
        stop.set()
        sender.join(timeout=10)
    assert screen.problems == []


def test_the_cockpit_refuses_a_unit_token(live: Running, screen: Screen) -> None:
    page = screen.page
    page.goto(f"{live.http}/cockpit#token={live.tokens['units']['ALS01']}")
    expect(page.locator("#login")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#banner")).to_contain_text("may not open the cockpit")
    expect(page.locator("#board")).to_be_hidden()
