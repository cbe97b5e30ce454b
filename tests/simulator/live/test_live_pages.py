"""The console and the cockpit in a real headless Chromium, on a server fed by the live city.

Issue 8's acceptance, end to end: one Wulin server with 16 units (`tests.support.server.start`:
uvicorn in a thread, a fresh SQLite log) and, for the whole module, the live simulator
(`simulator.live.city.run_live`, x180 from 10:00, 150 calls a day, pictures at 1 fps from every unit
on a job) on its own event loop in a thread. Its callers tap, its dispatcher bot dispatches
its own calls and leaves the tests' calls alone, and its tablets acknowledge every offer they
get, drive and film. The tests then work the console as a dispatcher does: a call they post
shows within 1 s (the one timed criterion), a click, or Enter, on its first free recommended
unit turns that unit "assigned" on the page and its simulated tablet acknowledges the offer
(the incident reaches unit acknowledged, which only the unit's socket can send); a call whose
GNSS fix and spoken place disagree raises the conflict alarm; the cockpit shows percentiles of
the simulated city and a simulated unit's video no older than 2 s. The last test stops the
city and checks it saw no error. Screenshots go to `$JIJIU_TEST_ARTIFACTS`
(`live-console.png`, `live-console-conflict.png`, `live-cockpit.png`).

A unit the page is about to send may be taken by the bot a moment earlier (409: the page asks
for a new ranking); the dispatch is then tried again with the next free unit.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from dispatch.settings import Settings
from simulator.live.city import LiveParams, LiveResult, run_live
from simulator.live.context import Endpoints
from simulator.live.local_server import ErrorLogCounter
from tests.support.pages import SHOWS_A_CALL_MS, WAIT_MS, Console, Screen, screen_of
from tests.support.server import HERE, Running, auth, new_call, start

# `browser`, `console` (1600x900) and `artefacts` come from tests/support/browser.py.


@pytest.fixture
def screen(browser: Browser) -> Iterator[Screen]:
    """A fresh browser context with one cockpit page, 1400x1100 as in the cockpit's own tests."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        yield screen_of(context.new_page())
    finally:
        context.close()


#: x180: a city hour in 20 wall seconds, about nine calls (seed 8: four in the first 3 s), each
#: on scene about 2 s after its call; a job lasts about 20 wall seconds.
PARAMS = LiveParams(speed=180.0, calls_per_day=150.0, start_hour=10.0, seed=8, video_fps=1.0)
UNITS = 16  # the city keeps at most ~9 busy at this rate: a free unit for every hand-made call
BY_HAND = 2  # calls the tests dispatch (the conflict call is left waiting)
CITY_MS = 40_000  # patience for the city to produce what a test waits for (on-scene calls)

#: Records every (place, unit, status) the page shows from now on: the roster row of a unit,
#: and the selected incident's assigned box. A crew acknowledges and turns out in a third of a
#: wall second at x180, so "assigned" is caught as it happens rather than polled for.
RECORD_STATUSES = """() => {
  const seen = window.__seen = new Set();
  const note = () => {
    for (const li of document.querySelectorAll("#roster li[data-unit]"))
      seen.add(`roster ${li.dataset.unit} ${li.dataset.status}`);
    const box = document.querySelector("#assigned");
    if (box && !box.hidden && box.dataset.unit)
      seen.add(`box ${box.dataset.unit} ${box.dataset.status}`);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true,
    attributes: true, attributeFilter: ["data-status", "data-unit", "hidden"]});
  note();
}"""
AT_LEAST_FIVE = re.compile(r"^([5-9]|\d{2,})$")  # BY_HAND + 3
#: The picture shown was taken less than 2 s ago, by its own time and by the page's label.
FRESH_PICTURE = """() => {
  const at = Number(document.querySelector("#video-frame").dataset.at);
  const age = document.querySelector("#video-age").dataset.ageS;
  return Number.isFinite(at) && Date.now() / 1000 - at < 2 && age !== "" && Number(age) < 2;
}"""
SAW_ASSIGNED = """(unit) => window.__seen.has(`roster ${unit} assigned`)
  && window.__seen.has(`box ${unit} assigned`)"""


