"""The hospital wall screen names its hospital and flags abnormal vitals by NEWS2 bands (RCP 2017),
in a real headless Chromium against a live server (screenshot: `hospital-news2.png`).

`news2.js` scores each sign (RR, SpO2 scale 1, systolic BP, pulse, consciousness from GCS,
temperature): 3 points in one sign are red, 1-2 amber, and the card shows the aggregate. The
table's edges are checked here by hand from the RCP chart, run in the browser that uses them.
Every wait is Playwright's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.pages import WAIT_MS, Screen, screen_of
from tests.support.server import Running, auth
from tests.support.tablet import patient_on_the_way, reply, vitals

#: (sign, value, points) at each edge of the NEWS2 chart (RCP 2017, scale 1, GCS 15 = Alert).
CHART = [
    ("rr", 8, 3), ("rr", 9, 1), ("rr", 11, 1), ("rr", 12, 0), ("rr", 20, 0), ("rr", 21, 2),
    ("rr", 24, 2), ("rr", 25, 3),
    ("spo2", 91, 3), ("spo2", 92, 2), ("spo2", 93, 2), ("spo2", 94, 1), ("spo2", 95, 1),
    ("spo2", 96, 0), ("spo2", 88, 3),
    ("sys", 90, 3), ("sys", 91, 2), ("sys", 100, 2), ("sys", 101, 1), ("sys", 110, 1),
    ("sys", 111, 0), ("sys", 219, 0), ("sys", 220, 3),
    ("hr", 40, 3), ("hr", 41, 1), ("hr", 50, 1), ("hr", 51, 0), ("hr", 90, 0), ("hr", 91, 1),
    ("hr", 110, 1), ("hr", 111, 2), ("hr", 130, 2), ("hr", 131, 3), ("hr", 150, 3),
    ("temp", 35.0, 3), ("temp", 35.1, 1), ("temp", 36.0, 1), ("temp", 36.1, 0), ("temp", 38.0, 0),
    ("temp", 38.1, 1), ("temp", 39.0, 1), ("temp", 39.1, 2),
    ("gcs", 15, 0), ("gcs", 14, 3), ("gcs", 3, 3),
]  # fmt: skip

ZJPPH = ("浙江省人民医院", "Zhejiang Provincial People's Hospital")  # data/hangzhou/hospitals.csv


@pytest.fixture
def screen(browser: Browser) -> Iterator[Screen]:
    """A fresh context (English picked, tests.support.browser) with one page, 1400x900."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield screen_of(context.new_page())
    finally:
        context.close()


def test_the_news2_chart_is_scored_as_published(live: Running, screen: Screen) -> None:
    """Each edge of the RCP 2017 chart gets its points; 3 is red, 1-2 amber, 0 normal; the
    aggregate of SpO2 88 and HR 150 with the rest normal is 6, "medium"; with oxygen 8, "high";
    one red sign alone is "single"; a missing or non-numeric value scores nothing."""
    screen.page.goto(f"{live.http}/hospital")
    screen.page.wait_for_function("() => window.jijiuNews2 !== undefined", timeout=WAIT_MS)
    got = screen.page.evaluate(
        "(chart) => chart.map(([s, v]) => window.jijiuNews2.points(s, v))", CHART
    )
    assert got == [p for _, _, p in CHART]
    bands = screen.page.evaluate("() => [0, 1, 2, 3, null].map(window.jijiuNews2.band)")
    assert bands == ["normal", "amber", "amber", "red", ""]
    normal = {"rr": 16, "sys": 121, "temp": 36.8, "gcs": 15}
    scores = screen.page.evaluate(
        """(normal) => [
          window.jijiuNews2.score({ ...normal, spo2: 88, hr: 150 }),
          window.jijiuNews2.score({ ...normal, spo2: 88, hr: 150 }, true),
          window.jijiuNews2.score({ ...normal, spo2: 97, hr: 150 }),
          window.jijiuNews2.score({ ...normal, spo2: 97, hr: 73 }),
          window.jijiuNews2.score({ hr: "fast" }),
        ]""",
        normal,
    )
    assert [(s["total"], s["band"]) for s in scores] == [
        (6, "medium"),
        (8, "high"),
        (3, "single"),
        (0, "low"),
        (None, ""),
    ]


def test_the_page_names_its_hospital_and_flags_spo2_88_and_hr_150(
    live: Running, screen: Screen, artefacts: Path
) -> None:
    """The header names zjpph (English page: its English name); SpO2 88 % and HR 150 from the
    tablet are shown red (3 NEWS2 points each), BP 121 and RR 16 not; the card's NEWS2 reads
    6; the legend explains the colours."""
    iid = patient_on_the_way(live)
    screen.open(live, "zjpph", live.tokens["hospitals"]["zjpph"])
    page, card = screen.page, screen.card(iid)
    expect(page.locator("#hospital-name")).to_have_text(ZJPPH[1], timeout=WAIT_MS)
    expect(card.locator(".unit")).to_have_text("unit ALS01")
    readings = {"hr": 150, "spo2": 88, "nibp_sys": 121, "nibp_dia": 79, "rr": 16, "temp_c": 36.8}
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        tablet.send(vitals(1, **readings, gcs=15))
        assert reply(tablet)["type"] == "accepted"
    expect(card.locator('[data-v="spo2"]')).to_have_text("88", timeout=WAIT_MS)
    expect(card.locator(".tile.spo2")).to_have_attribute("data-band", "red")
    expect(card.locator(".tile.hr")).to_have_attribute("data-band", "red")
    expect(card.locator(".tile.nibp")).to_have_attribute("data-band", "normal")
    expect(card.locator(".tile.rr")).to_have_attribute("data-band", "normal")
    expect(card.locator(".news2-value")).to_have_text("6")
    expect(card.locator(".news2")).to_have_attribute("data-band", "medium")
    red = card.locator('[data-v="spo2"]').evaluate("e => getComputedStyle(e).color")
    plain = card.locator('[data-v="rr"]').evaluate("e => getComputedStyle(e).color")
    assert red == "rgb(255, 123, 114)" and plain != red  # hospital.css: a red sign's number
    expect(page.locator("#news2-legend")).to_contain_text("NEWS2")
    page.screenshot(path=str(artefacts / "hospital-news2.png"))
    assert screen.problems == []


def test_in_chinese_the_page_shows_the_hospital_s_chinese_name(
    live: Running, screen: Screen
) -> None:
    """Opened with lang=zh-CN the header reads 送往 浙江省人民医院 and the unit line 车辆 ALS01;
    another hospital's token may not read zjpph's names (403)."""
    iid = patient_on_the_way(live)
    token = live.tokens["hospitals"]["zjpph"]
    screen.page.goto(f"{live.http}/hospital#hospital=zjpph&token={token}&lang=zh-CN")
    expect(screen.page.locator("#hospital-name")).to_have_text(ZJPPH[0], timeout=WAIT_MS)
    expect(screen.page.locator("header h1")).to_contain_text("送往")
    expect(screen.card(iid).locator(".unit")).to_have_text("车辆 ALS01")
    other = live.tokens["hospitals"]["srrsh"]
    r = httpx.get(f"{live.http}/api/v1/hospitals/zjpph", headers=auth(other))
    assert r.status_code == 403
    r = httpx.get(f"{live.http}/api/v1/hospitals/zjpph", headers=auth(token))
    assert r.json() == {"hospital_id": "zjpph", "name": ZJPPH[0], "name_en": ZJPPH[1]}
    assert screen.problems == []
