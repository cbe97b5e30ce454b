"""The data cockpit: figures from timelines (pure), and the API over a live server."""

from __future__ import annotations

import csv
import io
import json
import time

import httpx
import pytest

from dispatch.core.cockpit import CSV_HEADER, Row, csv_rows, figures
from dispatch.core.model import Priority, Step
from dispatch.settings import Settings
from tests.support.server import Running, auth, new_call, recv_until, start
from tests.support.tablet import patient_on_the_way

T0 = 1_800_000_000.0


def row(
    i: int,
    dispatch_s: float,
    travel_s: float | None,
    priority: Priority = Priority.P2,
    lat: float = 30.28,
    radius_m: float = 20.0,
    conflict: bool = False,
) -> Row:
    received = T0 + 100 * i
    steps = {
        Step.CALL_RECEIVED: received,
        Step.UNIT_NOTIFIED: received + dispatch_s,
        Step.EN_ROUTE: received + dispatch_s + 60,
    }
    if travel_s is not None:
        steps[Step.ON_SCENE] = steps[Step.EN_ROUTE] + travel_s
    return Row(f"I{i}", received, steps, priority, "chest_pain", lat, 120.15, radius_m, conflict)


def test_medians_percentiles_and_compliance_from_timelines() -> None:
    """Ten calls dispatched after 10..100 s: median 55 s, p90 91 s; NFPA 1225 (60 s for 90 %)
    met by 6 of 10, not enough; a call not yet on scene counts for dispatch, not travel."""
    rows = [
        row(i, 10.0 * (i + 1), 300.0 + i, Priority.P1 if i < 5 else Priority.P2) for i in range(10)
    ] + [row(10, 5.0, None)]
    f = figures(rows, T0, T0 + 10 * 100, "nfpa")  # the 11th call is outside the period
    assert f["calls"] == 10
    assert f["intervals"]["call_to_dispatch"] == {"n": 10, "p50_s": 55.0, "p90_s": 91.0}
    assert f["intervals"]["turnout"]["p50_s"] == 60.0
    nfpa1225, nfpa1710 = f["compliance"]
    assert (nfpa1225["n"], nfpa1225["met"], nfpa1225["ok"]) == (10, 6, False)
    assert (nfpa1710["n"], nfpa1710["met"], nfpa1710["ok"]) == (5, 5, True)  # P1 travel only
    assert f["by_priority"] == {"P1": 5, "P2": 5, "P3": 0}
    assert f["intervals"]["handover"] == {"n": 0, "p50_s": None, "p90_s": None}
    with_open = figures(rows, T0, T0 + 11 * 100, "china-2020")
    departure = with_open["compliance"][1]
    assert departure["n"] == 11 and with_open["intervals"]["travel"]["n"] == 10


def test_grid_cells_and_location_quality() -> None:
    """Calls 3 km apart fall in different 1 km cells; 50 m precision and conflicts counted."""
    rows = [
        row(0, 30, 400, lat=30.28),
        row(1, 30, 600, lat=30.28, radius_m=80, conflict=True),
        row(2, 30, 200, lat=30.307),
    ]
    f = figures(rows, T0, T0 + 1000)
    cells = sorted(f["response_grid"], key=lambda c: c["lat"])
    assert [c["n"] for c in cells] == [2, 1]
    assert cells[0]["p50_s"] == pytest.approx(30 + 60 + 500)
    assert f["location"] == {
        "within_50m": pytest.approx(2 / 3, abs=1e-3),
        "conflict": pytest.approx(1 / 3, abs=1e-3),
    }
    with pytest.raises(ValueError, match="preset"):
        figures(rows, T0, T0 + 1000, "who-knows")
    table = csv_rows(rows, T0, T0 + 150)
    assert [r[0] for r in table] == ["I0", "I1"] and len(table[0]) == len(CSV_HEADER)


def test_the_cockpit_counts_a_live_journey_and_exports_it(live: Running) -> None:
    """A call taken to handover shows in the last hour's figures and in the CSV, on the wall
    clock; only dispatchers may read it; bad periods are 422."""
    started = time.time()
    iid = patient_on_the_way(live)
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        for status in ("en_route", "on_scene", "transporting", "at_hospital"):
            tablet.send(json.dumps({"type": "status", "status": status}))
            recv_until(tablet, lambda f: f["type"] == "accepted")
    dispatcher = auth(live.tokens["dispatcher"])
    r = httpx.post(f"{live.http}/api/v1/incidents/{iid}/handover", headers=dispatcher)
    assert r.status_code == 200
    f = httpx.get(f"{live.http}/api/v1/cockpit", params={"hours": 1}, headers=dispatcher).json()
    assert f["calls"] == 1
    for name in ("call_to_dispatch", "turnout", "travel", "response", "handover"):
        assert f["intervals"][name]["n"] == 1, name
    text = httpx.get(
        f"{live.http}/api/v1/cockpit.csv", params={"hours": 1}, headers=dispatcher
    ).text
    [header, line] = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_HEADER and line[0] == iid
    assert started - 5 <= float(line[1]) <= time.time()  # received on the wall clock
    later = {"since": time.time() + 3600, "until": time.time() + 7200}
    assert (
        httpx.get(f"{live.http}/api/v1/cockpit", params=later, headers=dispatcher).json()["calls"]
        == 0
    )
    for params in ({"hours": 0}, {"preset": "x"}, {"since": 10, "until": 5}, {"hours": "nan"}):
        bad = httpx.get(f"{live.http}/api/v1/cockpit", params=params, headers=dispatcher)
        assert bad.status_code == 422, params
    for token in (live.tokens["units"]["ALS01"], live.tokens["hospitals"]["zjpph"]):
        assert httpx.get(f"{live.http}/api/v1/cockpit", headers=auth(token)).status_code == 403


def test_times_before_a_restart_stay_on_their_wall_clock_time(settings: Settings) -> None:
    """Engine time runs on across a restart without the downtime; the start anchors put a
    call taken before it back at the wall-clock second it was received."""
    first = start(settings)
    try:
        posted = time.time()
        new_call(first, "cockpit-restart")
    finally:
        first.stop()
    time.sleep(2.0)  # downtime the engine clock does not count
    second = start(settings)
    try:
        [line] = list(
            csv.reader(
                io.StringIO(
                    httpx.get(
                        f"{second.http}/api/v1/cockpit.csv",
                        headers=auth(second.tokens["dispatcher"]),
                    ).text
                )
            )
        )[1:]
    finally:
        second.stop()
    assert abs(float(line[1]) - posted) < 1.0