class LiveCity:
    """`run_live` on its own event loop in a thread, until `finish()`."""

    def __init__(self, endpoints: Endpoints, params: LiveParams) -> None:
        self.endpoints, self.params = endpoints, params
        self.connected = threading.Event()  # every client is connected and the city runs
        self.result: LiveResult | None = None
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            self.result = await run_live(
                self.endpoints,
                "wulin",
                self.params,
                stop=self._stop,
                progress=lambda _: self.connected.set(),
            )
        except BaseException as exc:  # reported by `finish`
            self.failure = exc
        finally:
            self.connected.set()

    def finish(self) -> LiveResult:
        """Stop the city (each client ends the request it is in) and return what it saw."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the live city did not stop"
        if self.failure is not None:
            raise self.failure
        assert self.result is not None
        return self.result


class City:
    """The server, the simulated city driving it, and the server's ERROR log lines."""

    def __init__(self, live: Running, sim: LiveCity, errors: ErrorLogCounter) -> None:
        self.live, self.sim, self.errors = live, sim, errors


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """A fresh Wulin server with 16 units and the live city running against it (the module)."""
    tmp = tmp_path_factory.mktemp("live-pages")
    settings = Settings(
        network="wulin",
        store_url=f"sqlite:///{tmp / 'events.db'}",
        tokens_file=tmp / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=UNITS,
        tick_s=0.2,
    )
    errors = ErrorLogCounter()
    errors.attach()
    live = start(settings)
    sim: LiveCity | None = None
    try:
        endpoints = Endpoints(live.http, f"ws://127.0.0.1:{live.ws_port}", live.tokens)
        sim = LiveCity(endpoints, PARAMS)
        assert sim.connected.wait(timeout=120), "the live city did not connect"
        assert sim.failure is None, sim.failure
        yield City(live, sim, errors)
    finally:
        if sim is not None:
            sim.finish()
        live.stop()
        errors.detach()


def posted(city: City, key: str, n: int, **body: Any) -> dict[str, Any]:
    """Call `n` made by hand (not by the city's callers; its own phone), as its 201 says."""
    phone = f"+86137000000{n:02d}"  # the city's callers use +86139...
    if body:
        call = {"phone": phone, "consent_location": True, "fix": HERE, **body}
        r = httpx.post(
            f"{city.live.http}/api/v1/calls", json=call, headers={"Idempotency-Key": key}
        )
    else:
        r = new_call(city.live, key, phone=phone)
    assert r.status_code == 201, r.text
    reply: dict[str, Any] = r.json()
    return reply


def opened(console: Console, city: City) -> Any:
    """The console, connected, its map drawn, recording the statuses it shows."""
    console.open(city.live, city.live.tokens["dispatcher"])
    console.ready()
    console.page.evaluate(RECORD_STATUSES)
    return console.page


