"""The hospital wall screen (`GET /hospital`) in a real headless Chromium against a live server.

The page is opened with the hospital's token in the URL fragment; a real tablet streams vitals
over its websocket, and the test reads what the page shows: the inbound card, the numerics,
ink on the ECG canvas, the ambulance's live video (ended by a re-route), the diverted note
after a re-route, the error for a bad token, and the
resume with `since` after a drop. Playwright drives the system Chromium (`/usr/bin/chromium`,
or `$JIJIU_CHROMIUM`); nothing is downloaded. Without it the tests skip locally and fail under
CI=true (`tests.support.services.require_service`). Every wait is Playwright's; nothing is timed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, WebSocketRoute, expect

from tests.support.pages import WAIT_MS, Screen, screen_of
from tests.support.server import Running, auth, recv_until
from tests.support.tablet import patient_on_the_way, reply, send_picture, vitals

#: True once the patient's ECG canvas holds any drawn pixel (the canvas is transparent).
INKED = """(id) => {
  const c = document.querySelector(`[data-incident="${id}"] canvas.trace`);
  if (!c || !c.width || !c.height) return false;
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) return true;
  return false;
}"""


@pytest.fixture
def screen(browser: Browser) -> Iterator[Screen]:
    """A fresh browser context (own sessionStorage) with one page, 1400x900 like a wall screen."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield screen_of(context.new_page())
    finally:
        context.close()


def test_the_page_is_served_with_a_policy_that_allows_no_other_origin(live: Running) -> None:
    """/hospital is HTML with a CSP of 'self' plus this host's websocket port, and revalidates."""
    r = httpx.get(f"{live.http}/hospital")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert f"connect-src 'self' ws://127.0.0.1:{live.ws_port};" in csp
    assert r.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{live.http}/hospital", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(f"{live.http}/static/hospital.js").status_code == 200
    assert httpx.get(f"{live.http}/static/..%2Fpages.py").status_code == 404


def test_an_inbound_patient_shows_with_live_numerics_and_a_drawn_ecg(
    live: Running, screen: Screen
) -> None:
    """The chest-pain patient on ALS01 appears; HR 73, BP 121/79 ... from the tablet show live,
    the ECG canvas gets ink, and Acknowledge sends {"type": "ack", "incident_id"} and, once
    the server accepts it, says "acknowledged"."""
    iid = patient_on_the_way(live)
    screen.open(live, "zjpph", live.tokens["hospitals"]["zjpph"])
    page, card = screen.page, screen.card(iid)
    expect(page.locator("#connection")).to_have_text("connected", timeout=WAIT_MS)
    expect(card.locator(".complaint")).to_have_text("Chest pain", timeout=WAIT_MS)
    expect(card.locator(".unit")).to_have_text("unit ALS01")
    expect(card.locator(".priority")).to_have_text(re.compile(r"^P[123]$"))
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#banner")).to_be_hidden()
    assert "token" not in page.url  # the token left the address bar

    readings = {
        "hr": 73,
        "spo2": 97,
        "nibp_sys": 121,
        "nibp_dia": 79,
        "rr": 16,
        "etco2": 38,
        "temp_c": 36.8,
        "gcs": 14,
    }
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        for seq in (1, 2, 3):  # three seconds: more than the page buffers before it sweeps
            tablet.send(vitals(seq, **readings))
            assert reply(tablet)["type"] == "accepted"
    shown = {
        "hr": "73",
        "spo2": "97",
        "nibp": "121/79",
        "rr": "16",
        "etco2": "38",
        "temp": "36.8",
        "gcs": "14",
    }
    for name, text in shown.items():
        expect(card.locator(f'[data-v="{name}"]')).to_have_text(text, timeout=WAIT_MS)
    page.wait_for_function(INKED, arg=iid, timeout=WAIT_MS)

    card.locator("button.ack").click()
    expect(card.locator(".ack-state")).to_have_text("acknowledged", timeout=WAIT_MS)
    expect(card.locator("button.ack")).to_be_disabled()
    assert {"type": "ack", "incident_id": iid} in [json.loads(s) for s in screen.sent]
    assert screen.problems == []


