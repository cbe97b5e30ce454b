"""The dispatcher's console (`GET /console`) in a real headless Chromium against a live server.

The page is opened with the dispatcher token in the URL fragment on the Wulin server with four
units (ALS01, BLS02, BLS03, ALS04). Calls are made over HTTP as a caller's app makes them, a
unit's tablet listens on its own websocket, and the tests read what the page shows: the call
in the queue, its recommended units, the dispatched unit turning "assigned", the conflict
alarm, the refusal of other roles' tokens, the degraded banner and the resume with `since`,
1000 units drawn, a conflicting call's location sources (fix, cell wedge, spoken place) listed
and drawn, the dispatched unit's road route with its ETA, the queue re-sorted by a triage and
kept across a reload, and the stations layer. What is drawn is read back from the canvases by
colour: each layer draws its marks in a colour of its own. Screenshots go to
`$JIJIU_TEST_ARTIFACTS` (else `test-artifacts/` under pytest's temporary directory).
Playwright drives the system Chromium (`/usr/bin/chromium`, or `$JIJIU_CHROMIUM`); nothing is
downloaded. Without it the tests skip locally and fail under CI=true
(`tests.support.services.require_service`). Every wait is Playwright's; one is an acceptance
criterion and says so (a new call shows within 1 s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from benchmarks.bench_console import PROBE, Feed, Fleet, measure
from routing.load import load_network
from tests.support.pages import SHOWS_A_CALL_MS, WAIT_MS, Console
from tests.support.server import HERE, Running, auth, new_call, recv_until

ASSIGNED_RGB = [0xE3, 0xB3, 0x41]  # console.js STATUS.assigned: a unit's mark on the map

#: The colour of the map's pixel at the middle of a unit's mark (console.js `jijiuMap`).
UNIT_PIXEL = """(id) => {
  const at = window.jijiuMap && window.jijiuMap.unitOnScreen(id);
  if (!at) return null;
  const c = document.querySelector("#map-overlay");
  const px = Math.round(at.x * at.dpr), py = Math.round(at.y * at.dpr);
  if (px < 0 || py < 0 || px >= c.width || py >= c.height) return null;
  const d = c.getContext("2d").getImageData(px, py, 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


def expect_drawn_assigned(page: Page, unit_id: str) -> None:
    """The unit's mark on the map canvas turns the "assigned" colour (what the dispatcher
    sees, not only the roster's attribute)."""
    want = ",".join(map(str, ASSIGNED_RGB))
    page.wait_for_function(
        f"([id, want]) => {{ const c = ({UNIT_PIXEL})(id); return c && c.join() === want; }}",
        arg=[unit_id, want],
        timeout=WAIT_MS,
    )


#: True once the canvas holds at least `n` drawn pixels.
INKED = """([selector, n]) => {
  const c = document.querySelector(selector);
  if (!c || !c.width || !c.height) return false;
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let count = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0 && ++count >= n) return true;
  return false;
}"""


def test_the_console_is_served_with_a_policy_that_allows_no_other_origin(live: Running) -> None:
    """/console is HTML with a CSP of 'self' plus this host's websocket port, revalidates, and
    its script and style are served; the hospital page still is."""
    r = httpx.get(f"{live.http}/console")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert f"connect-src 'self' ws://127.0.0.1:{live.ws_port};" in csp
    assert r.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{live.http}/console", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    for name in ("console.js", "console.css", "hospital.js"):
        assert httpx.get(f"{live.http}/static/{name}").status_code == 200
    assert httpx.get(f"{live.http}/hospital").status_code == 200


def test_a_new_call_shows_within_a_second_and_one_click_dispatches_its_unit(
    live: Running, console: Console, artefacts: Path
) -> None:
    """With the page loaded and connected, a call POSTed shows in the queue within 1 s, with
    its read-back and a ticking age; its recommended units follow; one click on the first
    sends it: the page shows it "assigned" and the unit's tablet receives `offer.sent`."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    assert "token" not in page.url  # the token left the address bar
    r = new_call(live, "console-click")
    assert r.status_code == 201, r.text
    iid = r.json()["incident_id"]
    expect(console.row(iid)).to_be_visible(timeout=SHOWS_A_CALL_MS)  # the acceptance criterion
    expect(console.row(iid).locator(".where")).to_have_text(r.json()["estimate"]["description"])
    expect(console.row(iid).locator(".age")).to_have_text(
        re.compile(r"^0:0[1-9]$"), timeout=WAIT_MS
    )
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid)  # the first call
    first = page.locator("#recs button.rec").first
    expect(first).to_be_visible(timeout=WAIT_MS)
    expect(first.locator(".reasons")).not_to_be_empty()
    expect(first.locator(".eta")).to_have_text(re.compile(r"^ETA \d"))
    unit_id = first.get_attribute("data-unit")
    assert unit_id in live.tokens["units"]
    page.keyboard.press("0")  # fit the city: every unit on the map
    drawn = page.wait_for_function(f"(id) => ({UNIT_PIXEL})(id)", arg=unit_id, timeout=WAIT_MS)
    assert drawn.json_value() != ASSIGNED_RGB  # available, before the click
    with live.ws(f"/ws/units/{unit_id}", live.tokens["units"][unit_id]) as tablet:
        assert json.loads(tablet.recv(timeout=10))["job"] is None
        first.click()
        offer = recv_until(tablet, lambda f: f["type"] == "offer.sent")
    assert offer["incident_id"] == iid and offer["by"] == "dispatcher"
    expect(page.locator("#assigned")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    expect(page.locator("#assigned")).to_contain_text(f"{unit_id} · assigned")
    expect(page.locator(f'#roster li[data-unit="{unit_id}"]')).to_have_attribute(
        "data-status", "assigned"
    )
    expect(console.row(iid).locator(".line")).to_have_text(f"{unit_id} assigned")
    expect(page.locator("#fleet-counts [data-status=assigned]")).to_have_text("1 assigned")
    expect_drawn_assigned(page, unit_id)
    page.screenshot(path=str(artefacts / "console-dispatched.png"))
    assert not [u for u in console.requests if "token=" in u and "/ws/" not in u]
    assert console.problems == []


def test_the_keyboard_alone_takes_a_call_from_arrival_to_dispatched(
    live: Running, console: Console
) -> None:
    """No mouse: the new call is selected as it arrives, `1` triages it P1 (the server says so),
    `]` then `[` move the mark down and back, and Enter sends the marked (first) unit, whose
    tablet receives the offer."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    r = new_call(live, "console-keys")
    iid = r.json()["incident_id"]
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    page.keyboard.press("1")
    expect(page.locator("#d-priority")).to_have_text("P1", timeout=WAIT_MS)
    expect(console.row(iid)).to_have_attribute("data-priority", "1")
    seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    assert seen.json()["priority"] == 1 and seen.json()["complaint"] == "chest_pain"
    recs = page.locator("#recs button.rec")
    expect(recs.nth(1)).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("]")
    expect(recs.nth(1)).to_have_class(re.compile(r"\bmarked\b"))
    page.keyboard.press("[")
    expect(recs.nth(0)).to_have_class(re.compile(r"\bmarked\b"))
    unit_id = recs.nth(0).get_attribute("data-unit")
    assert unit_id is not None
    with live.ws(f"/ws/units/{unit_id}", live.tokens["units"][unit_id]) as tablet:
        json.loads(tablet.recv(timeout=10))
        page.keyboard.press("Enter")
        offer = recv_until(tablet, lambda f: f["type"] == "offer.sent")
    assert offer["incident_id"] == iid and offer["priority"] == 1
    expect(page.locator("#assigned")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    expect(page.locator(f'#roster li[data-unit="{unit_id}"]')).to_have_attribute(
        "data-status", "assigned"
    )
    page.keyboard.press("0")  # fit the city: the unit's mark is on the map
    expect_drawn_assigned(page, unit_id)
    assert console.problems == []


def test_a_call_whose_fix_and_words_disagree_raises_the_conflict_alarm(
    live: Running, console: Console, artefacts: Path
) -> None:
    """A GNSS fix at 文三路 with the words 浙江省人民医院 (1.6 km away): the alarm shows in red
    with the server's message, "Confirm with caller" and the read-back; the queue row is
    marked; a call with the fix alone has no alarm."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    body = {
        "phone": "+8613800000009",
        "consent_location": True,
        "fix": HERE,
        "spoken": "浙江省人民医院",
        "complaint": "cardiac_arrest",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "conf-1"})
    assert r.status_code == 201, r.text
    estimate = r.json()["estimate"]
    assert estimate["conflict"] is not None  # the fixture's premise
    iid = r.json()["incident_id"]
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    alarm = page.locator("#conflict")
    expect(alarm).to_be_visible()
    expect(alarm).to_contain_text(estimate["conflict"]["message"])
    expect(alarm).to_contain_text("Confirm with caller")
    expect(page.locator("#conflict-readback")).to_have_text(estimate["description"])
    expect(page.locator("#d-readback")).to_have_text(estimate["description"])
    assert alarm.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(248, 81, 73)"
    expect(console.row(iid)).to_have_class(re.compile(r"\bconflict\b"))
    expect(console.row(iid).locator(".line")).to_contain_text("conflict")
    expect(page.locator("#aed-list li").first).to_be_visible(timeout=WAIT_MS)  # an arrest
    page.screenshot(path=str(artefacts / "console-conflict.png"))

    plain = new_call(live, "conf-2").json()["incident_id"]
    expect(console.row(plain)).to_be_visible(timeout=WAIT_MS)
    console.row(plain).click()
    expect(page.locator("#incident")).to_have_attribute("data-incident", plain)
    expect(alarm).to_be_hidden()
    assert console.problems == []


def test_calls_made_before_the_page_opened_come_from_the_snapshot(
    live: Running, console: Console
) -> None:
    """Two calls exist before the page opens: both show from the snapshot with their read-back
    and an age, the first in the queue is selected, and its recommendations are asked for
    over HTTP (no frame brings them to a page that was not there)."""
    older = new_call(live, "snap-0").json()["incident_id"]
    newer = new_call(live, "snap-1", phone="+8613800000044").json()["incident_id"]
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    expect(page.locator("#queue li")).to_have_count(2, timeout=WAIT_MS)
    assert page.locator("#queue li").first.get_attribute("data-incident") == older  # oldest first
    expect(console.row(older).locator(".where")).not_to_be_empty()
    expect(console.row(older).locator(".age")).to_have_text(re.compile(r"^(≥ )?\d+:\d\d$"))
    expect(page.locator("#incident")).to_have_attribute("data-incident", older)
    page.keyboard.press("j")
    expect(page.locator("#incident")).to_have_attribute("data-incident", newer)
    expect(page.locator("#recs button.rec").first).to_be_visible(timeout=WAIT_MS)
    assert any(u.endswith(f"/incidents/{newer}/recommendations") for u in console.requests)
    assert console.problems == []


@pytest.mark.parametrize("role", ["unit", "caller"])
def test_a_unit_or_caller_token_is_refused(live: Running, console: Console, role: str) -> None:
    """The console socket closes with 4403 for a unit's or a caller's token: the page says the
    token may not open the console, asks for a token, and shows no call or unit."""
    new_call(live, "refused-0")  # something the page must not show
    token = (
        live.tokens["units"]["ALS01"]
        if role == "unit"
        else new_call(live, "refused-1", phone="+8613800000077").json()["caller_token"]
    )
    codes: list[int | None] = []

    def through(ws: WebSocketRoute) -> None:
        def closed(code: int | None, reason: str | None) -> None:
            codes.append(code)
            ws.close(code=code, reason=reason)  # a close handler must pass the close on

        ws.connect_to_server().on_close(closed)

    page = console.page
    page.route_web_socket(re.compile(r"/ws/console"), through)
    console.open(live, token)
    expect(page.locator("#banner")).to_contain_text("may not open the console", timeout=WAIT_MS)
    expect(page.locator("#connection")).to_have_text("not connected")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#desk")).to_be_hidden()
    expect(page.locator("#queue li")).to_have_count(0)
    assert codes == [4403]
    assert not [u for u in console.requests if "/api/v1/map" in u]  # nothing asked with it
    assert console.problems == []


def test_a_drop_shows_the_degraded_banner_and_the_console_resumes_with_since(
    live: Running, console: Console
) -> None:
    """The socket is cut and refused for a while: the banner says the feed is lost; a call
    made meanwhile shows once the page is back, resumed with since=<last seq>. A failing
    /readyz shows the server degraded."""
    routes: list[WebSocketRoute] = []
    refuse = [False]

    def through(ws: WebSocketRoute) -> None:
        routes.append(ws)
        if refuse[0]:
            ws.close(code=1012, reason="test: still down")
        else:
            ws.connect_to_server()

    page = console.page
    page.route_web_socket(re.compile(r"/ws/console"), through)
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    first = new_call(live, "drop-0").json()["incident_id"]
    expect(console.row(first)).to_be_visible(timeout=WAIT_MS)
    assert "since=" not in routes[0].url
    refuse[0] = True
    routes[0].close(code=1012, reason="test cut")
    expect(page.locator("#banner")).to_contain_text("Live feed lost", timeout=WAIT_MS)
    expect(page.locator("#connection")).to_have_text("reconnecting")
    missed = new_call(live, "drop-1", phone="+8613800000055").json()["incident_id"]
    expect(console.row(missed)).to_have_count(0)
    refuse[0] = False
    expect(console.row(missed)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#connection")).to_have_text("connected")
    resumed = [r.url for r in routes if "since=" in r.url]
    assert resumed, [r.url for r in routes]
    seq = int(re.search(r"since=(\d+)", resumed[-1]).group(1))  # type: ignore[union-attr]
    assert seq > 0

    page.route(
        "**/readyz",
        lambda route: route.fulfill(status=503, json={"reason": "store_unavailable"}),
    )
    expect(page.locator("#ready")).to_have_text("server store_unavailable", timeout=WAIT_MS)
    expect(page.locator("#banner")).to_contain_text("Server degraded", timeout=WAIT_MS)
    page.unroute("**/readyz")
    expect(page.locator("#banner")).to_be_hidden(timeout=WAIT_MS)
    # the 503 the test made is the only error the page logged
    assert [p for p in console.problems if "503" not in p] == []


def test_a_thousand_moving_units_are_drawn(
    live: Running, console: Console, artefacts: Path
) -> None:
    """The benchmark's light run: 1000 units driving on Wulin, injected as `units.moved` frames
    through the routed socket, two phases of 1 s; the roster counts them and the map is inked.
    Nothing about time is asserted (benchmarks/bench_console.py measures it)."""
    page = console.page
    feed = Feed(page)
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page.evaluate(PROBE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
    net, _ = load_network("wulin")
    fleet = Fleet(net, [f"SIM{i:04d}" for i in range(1000)])
    phases = measure(page, cdp, feed, fleet, 1.0)
    assert phases["moving"]["frames_sent"] >= 1
    assert all(0 <= p["busy_share"] <= 1.5 for p in phases.values())
    expect(page.locator("#fleet-size")).to_have_text("1004", timeout=WAIT_MS)
    page.keyboard.press("0")  # the whole network in view
    page.wait_for_function(INKED, arg=["#map-overlay", 2000], timeout=WAIT_MS)
    page.wait_for_function(INKED, arg=["#map-base", 2000], timeout=WAIT_MS)
    page.screenshot(path=str(artefacts / "console-1000-units.png"))
    assert console.problems == []


# --- the location sources, the route, the queue order, the stations --------------------------
#: Counts the canvas's opaque pixels of exactly one colour (the page draws each layer's marks
#: in a colour of its own: console.js FIX_COLOUR, CELL_COLOUR, ...).
PAINTED = """([selector, rgb]) => {
  const c = document.querySelector(selector);
  if (!c || !c.width || !c.height) return 0;
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let count = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] === rgb[0] && px[i + 1] === rgb[1] && px[i + 2] === rgb[2] && px[i + 3] === 255) {
      count += 1;
    }
  }
  return count;
}"""
FIX_RGB = (0xF7, 0x78, 0xBA)
CELL_RGB = (0xD4, 0xD4, 0x7A)
SPOKEN_RGB = (0xB4, 0xF0, 0xFF)
ROUTE_RGB = (0x38, 0x8B, 0xFD)
STATION_RGB = (0x89, 0x57, 0xE5)
#: A serving cell of the bundled synthetic table whose 632 m wedge holds HERE (文三路).
CELL = {"mcc": 460, "mnc": 0, "area": 22002, "cell": 1165}
LABEL = {"gnss": "GPS fix", "cell_sector": "cell sector", "speech": "spoken place"}


def painted(page: Page, selector: str, rgb: tuple[int, int, int]) -> int:
    count: int = page.evaluate(PAINTED, [selector, list(rgb)])
    return count


def wait_painted(page: Page, selector: str, rgb: tuple[int, int, int], at_least: int) -> None:
    page.wait_for_function(
        f"([s, c]) => ({PAINTED})([s, c]) >= {at_least}",
        arg=[selector, list(rgb)],
        timeout=WAIT_MS,
    )


def order_of(page: Page) -> list[str]:
    ids: list[str] = page.locator("#queue li").evaluate_all(
        "els => els.map(e => e.dataset.incident)"
    )
    return ids


def test_the_sources_of_a_conflicting_call_are_drawn_beside_the_estimate(
    live: Running, console: Console, artefacts: Path
) -> None:
    """A call with a GNSS fix and a serving cell at 文三路 and the words 浙江省人民医院: the
    page lists the fix, the cell's sector and the place the words matched with its score,
    flags the sources the alarm names (and names them in the alarm), and draws each on the
    map in its colour: the mast and the candidate in the whole city, the fix's 95 % circle
    close up; the sources layer's checkbox takes them all off."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    body = {
        "phone": "+8613800000061",
        "consent_location": True,
        "fix": HERE,
        "cell": CELL,
        "spoken": "浙江省人民医院",
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "src-1"})
    assert r.status_code == 201, r.text
    iid, conflict = r.json()["incident_id"], r.json()["estimate"]["conflict"]
    assert conflict is not None and conflict["sources"]  # the premise
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    sources = page.locator("#source-list li")
    expect(page.locator("#sources")).to_be_visible(timeout=WAIT_MS)
    expect(sources.locator("xpath=self::*[@data-source='gnss']")).to_contain_text("±12 m")
    expect(sources.locator("xpath=self::*[@data-source='cell_sector']")).to_contain_text(
        "LTE 460-0-22002-1165: sector 203°"
    )
    expect(sources.locator("xpath=self::*[@data-source='speech']")).to_contain_text(
        re.compile(r"浙江省人民医院 \(place, [01]\.\d\d\)")
    )
    flagged = page.locator("#source-list li[data-conflict=true]")
    expect(flagged).to_have_count(len(conflict["sources"]))
    for name in conflict["sources"]:
        expect(page.locator(f'#source-list li[data-source="{name}"]')).to_have_attribute(
            "data-conflict", "true"
        )
        expect(page.locator("#conflict-names")).to_contain_text(LABEL[name])
    expect(page.locator("#conflict")).to_contain_text(conflict["message"])
    page.keyboard.press("0")  # the whole city: the mast and the hospital the words named
    wait_painted(page, "#map-overlay", CELL_RGB, 20)
    wait_painted(page, "#map-overlay", SPOKEN_RGB, 20)
    page.screenshot(path=str(artefacts / "console-sources.png"))
    page.keyboard.press("f")
    for _ in range(5):
        page.keyboard.press("+")  # about 2 px a metre: the fix's 20 m circle clears the call
    wait_painted(page, "#map-overlay", FIX_RGB, 20)
    page.locator('#layers input[data-layer="sources"]').uncheck()
    page.wait_for_function(
        f"([s, c]) => ({PAINTED})([s, c]) === 0",
        arg=["#map-overlay", list(FIX_RGB)],
        timeout=WAIT_MS,
    )
    assert painted(page, "#map-overlay", CELL_RGB) == 0
    assert any(u.endswith(f"/incidents/{iid}/sources") for u in console.requests)
    assert console.problems == []