def send_first_free(console: Console, by: str) -> str:
    """Dispatch the selected incident to its first recommended unit that is free (not clearing
    at a hospital), by a click on it or by marking it (`]`) and pressing Enter; the unit sent.
    If the bot took that unit a moment before (the page says 409), try the next one."""
    page = console.page
    recs = page.locator("#recs button.rec")
    for _ in range(3):
        expect(recs.first).to_be_visible(timeout=WAIT_MS)
        statuses: list[str] = recs.evaluate_all("bs => bs.map((b) => b.dataset.status)")
        free = [i for i, status in enumerate(statuses) if status.startswith("available")]
        assert free, statuses
        page.evaluate("() => window.__seen.clear()")
        if by == "click":
            unit_id = recs.nth(free[0]).get_attribute("data-unit")
            page.locator(f'#recs button.rec[data-unit="{unit_id}"]').click()
        else:
            for _ in statuses:
                page.keyboard.press("[")
            for _ in range(free[0]):
                page.keyboard.press("]")
            marked = page.locator("#recs button.rec.marked")
            expect(marked).to_have_count(1)
            unit_id = marked.get_attribute("data-unit")
            page.keyboard.press("Enter")
        outcome = page.locator("#assigned:not([hidden]), #action[data-kind=error]").first
        expect(outcome).to_be_visible(timeout=WAIT_MS)
        if page.locator("#assigned").is_visible():
            expect(page.locator("#assigned")).to_have_attribute("data-unit", unit_id or "")
            assert unit_id is not None
            return unit_id
        expect(page.locator("#action")).to_contain_text("409")  # taken meanwhile, nothing else
    raise AssertionError("three recommended units were taken before the click")


def acknowledged_by(city: City, incident_id: str) -> str | None:
    """The unit whose tablet acknowledged the incident's offer (waits up to 15 s)."""
    token = city.live.tokens["dispatcher"]
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        r = httpx.get(f"{city.live.http}/api/v1/incidents/{incident_id}", headers=auth(token))
        view = r.json()
        if any(t["name"] == "unit_acknowledged" for t in view["timeline"]):
            unit: str | None = view["unit_id"]
            return unit
        time.sleep(0.1)
    return None


def test_a_posted_call_shows_within_a_second_and_one_click_sends_a_simulated_unit(
    city: City, console: Console, artefacts: Path
) -> None:
    """With the city running, a call posted by hand shows in the queue within 1 s; selected
    and sent with one click on its first free recommended unit, that unit shows "assigned" in
    the roster and the incident's box, and its simulated tablet acknowledges the offer."""
    page = opened(console, city)
    call = posted(city, "pages-click", 1)
    iid = call["incident_id"]
    expect(console.row(iid)).to_be_visible(timeout=SHOWS_A_CALL_MS)  # the acceptance criterion
    expect(console.row(iid).locator(".where")).to_have_text(call["estimate"]["description"])
    console.row(iid).click()  # the city's calls share the queue: select this one
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid)
    unit_id = send_first_free(console, "click")
    page.wait_for_function(SAW_ASSIGNED, arg=unit_id, timeout=WAIT_MS)
    assert acknowledged_by(city, iid) == unit_id  # only the unit's own socket can acknowledge
    page.screenshot(path=str(artefacts / "live-console.png"))
    assert console.problems == []


def test_enter_sends_the_marked_unit_and_its_tablet_acknowledges(
    city: City, console: Console
) -> None:
    """The same with the keyboard: the first free recommended unit is marked with `[`/`]` and
    Enter sends it; the page shows it "assigned" and its tablet acknowledges."""
    page = opened(console, city)
    iid = posted(city, "pages-enter", 2)["incident_id"]
    expect(console.row(iid)).to_be_visible(timeout=WAIT_MS)
    console.row(iid).click()
    expect(page.locator("#incident")).to_have_attribute("data-incident", iid)
    unit_id = send_first_free(console, "enter")
    page.wait_for_function(SAW_ASSIGNED, arg=unit_id, timeout=WAIT_MS)
    assert acknowledged_by(city, iid) == unit_id
    assert console.problems == []


