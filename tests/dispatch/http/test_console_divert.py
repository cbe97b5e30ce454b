"""The console's divert suggestion in a real headless Chromium (issue 20 item 3): a P1 with no
free unit shows "Divert <unit> from <P3 incident>" with a button, and one click diverts the
unit: its tablet hears the withdrawal then the P1's offer. Two units only (ALS01, BLS02), both
sent to the P3 first, so no unit is free when the P1 comes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from dispatch.settings import Settings
from tests.support.pages import WAIT_MS, Console
from tests.support.server import HERE, Running, auth, new_call, phone_of, recv_until, start


@pytest.fixture
def floor(settings: Settings) -> Iterator[Running]:
    """The small Wulin server with two units only."""
    running = start(dataclasses.replace(settings, seed_fleet=2))
    yield running
    running.stop()


def test_one_click_on_the_suggested_divert_sends_the_unit_to_the_p1(
    floor: Running, console: Console, artefacts: Path
) -> None:
    """Both units on a P3; a cardiac arrest comes in: its detail shows the divert alert with a
    button; the click diverts the named unit (tablet: `offer.withdrawn`, then `offer.sent` for
    the P1) and the alert goes."""
    token = floor.tokens["dispatcher"]
    api = f"{floor.http}/api/v1/incidents"
    minor = new_call(floor, "minor").json()["incident_id"]
    triage = {"priority": 3, "complaint": "other", "determinant": ""}
    assert httpx.post(f"{api}/{minor}/triage", json=triage, headers=auth(token)).status_code == 200
    for unit_id, path in (("ALS01", "assignment"), ("BLS02", "units")):
        r = httpx.post(f"{api}/{minor}/{path}", json={"unit_id": unit_id}, headers=auth(token))
        assert r.status_code == 201, r.text
    console.open(floor, token)
    console.ready()
    page = console.page
    body = {
        "phone": phone_of("arrest"),
        "consent_location": True,
        "fix": HERE,
        "complaint": "cardiac_arrest",
    }
    r = httpx.post(f"{floor.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "arrest"})
    assert r.status_code == 201, r.text
    arrest = r.json()["incident_id"]
    console.row(arrest).click()
    expect(page.locator("#incident")).to_have_attribute("data-incident", arrest, timeout=WAIT_MS)
    alert = page.locator('#alerts li[data-kind="divert"]')
    expect(alert).to_contain_text(f"from {minor} (P3)", timeout=WAIT_MS)
    button = alert.locator("button.divert")
    unit_id = (button.text_content() or "").removeprefix("Divert ").strip()
    assert unit_id in ("ALS01", "BLS02")
    with floor.ws(f"/ws/units/{unit_id}", floor.tokens["units"][unit_id]) as tablet:
        assert json.loads(tablet.recv(timeout=10))["job"]["incident_id"] == minor
        button.click()
        withdrawn = recv_until(tablet, lambda f: f["type"] == "offer.withdrawn")
        offer = recv_until(tablet, lambda f: f["type"] == "offer.sent")
    assert withdrawn["incident_id"] == minor and offer["incident_id"] == arrest
    expect(alert).to_have_count(0, timeout=WAIT_MS)
    page.screenshot(path=str(artefacts / "console-divert.png"))
    assert console.problems == []