def test_the_dispatched_units_road_route_is_drawn_with_its_eta(
    live: Running, console: Console, artefacts: Path
) -> None:
    """Enter sends the marked unit; the page asks the server for its route, draws it in the
    route colour and shows the ETA and length beside the assignment."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    iid = new_call(live, "route-page").json()["incident_id"]
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid, timeout=WAIT_MS)
    first = page.locator("#recs button.rec").first
    expect(first).to_be_visible(timeout=WAIT_MS)
    unit_id = first.get_attribute("data-unit")
    page.keyboard.press("Enter")
    expect(page.locator("#assigned")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    info = page.locator("#route-info")
    expect(info).to_have_text(
        re.compile(rf"^Route: {unit_id} to the call · ETA \d+ (s|min \d\d s) · \d+\.\d km$"),
        timeout=WAIT_MS,
    )
    expect(info).to_have_attribute("data-unit", unit_id or "")
    page.keyboard.press("0")
    wait_painted(page, "#map-overlay", ROUTE_RGB, 30)
    page.screenshot(path=str(artefacts / "console-route.png"))
    assert any(u.endswith(f"/incidents/{iid}/route") for u in console.requests)
    page.locator('#layers input[data-layer="route"]').uncheck()
    page.wait_for_function(
        f"([s, c]) => ({PAINTED})([s, c]) === 0",
        arg=["#map-overlay", list(ROUTE_RGB)],
        timeout=WAIT_MS,
    )
    assert console.problems == []


def test_a_retriage_reorders_the_queue_and_a_reload_shows_the_same_queue(
    live: Running, console: Console
) -> None:
    """Three waiting P2 calls show oldest first; another dispatcher's triage of the oldest
    to P1 keeps it on top, to P3 sends it to the bottom; after a reload the page shows
    the same order, the priorities and the conflicting call's mark from the snapshot."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    body = {
        "phone": "+8613800000062",
        "consent_location": True,
        "fix": HERE,
        "cell": CELL,
        "spoken": "浙江省人民医院",
        "complaint": "chest_pain",
    }
    oldest = httpx.post(
        f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "order-0"}
    ).json()["incident_id"]
    middle = new_call(live, "order-1", phone="+8613800000063").json()["incident_id"]
    newest = new_call(live, "order-2", phone="+8613800000064").json()["incident_id"]
    expect(page.locator("#queue li")).to_have_count(3, timeout=WAIT_MS)
    expect(page.locator("#queue li").nth(2)).to_have_attribute("data-incident", newest)
    assert order_of(page) == [oldest, middle, newest]
    headers = auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{oldest}/triage"
    assert httpx.post(url, json={"priority": 1, "complaint": "stroke"}, headers=headers).is_success
    expect(page.locator("#queue li").first).to_have_attribute(
        "data-incident", oldest, timeout=WAIT_MS
    )
    expect(console.row(oldest)).to_have_attribute("data-priority", "1")
    expect(console.row(oldest).locator(".what")).to_have_text("Stroke")
    assert order_of(page) == [oldest, middle, newest]
    assert httpx.post(url, json={"priority": 3, "complaint": "stroke"}, headers=headers).is_success
    expect(page.locator("#queue li").nth(2)).to_have_attribute(
        "data-incident", oldest, timeout=WAIT_MS
    )
    before = order_of(page)
    assert before == [middle, newest, oldest]
    expect(console.row(oldest)).to_have_class(re.compile(r"\bconflict\b"))
    page.reload()
    console.ready()
    expect(page.locator("#queue li")).to_have_count(3, timeout=WAIT_MS)
    assert order_of(page) == before
    expect(console.row(oldest)).to_have_attribute("data-priority", "3")
    expect(console.row(oldest)).to_have_class(re.compile(r"\bconflict\b"))
    expect(console.row(newest)).not_to_have_class(re.compile(r"\bconflict\b"))
    assert console.problems == []


def test_the_stations_layer_draws_the_fleets_homes_and_toggles(
    live: Running, console: Console
) -> None:
    """The base map draws the stations (the demo fleet's two homes filled, the station file's
    sites outlined) in their colour, the legend names them, and the layer's checkbox, used
    from the keyboard, takes them off and puts them back."""
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    page = console.page
    expect(page.locator("#legend")).to_contain_text("station")
    wait_painted(page, "#map-base", STATION_RGB, 40)
    toggle = page.locator('#layers input[data-layer="stations"]')
    expect(toggle).to_be_checked()
    toggle.focus()
    page.keyboard.press("Space")
    expect(toggle).not_to_be_checked()
    page.wait_for_function(
        f"([s, c]) => ({PAINTED})([s, c]) === 0",
        arg=["#map-base", list(STATION_RGB)],
        timeout=WAIT_MS,
    )
    page.keyboard.press("Space")
    wait_painted(page, "#map-base", STATION_RGB, 40)
    page.keyboard.press("j")  # a focused checkbox does not swallow the console's keys
    assert console.problems == []