def test_a_call_whose_fix_and_words_disagree_raises_the_conflict_alarm(
    city: City, console: Console, artefacts: Path
) -> None:
    """A GNSS fix at 文三路 with the words 浙江省人民医院 (1.6 km away), among the city's calls:
    the alarm shows with "Confirm with caller" and the read-back, and the queue row is marked;
    the bot leaves the call to the dispatcher."""
    page = opened(console, city)
    call = posted(city, "pages-conflict", 3, spoken="浙江省人民医院", complaint="cardiac_arrest")
    assert call["estimate"]["conflict"] is not None  # the premise
    iid = call["incident_id"]
    expect(console.row(iid)).to_be_visible(timeout=WAIT_MS)
    console.row(iid).click()
    alarm = page.locator("#conflict")
    expect(alarm).to_be_visible(timeout=WAIT_MS)
    expect(alarm).to_contain_text(call["estimate"]["conflict"]["message"])
    expect(alarm).to_contain_text("Confirm with caller")
    expect(page.locator("#conflict-readback")).to_have_text(call["estimate"]["description"])
    expect(console.row(iid)).to_have_class(re.compile(r"\bconflict\b"))
    page.screenshot(path=str(artefacts / "live-console-conflict.png"))
    assert console.problems == []


def on_a_job(city: City) -> str:
    """A simulated unit well into a job (on scene, transporting or at hospital), else any
    unit with a job; waits for the city to have one."""
    token = city.live.tokens["dispatcher"]
    deadline = time.monotonic() + CITY_MS / 1000
    while time.monotonic() < deadline:
        r = httpx.get(f"{city.live.http}/api/v1/incidents", headers=auth(token))
        busy = [v for v in r.json() if v["unit_id"] and v["step"] >= "eTimes.04"]
        for v in sorted(busy, key=lambda v: v["step"] not in ("eTimes.06", "eTimes.09")):
            unit: str = v["unit_id"]
            return unit
        time.sleep(0.5)
    raise AssertionError("no unit of the city is on a job")


def test_the_cockpit_shows_the_city_s_percentiles_and_a_unit_s_live_video(
    city: City, screen: Screen, artefacts: Path
) -> None:
    """After the city has run a little, the cockpit's call-to-dispatch and response rows count
    at least three of the city's calls beyond the two dispatched by hand, with a median; the
    video view of a simulated unit on a job shows the simulator's
    320x180 picture, less than 2 s old."""
    page = screen.page
    page.goto(f"{city.live.http}/cockpit#token={city.live.tokens['dispatcher']}")
    for name in ("call_to_dispatch", "response"):
        cells = page.locator(f'#intervals tr[data-interval="{name}"] td')
        expect(cells.nth(1)).to_have_text(AT_LEAST_FIVE, timeout=CITY_MS)
        expect(cells.nth(2)).not_to_have_text("—", timeout=CITY_MS)  # non-empty percentiles
    expect(page.locator("#calls")).to_have_text(re.compile(r"^\d+$"))
    assert int(page.locator("#calls").inner_text()) >= BY_HAND + 1 + 3
    unit_id = on_a_job(city)
    page.fill("#video-form input[name=unit]", unit_id)
    page.click("#video-form button")
    expect(page.locator("#video-state")).to_have_text(f"watching {unit_id}", timeout=WAIT_MS)
    expect(page.locator("#video-frame")).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function(FRESH_PICTURE, timeout=WAIT_MS)  # the acceptance criterion
    size = page.locator("#video-frame").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == [320, 180]  # the simulator's test picture (simulator.live.video_frames)
    page.screenshot(path=str(artefacts / "live-cockpit.png"), full_page=True)
    assert screen.problems == []


def test_the_city_ran_without_an_error_and_filmed_its_jobs(city: City) -> None:
    """Stopped, the city's calls agree with the server, no client saw an error (no refused
    picture, no 4xx/5xx, no dropped socket), the server logged no ERROR, pictures were
    accepted, and the crews took the two jobs dispatched by hand."""
    result = city.sim.finish()
    assert dict(result.tally.errors) == {}
    assert city.errors.count == 0, city.errors.first
    assert result.check.mismatches == ()
    assert len(result.records) >= 3 and sum("on_scene" in r.at for r in result.records) >= 3
    counts = result.tally.counts
    assert counts["jobs dispatched by hand"] == BY_HAND
    assert 1 <= counts["video_accepted"] <= counts["video_sent"]
