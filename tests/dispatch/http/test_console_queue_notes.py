"""The console's queue, notes and the conflict confirm (issue 20 items 5 and 6) in a real
headless Chromium against a live server: a P1 older than two P2s is listed first and marked
overdue (P1's limit set to 1 s here), the P2s oldest first and not overdue; a note typed with
the keyboard shows in the incident panel and in the server's view; Enter on a call whose
location sources disagree asks first, and only `y` sends the unit. Every wait is Playwright's."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest
from playwright.sync_api import expect

from dispatch.settings import Settings
from tests.support.pages import WAIT_MS, Console
from tests.support.server import HERE, Running, auth, new_call

CELL = {"mcc": 460, "mnc": 0, "area": 22002, "cell": 1165}  # its wedge is far from HERE


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The usual small server, with a P1 overdue 1 s after its call (P2 keeps its 180 s)."""
    return dataclasses.replace(settings, overdue_p1_s=1.0)


def order_of(console: Console) -> list[str | None]:
    return [li.get_attribute("data-incident") for li in console.page.locator("#queue li").all()]


def test_a_p1_older_than_the_p2s_is_first_and_marked_overdue(
    live: Running, console: Console
) -> None:
    """An arrest (P1 on receipt), then two chest pains (P2): the queue is arrest, the older
    P2, the newer P2; the arrest's row turns overdue with its flag shown, the P2s do not;
    the cockpit counts one overdue P1."""
    arrest = httpx.post(
        f"{live.http}/api/v1/calls",
        json={"phone": "+8613800000071", "consent_location": True, "fix": HERE,
              "complaint": "cardiac_arrest"},
        headers={"Idempotency-Key": "q-arrest"},
    ).json()["incident_id"]  # fmt: skip
    older = new_call(live, "q-older", phone="+8613800000072").json()["incident_id"]
    newer = new_call(live, "q-newer", phone="+8613800000073").json()["incident_id"]
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    expect(console.page.locator("#queue li")).to_have_count(3, timeout=WAIT_MS)
    assert order_of(console) == [arrest, older, newer]
    expect(console.row(arrest)).to_have_class(re.compile(r"\boverdue\b"), timeout=WAIT_MS)
    expect(console.row(arrest).locator(".overdue-flag")).to_be_visible()
    for p2 in (older, newer):
        expect(console.row(p2)).to_have_attribute("data-overdue", "false")
        expect(console.row(p2).locator(".overdue-flag")).to_be_hidden()
    figures = httpx.get(f"{live.http}/api/v1/cockpit", headers=auth(live.tokens["dispatcher"]))
    assert figures.json()["overdue_by_priority"] == {"P1": 1, "P2": 0, "P3": 0}
    assert console.problems == []


def test_a_note_typed_with_the_keyboard_shows_on_the_panel_and_the_server(
    live: Running, console: Console
) -> None:
    """`m`, the text, Enter: the note is listed in the incident panel and the input empties;
    the incident's view on the server holds it."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    iid = new_call(live, "note-1").json()["incident_id"]
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    page.keyboard.press("m")
    page.keyboard.type("三楼，电梯坏了 third floor, lift broken")
    page.keyboard.press("Enter")
    expect(page.locator("#note-list li")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#note-list li .note-text")).to_have_text(
        "三楼，电梯坏了 third floor, lift broken"
    )
    expect(page.locator("#note-form input")).to_have_value("")
    view = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"])
    ).json()
    assert [n["text"] for n in view["notes"]] == ["三楼，电梯坏了 third floor, lift broken"]
    assert console.problems == []


def test_enter_on_a_conflicting_call_asks_and_only_y_sends_the_unit(
    live: Running, console: Console
) -> None:
    """A call whose fix, cell and words disagree: Enter shows the confirm and sends nothing;
    Esc closes it; Enter again, then `y`, sends the marked unit."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    body = {
        "phone": "+8613800000074",
        "consent_location": True,
        "fix": HERE,
        "cell": CELL,
        "spoken": "浙江省人民医院",
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "cc-1"})
    assert r.status_code == 201 and r.json()["estimate"]["conflict"] is not None  # the premise
    iid = r.json()["incident_id"]
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    expect(page.locator("#recs button.rec").first).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("Enter")
    expect(page.locator("#conflict-confirm")).to_be_visible()
    d = auth(live.tokens["dispatcher"])
    assert httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=d).json()["unit_id"] is None
    page.keyboard.press("Escape")
    expect(page.locator("#conflict-confirm")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#conflict-confirm")).to_be_visible()
    page.keyboard.press("y")
    expect(page.locator("#assigned")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    view = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=d).json()
    assert view["unit_id"] is not None
    assert console.problems == []
