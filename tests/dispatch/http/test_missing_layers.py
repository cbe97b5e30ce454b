"""A city with nothing but its roads: every missing layer answers "not configured", never 5xx.

West Oakland built by `city init` and stripped of its places: no hospitals, stations, AEDs,
cells or places (tests/support/cities.py). Destinations and AEDs answer an empty list with a
`Jijiu-Reason` header, `GET /api/v1/city` lists the missing layers, a call carrying a cell and
words is located by its fix alone, a patient can be transported with no hospital to go to, and
every GET in the OpenAPI document answers below 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.cities import city_settings, oakland_city
from tests.support.server import Running, auth, phone_of, start

ON_7TH = {"lat": 37.80738, "lon": -122.30061, "accuracy_m": 12}  # a node of the extract
CELL = {"mcc": 310, "mnc": 410, "area": 1, "cell": 1}  # a cell no table holds


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server on West Oakland's roads alone, two units, offers that never time out."""
    tmp = tmp_path_factory.mktemp("bare")
    folder = oakland_city(tmp / "city", hospitals=False, places=False)
    running = start(city_settings(folder, tmp, 2))
    yield running
    running.stop()


def call(live: Running, key: str, **extra: object) -> dict[str, str]:
    body = {"phone": phone_of(key), "consent_location": True, **extra}
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_city_says_which_layers_are_not_configured(bare: Running) -> None:
    """GET /api/v1/city: all five layers missing, and no hospital token was made."""
    city = httpx.get(f"{bare.http}/api/v1/city").json()
    assert city["not_configured"] == ["hospitals", "stations", "aeds", "cells", "places"]
    assert not any(city["layers"].values())
    assert bare.tokens["hospitals"] == {}


def test_no_hospitals_gives_no_destination_with_a_reason(bare: Running) -> None:
    """A stroke patient in a city without hospitals: 200, [], no_hospitals_configured."""
    iid = call(bare, "no-hosp", fix=ON_7TH, complaint="stroke")["incident_id"]
    r = httpx.get(
        f"{bare.http}/api/v1/incidents/{iid}/destinations",
        headers=auth(bare.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    assert r.json() == [] and r.headers["jijiu-reason"] == "no_hospitals_configured"


def test_no_aeds_gives_no_aed_with_a_reason(bare: Running) -> None:
    """A cardiac arrest in a city without AEDs: 200, [], no_aeds_configured."""
    iid = call(bare, "no-aed", fix=ON_7TH, complaint="cardiac_arrest")["incident_id"]
    r = httpx.get(
        f"{bare.http}/api/v1/incidents/{iid}/aeds", headers=auth(bare.tokens["dispatcher"])
    )
    assert r.status_code == 200, r.text
    assert r.json() == [] and r.headers["jijiu-reason"] == "no_aeds_configured"


def test_a_cell_and_words_without_their_layers_leave_the_fix_to_locate(bare: Running) -> None:
    """No cell table, no places: the call's cell and words are not used, its fix places it, and
    the read-back is English."""
    made = call(bare, "no-cells", fix=ON_7TH, cell=CELL, spoken="Revolution Cafe")
    estimate = made["estimate"]
    assert abs(estimate["lat"] - ON_7TH["lat"]) < 0.0005
    assert not re.search(r"[\u3400-\u9fff]", estimate["description"])


def test_a_patient_is_transported_with_no_hospital_to_go_to(bare: Running) -> None:
    """Assigned, acknowledged, en route, on scene, transporting: each step answers 200/201,
    and the auto destination rule finds nothing rather than failing."""
    iid = call(bare, "transport", fix=ON_7TH, complaint="trauma")["incident_id"]
    dispatcher = auth(bare.tokens["dispatcher"])
    unit = httpx.get(
        f"{bare.http}/api/v1/incidents/{iid}/recommendations", headers=dispatcher
    ).json()[0]["unit_id"]
    r = httpx.post(
        f"{bare.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": unit}, headers=dispatcher
    )
    assert r.status_code == 201, r.text
    crew = auth(bare.tokens["units"][unit])
    for device in ("tablet", "doctor", "driver"):
        r = httpx.post(
            f"{bare.http}/api/v1/units/{unit}/ack",
            json={"incident_id": iid, "device": device},
            headers=crew,
        )
        assert r.status_code == 200, r.text
    for status in ("en_route", "on_scene", "transporting"):
        r = httpx.post(
            f"{bare.http}/api/v1/units/{unit}/status", json={"status": status}, headers=crew
        )
        assert r.status_code == 200, r.text
    seen = httpx.get(f"{bare.http}/api/v1/incidents/{iid}", headers=dispatcher).json()
    assert seen.get("destination") is None


def test_no_get_answers_5xx(bare: Running) -> None:
    """Every GET route of the OpenAPI document, path ids filled with a real incident, unit and
    an unknown hospital, as the dispatcher: each answers below 500."""
    iid = call(bare, "crawl", fix=ON_7TH, complaint="chest_pain")["incident_id"]
    unit = next(iter(bare.tokens["units"]))
    ids = {"incident_id": iid, "unit_id": unit, "hospital_id": "none"}
    paths = httpx.get(f"{bare.http}/openapi.json").json()["paths"]
    answered = {}
    for path, ops in paths.items():
        if "get" not in ops:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), path)
        answered[path] = httpx.get(
            f"{bare.http}{url}", headers=auth(bare.tokens["dispatcher"])
        ).status_code
    assert "/api/v1/incidents/{incident_id}/destinations" in answered
    assert {p: s for p, s in answered.items() if s >= 500} == {}
