"""The crew tablet (`GET /tablet`) in a real headless Chromium against a live server.

A device of ALS01 logs in with its own token (from `POST /api/v1/units/ALS01/devices`); a job
is offered and the page shows it; the device acknowledges and the server records that device;
statuses go out; then the browser is cut off the network (Playwright's offline emulation, the
Chrome DevTools Protocol's `Network.emulateNetworkConditions`), two status taps and one set of
vitals are made, the network comes back, and the server has each exactly once, in order.
A second device's token works on its own page and the console shows both acknowledgements.
Every wait is Playwright's (or a websocket's next frame); nothing is timed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from dispatch.settings import Settings
from dispatch.store.sqlite_log import SqliteLog
from tests.support.pages import WAIT_MS, console_of
from tests.support.server import HERE, Running, auth, recv_until
from tests.support.tablet import reply

LAST_SEQ = 2**52  # above any millisecond clock: the sentinel second sent last


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Two fresh browser contexts (two devices: own localStorage), tablet-sized."""
    made = [browser.new_context(viewport={"width": 900, "height": 1200}) for _ in range(2)]
    try:
        yield made
    finally:
        for context in made:
            context.close()


def device_token(live: Running, name: str) -> str:
    """A token for device `name` of ALS01, made by the dispatcher."""
    r = httpx.post(
        f"{live.http}/api/v1/units/ALS01/devices",
        json={"name": name},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def tablet(context: BrowserContext, live: Running, token: str) -> tuple[Page, list[str]]:
    """The tablet page logged in as one of ALS01's devices, connected; (page, its errors)."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.goto(f"{live.http}/tablet#unit=ALS01&token={token}")
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    assert "token" not in page.url  # the token left the address bar for localStorage
    return page, problems


def offer(live: Running) -> str:
    """A chest-pain call near 文三路, ALS01 assigned by the dispatcher; the incident id."""
    body = {
        "phone": "+8613800000066",
        "consent_location": True,
        "fix": HERE,
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "tab-1"})
    iid: str = r.json()["incident_id"]
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment",
        json={"unit_id": "ALS01"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 201, r.text
    return iid


def incident(live: Running, iid: str) -> dict[str, object]:
    r = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    body: dict[str, object] = r.json()
    return body


def drained(page: Page) -> None:
    """Wait until the page's queue is empty: every tap answered by the server."""
    expect(page.locator("#queued")).to_be_hidden(timeout=WAIT_MS)


def test_the_shell_and_its_manifest_and_worker_are_served_with_their_types(live: Running) -> None:
    """/tablet is HTML naming its manifest; /manifest.webmanifest is a web app manifest that
    starts at /tablet; /sw.js is JavaScript at the root; the policy allows both."""
    page = httpx.get(f"{live.http}/tablet")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'rel="manifest" href="/manifest.webmanifest"' in page.text
    csp = page.headers["content-security-policy"]
    assert "manifest-src 'self'" in csp and "worker-src 'self'" in csp
    manifest = httpx.get(f"{live.http}/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.json()["start_url"] == "/tablet" and manifest.json()["display"] == "standalone"
    worker = httpx.get(f"{live.http}/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "/static/tablet.js" in worker.text
    icon = httpx.get(f"{live.http}{manifest.json()['icons'][0]['src']}")
    assert icon.headers["content-type"] == "image/svg+xml"


def test_job_ack_statuses_then_offline_taps_reach_the_server_once_in_order(
    live: Running, settings: Settings, contexts: list[BrowserContext]
) -> None:
    """Offered → the card shows 胸痛 · Chest pain and the read-back; Acknowledge → the server
    lists device "doctor-pad"; en route → the route and ETA show; destination zjpph shows, and
    after a reload too (still logged in, still acknowledged); offline: on scene, transporting
    and HR 120 / SpO2 91 queue (3 waiting, the server still en route); online: the queue
    drains and the log holds en_route, on_scene, transporting once each, in that order, and
    the hospital got the vitals once."""
    page, problems = tablet(contexts[0], live, device_token(live, "doctor-pad"))
    expect(page.locator("#idle")).to_be_visible()
    iid = offer(live)
    job = page.locator("#job")
    expect(job).to_be_visible(timeout=WAIT_MS)
    expect(job).to_have_attribute("data-incident", iid)
    expect(page.locator("#complaint")).to_have_text("胸痛 · Chest pain")
    expect(page.locator("#address")).not_to_be_empty()
    expect(page.locator("#callback")).to_be_hidden()  # a crew token reads no caller number

    page.locator("#ack").click()
    expect(page.locator("#acked")).to_be_visible(timeout=WAIT_MS)
    assert incident(live, iid)["acked_devices"] == ["doctor-pad"]

    page.locator('button[data-status="en_route"]').click()
    drained(page)
    expect(page.locator("#route")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#eta")).to_contain_text("min")
    expect(page.locator("#turns li").first).to_be_visible()
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/destination",
        json={"hospital_id": "zjpph"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    expect(page.locator("#destination")).to_have_attribute(
        "data-hospital", "zjpph", timeout=WAIT_MS
    )

    page.reload()  # logged in still (localStorage); the job and its hospital from the snapshot
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    expect(page.locator("#destination")).to_have_attribute("data-hospital", "zjpph")
    expect(page.locator("#acked")).to_be_visible()

    with live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"]) as hospital:
        recv_until(hospital, lambda f: f["type"] == "snapshot")
        contexts[0].set_offline(True)
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "offline", timeout=WAIT_MS
        )
        page.locator('button[data-status="on_scene"]').click()
        page.locator('button[data-status="transporting"]').click()
        page.locator('#vitals input[name="hr"]').fill("120")
        page.locator('#vitals input[name="spo2"]').fill("91")
        page.locator("#vitals button[type=submit]").click()
        expect(page.locator("#queued")).to_have_attribute("data-count", "3")
        assert incident(live, iid)["step"] == "eTimes.05"  # the server still has en route only

        contexts[0].set_offline(False)
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )
        drained(page)
        # A last second from another tablet of the unit: every frame before it has arrived.
        with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as other:
            recv_until(other, lambda f: f["type"] == "snapshot")
            last = {"type": "vitals", "seq": LAST_SEQ, "at_s": 1.8e9, "numerics": {"hr": 70}}
            other.send(json.dumps(last))
            assert reply(other)["type"] == "accepted"
        seen = []
        while True:
            frame = recv_until(hospital, lambda f: f["type"] == "vitals")
            if frame["sample_seq"] == LAST_SEQ:
                break
            seen.append(frame)
    assert len(seen) == 1  # the queued vitals, once
    observations = json.dumps(seen[0]["bundle"])
    assert '"value": 120' in observations and '"value": 91' in observations

    log = SqliteLog(Path(settings.store_url.removeprefix("sqlite:///")))
    try:
        statuses = [
            r.event["status"]
            for r in log.read()
            if r.event["type"] == "UnitStatusReported" and r.event["unit_id"] == "ALS01"
        ]
    finally:
        log.close()
    assert statuses == ["en_route", "on_scene", "transporting"]
    assert incident(live, iid)["step"] == "eTimes.09"  # left scene (transporting)
    assert problems == []


def test_a_second_devices_ack_shows_separately_on_the_console(
    live: Running, contexts: list[BrowserContext], browser: Browser
) -> None:
    """The doctor's pad and the driver's phone, each with its own token, acknowledge the same
    job: the console's incident shows "doctor-pad" first, then both; the server lists both."""
    pad, _ = tablet(contexts[0], live, device_token(live, "doctor-pad"))
    phone, _ = tablet(contexts[1], live, device_token(live, "driver-phone"))
    desk = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        console = console_of(desk.new_page())
        console.open(live, live.tokens["dispatcher"])
        console.ready()
        iid = offer(live)
        console.row(iid).click()
        acks = console.page.locator("#crew-acks")
        for page in (pad, phone):
            expect(page.locator("#job")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
        pad.locator("#ack").click()
        expect(acks).to_have_attribute("data-devices", "doctor-pad", timeout=WAIT_MS)
        expect(acks).to_contain_text("doctor-pad")
        phone.locator("#ack").click()
        expect(acks).to_have_attribute("data-devices", "doctor-pad,driver-phone", timeout=WAIT_MS)
        expect(acks).not_to_have_class("crew-acks call-crew")
    finally:
        desk.close()
    assert incident(live, iid)["acked_devices"] == ["doctor-pad", "driver-phone"]