def test_the_receiving_hospital_watches_the_ambulance_s_video_until_the_patient_is_rerouted(
    live: Running, screen: Screen
) -> None:
    """ "Live video" on the card opens the unit's view with the hospital's own token: the
    tablet's picture shows, less than 2 s old; when the dispatcher sends the patient elsewhere
    the server ends the view at once and the card says so."""
    iid = patient_on_the_way(live)  # ALS01 -> zjpph
    screen.open(live, "zjpph", live.tokens["hospitals"]["zjpph"])
    card = screen.card(iid)
    expect(card.locator("button.watch")).to_be_visible(timeout=WAIT_MS)
    card.locator("button.watch").click()
    expect(card.locator(".video-state")).to_have_text("live", timeout=WAIT_MS)
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        assert send_picture(tablet, 180)["type"] == "accepted"
    expect(card.locator("figure.video")).to_be_visible(timeout=WAIT_MS)
    src = card.locator("img.video-frame").get_attribute("src") or ""
    assert src.startswith("data:image/jpeg;base64,")
    screen.page.wait_for_function(
        '(id) => { const s = document.querySelector(`[data-incident="${id}"] .video-age`)'
        ".dataset.ageS; return s !== undefined && s !== '' && Number(s) < 2; }",
        arg=iid,
        timeout=WAIT_MS,
    )
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/destination",
        json={"hospital_id": "srrsh", "reason": "cath lab busy"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    expect(card.locator(".video-state")).to_have_text("video ended", timeout=WAIT_MS)
    expect(card.locator("figure.video")).to_be_hidden()
    assert screen.problems == []


def test_a_wrong_token_shows_an_error_and_no_patient(live: Running, screen: Screen) -> None:
    """A made-up token (4401) and another hospital's token (4403) each show an error, the
    form to enter a token, and no patient."""
    patient_on_the_way(live)
    page = screen.page
    for token, says in (
        ("no-such-token-0123456789", "The token was not accepted."),
        (live.tokens["hospitals"]["srrsh"], "This token may not watch this hospital."),
    ):
        page.goto("about:blank")
        screen.open(live, "zjpph", token)
        expect(page.locator("#banner")).to_contain_text(says, timeout=WAIT_MS)
        expect(page.locator("#connection")).to_have_text("not connected")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("article.patient")).to_have_count(0)
    assert screen.problems == []


def test_a_rerouted_patient_is_marked_diverted_and_shows_at_the_new_hospital(
    live: Running, browser: Browser
) -> None:
    """After the dispatcher sends the patient to srrsh, zjpph's card says diverted and srrsh's
    screen, open all along, gains the card from the live patient.inbound frame."""
    iid = patient_on_the_way(live)
    hospitals = live.tokens["hospitals"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        zjpph, srrsh = screen_of(context.new_page()), screen_of(context.new_page())
        zjpph.open(live, "zjpph", hospitals["zjpph"])
        srrsh.open(live, "srrsh", hospitals["srrsh"])
        expect(zjpph.card(iid)).to_be_visible(timeout=WAIT_MS)
        expect(srrsh.page.locator("#empty")).to_be_visible(timeout=WAIT_MS)
        expect(srrsh.page.locator("#connection")).to_have_text("connected", timeout=WAIT_MS)
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/destination",
            json={"hospital_id": "srrsh", "reason": "cath lab busy"},
            headers=auth(live.tokens["dispatcher"]),
        )
        assert r.status_code == 200, r.text
        expect(zjpph.card(iid)).to_have_class(re.compile(r"\bdiverted\b"), timeout=WAIT_MS)
        expect(zjpph.card(iid).locator(".note")).to_contain_text("Diverted")
        expect(srrsh.card(iid).locator(".complaint")).to_have_text("Chest pain", timeout=WAIT_MS)
        assert zjpph.problems == [] and srrsh.problems == []
    finally:
        context.close()


def test_after_a_drop_the_page_resumes_with_since_and_ignores_frames_it_does_not_know(
    live: Running, screen: Screen
) -> None:
    """The socket is cut after the frame with seq N: the page reconnects with since=N and shows
    the HR sent meanwhile; unknown frame types and non-JSON change nothing; patient.eta sets
    the ETA to 10:00, patient.acknowledged marks the card and patient.closed removes it."""
    iid = patient_on_the_way(live)
    routes: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        routes.append(ws)

    page, card = screen.page, screen.card(iid)
    page.route_web_socket(re.compile(r"/ws/hospitals/"), through)
    screen.open(live, "zjpph", live.tokens["hospitals"]["zjpph"])
    expect(card).to_be_visible(timeout=WAIT_MS)
    assert "since=" not in routes[0].url
    hospital = live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"])
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet, hospital:
        json.loads(tablet.recv(timeout=10))
        tablet.send(vitals(1, hr=73))
        assert reply(tablet)["type"] == "accepted"
        seq = recv_until(hospital, lambda f: f["type"] == "vitals")["seq"]
        expect(card.locator('[data-v="hr"]')).to_have_text("73", timeout=WAIT_MS)

        routes[0].close(code=1012, reason="test cut")  # the page's side of the socket
        expect(page.locator("#connection")).not_to_have_text("connected", timeout=WAIT_MS)
        tablet.send(vitals(2, hr=111))  # while the page is away, or just back: either way
        assert reply(tablet)["type"] == "accepted"
        expect(card.locator('[data-v="hr"]')).to_have_text("111", timeout=WAIT_MS)
    expect(page.locator("#connection")).to_have_text("connected")
    assert f"since={seq}" in routes[1].url

    for frame in (
        "not json",
        json.dumps({"type": "patient.ack_overdue", "incident_id": iid}),
        json.dumps({"type": "patient.eta", "incident_id": iid, "eta_s": 600}),
    ):
        routes[-1].send(frame)
    expect(card.locator(".eta-value")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    routes[-1].send(json.dumps({"type": "patient.acknowledged", "incident_id": iid}))
    expect(card.locator(".ack-state")).to_have_text("acknowledged", timeout=WAIT_MS)
    expect(card.locator("button.ack")).to_be_disabled()
    expect(card.locator('[data-v="hr"]')).to_have_text("111")
    routes[-1].send(
        json.dumps({"type": "patient.closed", "incident_id": iid, "reason": "handed_over"})
    )
    expect(card).to_have_count(0, timeout=WAIT_MS)  # handed over: off the board
    assert screen.problems == []
