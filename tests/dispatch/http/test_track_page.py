"""The caller's tracking page (`/track#token=`) in a real headless Chromium against a live server.

A cardiac-arrest call is placed, the dispatcher asks for its tracking link (as for an SMS), the
page opens it; a unit is assigned and driven by position frames from its own socket; the test
reads what the page shows: the CPR card with the nearest AEDs, the ETA the server sends
(smaller as the unit comes closer), the arrival once the unit is on scene, and, after the
incident closes, a reload that shows the link is dead with no data. Every wait is
Playwright's; nothing is timed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import ClientConnection

from tests.support.pages import WAIT_MS
from tests.support.server import ELSEWHERE, HERE, Running, auth, closed_with, recv_until


@pytest.fixture
def phone(browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A phone-sized page, with the URLs it requested and the errors it raised."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        yield page, requested, problems
    finally:
        context.close()


def cardiac_arrest_call(live: Running) -> dict[str, Any]:
    """A cardiac-arrest call at HERE (near 文三路); the 201's body."""
    body = {
        "phone": "+8613800002222",
        "consent_location": True,
        "fix": HERE,
        "complaint": "cardiac_arrest",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "track-1"})
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def drive(tablet: ClientConnection, point: dict[str, Any]) -> None:
    """One position frame from the unit's tablet."""
    tablet.send(json.dumps({"type": "position", "lat": point["lat"], "lon": point["lon"]}))


def eta_shown(page: Page) -> int | None:
    """The ETA in seconds the page last heard from the server (its `data-eta-s`)."""
    value = page.locator("#eta").get_attribute("data-eta-s")
    return None if value is None else int(value)


def test_the_tracking_link_is_issued_to_dispatchers_only(live: Running) -> None:
    """The dispatcher gets `<base>/track#token=<the caller token>`; a unit is refused 403."""
    call = cardiac_arrest_call(live)
    iid = call["incident_id"]
    url = f"{live.http}/api/v1/incidents/{iid}/tracking-link"
    r = httpx.post(url, headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200, r.text
    assert r.json()["link"] == f"{live.http}/track#token={call['caller_token']}"
    unit = next(iter(live.tokens["units"].values()))
    assert httpx.post(url, headers=auth(unit)).status_code == 403
    seen = httpx.get(f"{live.http}/api/v1/tracking", headers=auth(call["caller_token"])).json()
    assert seen["incident_id"] == iid and seen["advice"] == "cpr"
    assert httpx.get(f"{live.http}/api/v1/tracking", headers=auth(unit)).status_code == 403


def test_the_page_follows_the_unit_ends_on_arrival_and_is_dead_after_close(
    live: Running, phone: tuple[Page, list[str], list[str]], artefacts: Path
) -> None:
    """CPR card and AEDs; the ETA shrinks as the unit drives from ELSEWHERE to 100 m away;
    on scene the page says 救护车已到达; once closed a reload says the link is dead, no data."""
    page, requested, problems = phone
    dispatcher = live.tokens["dispatcher"]
    call = cardiac_arrest_call(live)
    iid, token = call["incident_id"], call["caller_token"]
    link = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/tracking-link", headers=auth(dispatcher)
    ).json()["link"]

    page.goto(link)
    expect(page.locator("#status")).to_have_text("正在为您安排救护车", timeout=WAIT_MS)
    expect(page.locator("#connection")).to_have_text("实时更新中", timeout=WAIT_MS)
    expect(page.locator("#todo h2")).to_have_text("现在请这样做")
    expect(page.locator("#steps li").nth(1)).to_contain_text("胸外按压")
    expect(page.locator("#aed-list li")).to_have_count(2)  # two AEDs within a 5-minute walk

    unit_id = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/recommendations", headers=auth(dispatcher)
    ).json()[0]["unit_id"]
    with live.ws(f"/ws/units/{unit_id}", live.tokens["units"][unit_id]) as tablet:
        assert json.loads(tablet.recv(timeout=10))["type"] == "snapshot"
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/assignment",
            json={"unit_id": unit_id},
            headers=auth(dispatcher),
        )
        assert r.status_code == 201, r.text
        recv_until(tablet, lambda f: f["type"] == "offer.sent")
        tablet.send(json.dumps({"type": "ack", "incident_id": iid, "device": "tablet"}))
        recv_until(tablet, lambda f: f["type"] == "accepted")
        tablet.send(json.dumps({"type": "status", "status": "en_route"}))
        recv_until(tablet, lambda f: f["type"] == "accepted")
        expect(page.locator("#status")).to_have_text("救护车正在赶来", timeout=WAIT_MS)

        with live.ws(f"/ws/calls/{iid}", token) as app:  # what the server tells the caller
            etas = []
            for point in (ELSEWHERE, {"lat": HERE["lat"] + 0.001, "lon": HERE["lon"]}):
                drive(tablet, point)
                told = recv_until(
                    app,
                    lambda f, lat=point["lat"]: f["type"] == "unit.approaching" and f["lat"] == lat,
                )
                etas.append(told["eta_s"])
                expect(page.locator("#eta")).to_have_attribute(
                    "data-eta-s", str(js_round(told["eta_s"])), timeout=WAIT_MS
                )
        assert etas[1] < etas[0]  # 100 m away is sooner than 800 m away
        expect(page.locator("#eta")).not_to_have_text("—")
        assert problems == []
        page.screenshot(path=artefacts / "track-page.png", full_page=True)

        tablet.send(json.dumps({"type": "status", "status": "on_scene"}))
        recv_until(tablet, lambda f: f["type"] == "accepted")
        expect(page.locator("#arrived")).to_contain_text("救护车已到达", timeout=WAIT_MS)
        expect(page.locator("#live")).to_be_hidden()
        expect(page.locator("#connection")).to_have_text("跟踪已结束")
        page.locator("#lang").click()
        expect(page.locator("#arrived .big")).to_have_text("The ambulance has arrived")

    r = httpx.post(
        f"{live.http}/api/v1/units/{unit_id}/status",
        json={"status": "available_at_station"},
        headers=auth(live.tokens["units"][unit_id]),
    )
    assert r.status_code == 200, r.text
    assert (
        httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(token)).json()["open"]
        is False
    )
    gone = httpx.get(f"{live.http}/api/v1/tracking", headers=auth(token))
    assert gone.status_code == 410 and gone.json()["reason"] == "link_expired"
    with live.ws(f"/ws/calls/{iid}", token) as late:
        assert closed_with(late) == 4404  # the socket refuses: no last state for a closed one

    page.reload()
    expect(page.locator("#dead .big")).to_have_text("此链接已失效", timeout=WAIT_MS)
    expect(page.locator("#live")).to_be_hidden()
    expect(page.locator("#arrived")).to_be_hidden()
    expect(page.locator("#steps li")).to_have_count(0)
    expect(page.locator("#address")).to_have_text("")
    # The token travels in the fragment and the websocket handshake only: no HTTP request
    # (and so no access log line) carries it.
    assert requested and not [u for u in requested if token in u and u.startswith("http")]


def js_round(value: float) -> int:
    """Math.round as the page does it (halves up, unlike Python's round)."""
    return math.floor(value + 0.5)
