"""`jijiu serve --city DIR` on a city it has never seen: West Oakland from its OSM extract.

The folder is built by `city init` from tests/data/West-Oakland.osm.bz2 (English names only)
with the two hand-written hospitals of tests/support/cities.py; a real server runs on it over
loopback with three seeded units. A caller's GNSS fix on 7th Street is located and read back in
English, a unit is assigned, and the patient's destinations are that city's own hospitals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dispatch.settings import Settings
from tests.support.cities import OAKLAND_HOSPITAL_IDS, city_settings, oakland_city
from tests.support.server import Running, auth, start

CJK = re.compile(r"[\u3400-\u9fff]")
ON_7TH = {"lat": 37.80738, "lon": -122.30061, "accuracy_m": 12}  # a node of the extract


@pytest.fixture(scope="module")
def oakland(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server on the West Oakland city folder, three units, offers that never time out."""
    tmp = tmp_path_factory.mktemp("oakland")
    folder = oakland_city(tmp / "city")
    running = start(city_settings(folder, tmp, 3))
    yield running
    running.stop()


def test_a_call_is_located_read_back_in_english_and_gets_a_unit(oakland: Running) -> None:
    """The fix on 7th Street places the call within 50 m, the read-back names the streets in
    English with no Chinese character, and the recommended unit is assigned (201)."""
    body = {"phone": "+15105550100", "consent_location": True, "fix": ON_7TH}
    r = httpx.post(
        f"{oakland.http}/api/v1/calls",
        json={**body, "complaint": "chest_pain"},
        headers={"Idempotency-Key": "oak-1"},
    )
    assert r.status_code == 201, r.text
    call = r.json()
    estimate = call["estimate"]
    assert abs(estimate["lat"] - ON_7TH["lat"]) < 0.0005
    assert abs(estimate["lon"] - ON_7TH["lon"]) < 0.0005
    assert "Street" in estimate["description"] and not CJK.search(estimate["description"])
    dispatcher = auth(oakland.tokens["dispatcher"])
    iid = call["incident_id"]
    seen = httpx.get(f"{oakland.http}/api/v1/incidents/{iid}", headers=dispatcher).json()
    assert not CJK.search(str(seen)), seen
    options = httpx.get(
        f"{oakland.http}/api/v1/incidents/{iid}/recommendations", headers=dispatcher
    ).json()
    assert options, "three idle units on a connected network: at least one is recommended"
    r = httpx.post(
        f"{oakland.http}/api/v1/incidents/{iid}/assignment",
        json={"unit_id": options[0]["unit_id"]},
        headers=dispatcher,
    )
    assert r.status_code == 201, r.text


def test_destinations_are_the_city_s_own_hospitals(oakland: Running) -> None:
    """A stroke patient: both Oakland hospitals are reachable, none of Hangzhou's is named,
    and no reason header says anything is missing."""
    r = httpx.post(
        f"{oakland.http}/api/v1/calls",
        json={
            "phone": "+15105550101",
            "consent_location": True,
            "fix": ON_7TH,
            "complaint": "stroke",
        },
        headers={"Idempotency-Key": "oak-2"},
    )
    assert r.status_code == 201, r.text
    iid = r.json()["incident_id"]
    r = httpx.get(
        f"{oakland.http}/api/v1/incidents/{iid}/destinations",
        headers=auth(oakland.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    assert {c["hospital_id"] for c in r.json()} <= OAKLAND_HOSPITAL_IDS
    assert r.json() and "jijiu-reason" not in r.headers
    assert set(oakland.tokens["hospitals"]) == OAKLAND_HOSPITAL_IDS


def test_the_city_endpoint_names_the_layers_not_configured(oakland: Running) -> None:
    """GET /api/v1/city: West Oakland in en, with hospitals and places, no stations, AEDs
    or cells."""
    r = httpx.get(f"{oakland.http}/api/v1/city")
    assert r.status_code == 200, r.text
    city = r.json()
    assert (city["name"], city["locale"]) == ("West Oakland", "en")
    assert city["not_configured"] == ["stations", "aeds", "cells"]
    assert city["layers"]["hospitals"] is True and city["layers"]["aeds"] is False


def test_the_map_shows_the_city_s_hospitals_and_streets(oakland: Running) -> None:
    """GET /api/v1/map: the two Oakland hospitals on the network, English street names."""
    r = httpx.get(f"{oakland.http}/api/v1/map", headers=auth(oakland.tokens["dispatcher"]))
    assert r.status_code == 200, r.text
    drawn = r.json()
    assert {h["hospital_id"] for h in drawn["hospitals"]} == OAKLAND_HOSPITAL_IDS
    assert all(h["on_network"] for h in drawn["hospitals"])
    assert "7th Street" in drawn["names"] and not CJK.search("".join(drawn["names"]))


def test_a_city_folder_and_a_network_are_not_both_given(tmp_path: Path) -> None:
    """Settings refuse a city with a network: the city's city.toml names its own."""
    with pytest.raises(ValueError, match="not both"):
        Settings(city=str(tmp_path), network="wulin")
