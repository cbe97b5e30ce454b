"""The console in Chinese, with the city's street names on its map, and call ages by the server's
clock, in a real headless Chromium against a live Hangzhou server (locale zh-CN).

The page tests' contexts start with English picked (`tests.support.browser.PIN_ENGLISH`); these
tests clear that choice once, so the page takes its language from the city, as a dispatcher's
first visit does. The screenshot `console-zh-streets.png` goes to `$JIJIU_TEST_ARTIFACTS` (else
`test-artifacts/` under pytest's temporary directory). Every wait is Playwright's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.pages import WAIT_MS, Console, console_of
from tests.support.server import Running, auth, new_call

#: Forget the stored language once per tab (the first load): the city's locale decides.
FIRST_VISIT = (
    "try { if (!sessionStorage.getItem('i18n-test')) {"
    " localStorage.removeItem('jijiu.lang'); sessionStorage.setItem('i18n-test', '1'); } }"
    " catch (err) {}"
)
#: The browser's clock five hours behind (Date.now and new Date()), as on a misset desk PC.
SKEWED_CLOCK = """(() => {
  const skew = -5 * 3600 * 1000, Real = Date, now = Real.now.bind(Real);
  class Skewed extends Real {
    constructor(...a) { super(...(a.length ? a : [now() + skew])); }
    static now() { return now() + skew; }
  }
  window.Date = Skewed;
})();"""
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def first_visit(browser: Browser) -> Iterator[Console]:
    """A console page in a fresh context that has not picked a language (1600x900)."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        page = context.new_page()
        page.add_init_script(FIRST_VISIT)
        yield console_of(page)
    finally:
        context.close()


def drawn_street_names(page: Page) -> list[str]:
    names: list[str] = page.evaluate("() => window.jijiuMap.streetLabels()")
    return names


def test_the_console_speaks_chinese_in_a_chinese_city_and_names_the_streets(
    live: Running, first_visit: Console, artefacts: Path
) -> None:
    """With no language picked, the Hangzhou console is in Chinese (来电, 已连接, the status
    words); its map labels streets with names from the city's own road data (GET /api/v1/map),
    upright along their roads; the switch turns it to English and the choice is kept."""
    city = httpx.get(f"{live.http}/api/v1/city").json()
    assert city["locale"] == "zh-CN"  # the premise: a Chinese city
    console, page = first_visit, first_visit.page
    console.open(live, live.tokens["dispatcher"])
    expect(page.locator("#connection")).to_have_text("已连接", timeout=WAIT_MS)
    expect(page.locator("#map-status")).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#queue-pane h2")).to_contain_text("来电")
    expect(page.locator("#layers")).to_contain_text("街道名")

    r = new_call(live, "zh-console")
    assert r.status_code == 201, r.text
    iid = r.json()["incident_id"]
    expect(console.row(iid)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#waiting")).to_have_text(re.compile(r"^\d+ 待派$"))
    expect(console.row(iid).locator(".what")).to_have_text(HAN)

    page.locator("#map-overlay").focus()
    page.keyboard.press("f")  # the map to the call, where the streets are close enough to name
    page.wait_for_function(
        "() => Number(document.querySelector('#map-base').dataset.streetLabels) > 0",
        timeout=WAIT_MS,
    )
    drawn = drawn_street_names(page)
    known = set(
        httpx.get(f"{live.http}/api/v1/map", headers=auth(live.tokens["dispatcher"])).json()[
            "names"
        ]
    )
    assert drawn and set(drawn) <= known
    assert any(HAN.search(name) for name in drawn)
    page.screenshot(path=str(artefacts / "console-zh-streets.png"))

    page.locator("#layers input[data-layer=streets]").uncheck()
    page.wait_for_function(
        "() => document.querySelector('#map-base').dataset.streetLabels === '0'", timeout=WAIT_MS
    )

    page.locator("#lang select").select_option("en")
    expect(page.locator("#connection")).to_have_text("connected", timeout=WAIT_MS)
    expect(page.locator("#queue-pane h2")).to_contain_text("Calls")
    assert page.evaluate("() => localStorage.getItem('jijiu.lang')") == "en"
    assert console.problems == []


def test_call_ages_after_a_reload_count_from_the_server_clock_not_the_browser_s(
    live: Running, console: Console
) -> None:
    """A call made before the page opens, on a browser whose clock is five hours behind, shows
    its age at once as a plain m:ss under a minute (from the snapshot's `now_s`), not a lower
    bound "≥ …" nor hours; the age still ticks."""
    r = new_call(live, "age-skew")
    assert r.status_code == 201, r.text
    iid = r.json()["incident_id"]
    console.page.add_init_script(SKEWED_CLOCK)
    console.open(live, live.tokens["dispatcher"])
    console.ready()
    age = console.row(iid).locator(".age")
    expect(age).to_have_text(re.compile(r"^0:[0-5]\d$"), timeout=WAIT_MS)
    first = age.inner_text()
    expect(age).not_to_have_text(first, timeout=WAIT_MS)  # it ticks
    assert not age.inner_text().startswith("≥")
    assert console.problems == []
