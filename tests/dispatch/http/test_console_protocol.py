"""The console's protocol panel in a real headless Chromium against a live server (issue 20
item 2): on the selected call `q` opens the questions, two answers by number key (not awake,
not breathing normally) find a cardiac arrest, the telephone-CPR script shows with its
metronome, Enter records that coaching started. The acceptance: from `q` to the coaching
recorded takes under 30 s of wall time (generous: it is a few key presses), and TcprStarted is
in the event log. Without Chromium the test skips locally and fails under CI=true."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from tests.support.pages import WAIT_MS, Console
from tests.support.server import Running, auth, new_call

ACCEPTANCE_S = 30.0  # issue 20: the arrest path to the T-CPR script in at most 30 s of clicking


def test_q_two_answers_show_the_tcpr_script_and_enter_records_coaching(
    live: Running, settings: Settings, console: Console, artefacts: Path
) -> None:
    """A chest-pain call selected; q, 2 (not awake), 2 (not breathing normally): P1 cardiac
    arrest, seven script steps and a pulsing metronome at 110/min; Enter shows "coaching
    started"; all within 30 s; the log holds the protocol's triage and then TcprStarted."""
    made = new_call(live, "console-arrest")
    assert made.status_code == 201, made.text
    iid = made.json()["incident_id"]
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    console.row(iid).click()
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    started_s = time.monotonic()
    page.keyboard.press("q")
    expect(page.locator("#pr-question-en")).to_contain_text("awake", timeout=WAIT_MS)
    expect(page.locator("#pr-question-zh")).to_contain_text("清醒")
    page.keyboard.press("2")
    expect(page.locator("#pr-question-en")).to_contain_text("breathing normally")
    page.keyboard.press("2")
    expect(page.locator("#pr-tcpr")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#pr-determinant")).to_contain_text("P1")
    expect(page.locator("#pr-steps li")).to_have_count(7)
    expect(page.locator("#pr-steps")).to_contain_text("100到120次")
    expect(page.locator("#pr-steps")).to_contain_text("100 to 120 a minute")
    expect(page.locator("#pr-rate")).to_have_text("110")
    expect(page.locator("#pr-beat")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#pr-started")).to_contain_text("coaching started", timeout=WAIT_MS)
    took_s = time.monotonic() - started_s
    expect(page.locator("#pr-count")).not_to_have_text("0", timeout=WAIT_MS)  # it pulses
    page.screenshot(path=artefacts / "console-protocol-tcpr.png")
    assert took_s < ACCEPTANCE_S
    view = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"])
    ).json()
    assert (view["priority"], view["complaint"]) == (1, "cardiac_arrest")
    assert console.problems == []
    live.stop()
    log = open_log(settings.store_url)
    try:
        events = [r.event for r in log.read() if r.event.get("incident_id") == iid]
    finally:
        log.close()
    kinds = [e["type"] for e in events]
    assert "TcprStarted" in kinds
    triaged = next(e for e in events if e["type"] == "IncidentTriaged")
    assert triaged["protocol_id"] == "chest_pain"
    assert triaged["answers"] == ["awake=no", "breathing=no"]
    assert kinds.index("IncidentTriaged") < kinds.index("TcprStarted")


def test_escape_closes_the_panel_and_number_keys_go_back_to_triage(
    live: Running, console: Console
) -> None:
    """q opens, Esc closes with nothing sent; then 1 triages P1 as before (the panel no
    longer holds the keys)."""
    made = new_call(live, "console-esc")
    iid = made.json()["incident_id"]
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    console.row(iid).click()
    page.keyboard.press("q")
    expect(page.locator("#protocol")).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("Escape")
    expect(page.locator("#protocol")).to_be_hidden()
    page.keyboard.press("1")
    expect(page.locator("#d-priority")).to_contain_text("P1", timeout=WAIT_MS)
    assert console.problems == []
