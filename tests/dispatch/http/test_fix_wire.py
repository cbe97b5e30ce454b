"""A call's fixes on the wire: several per call, their time, confidence and CRS (GCJ-02).

Served over loopback by the live server fixture (Wulin); the fusion behind it is tested in
tests/location_fusion/.
"""

from __future__ import annotations

from typing import Any

import httpx

from location_fusion.crs import wgs84_to_gcj02
from location_fusion.geo import haversine_m
from tests.support.server import HERE, Running, auth, new_call, phone_of


def post_call(live: Running, key: str, **body: Any) -> httpx.Response:
    full = {"phone": phone_of(key), "consent_location": True, "complaint": "chest_pain"}
    return httpx.post(
        f"{live.http}/api/v1/calls", json=full | body, headers={"Idempotency-Key": key}
    )


def off_m(estimate: dict[str, Any], lat: float, lon: float) -> float:
    return float(haversine_m(estimate["lon"], estimate["lat"], lon, lat))


def test_a_gcj02_fix_is_placed_where_the_caller_is(live: Running) -> None:
    """A GCJ-02 position of HERE (about 500 m off as WGS-84) lands within 15 m of HERE."""
    g_lat, g_lon = wgs84_to_gcj02(HERE["lat"], HERE["lon"])
    assert float(haversine_m(g_lon, g_lat, HERE["lon"], HERE["lat"])) > 300
    fix = {"lat": g_lat, "lon": g_lon, "accuracy_m": 8, "crs": "gcj02", "age_s": 1}
    r = post_call(live, "gcj-1", fix=fix)
    assert r.status_code == 201, r.text
    assert off_m(r.json()["estimate"], HERE["lat"], HERE["lon"]) < 15


def test_a_lone_good_fix_gets_a_radius_of_a_few_times_its_claim(live: Running) -> None:
    """One fresh 10 m GNSS fix: the 95 % radius is at most 30 m (it was 480 m)."""
    fix = {"lat": HERE["lat"], "lon": HERE["lon"], "accuracy_m": 10, "confidence": 0.68}
    r = post_call(live, "lone-1", fix=fix)
    assert r.status_code == 201, r.text
    assert 10 < r.json()["estimate"]["radius95_m"] <= 30


def test_a_stale_fix_in_the_history_is_set_aside(live: Running) -> None:
    """A 10-minute-old fix 600 m away beside a fresh one at HERE: the estimate is at HERE and
    its read-back says a stale fix was set aside."""
    old = {"lat": HERE["lat"] + 600 / 111_320, "lon": HERE["lon"], "accuracy_m": 10, "age_s": 600}
    fresh = {"lat": HERE["lat"], "lon": HERE["lon"], "accuracy_m": 12}
    r = post_call(live, "stale-1", fixes=[old, fresh], spoken="文三路")
    assert r.status_code == 201, r.text
    estimate = r.json()["estimate"]
    assert off_m(estimate, HERE["lat"], HERE["lon"]) < 20
    assert "600" in estimate["description"]


def test_malformed_fix_times_and_histories_are_422(live: Running) -> None:
    """Both a time and an age, a naive timestamp, a negative age, or 21 fixes: 422."""
    base = {"lat": HERE["lat"], "lon": HERE["lon"], "accuracy_m": 10}
    bad_fixes = [
        base | {"age_s": 3, "observed_at": "2026-12-06T08:00:00Z"},
        base | {"observed_at": "2026-12-06T08:00:00"},
        base | {"age_s": -1},
        base | {"crs": "bd09"},
    ]
    for i, fix in enumerate(bad_fixes):
        r = post_call(live, f"bad-{i}", fix=fix)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), fix
    r = post_call(live, "bad-many", fixes=[base] * 21)
    assert r.status_code == 422


def test_a_further_fix_takes_a_time_and_a_crs(live: Running) -> None:
    """The caller's further fix in GCJ-02 with an ISO time is fused at its WGS-84 place."""
    made = new_call(live, "further-1").json()
    g_lat, g_lon = wgs84_to_gcj02(HERE["lat"], HERE["lon"])
    fix = {"lat": g_lat, "lon": g_lon, "accuracy_m": 5, "crs": "gcj02", "confidence": 95}
    fix["observed_at"] = "2026-12-06T08:00:00+08:00"  # long ago or not: never in the future
    r = httpx.post(
        f"{live.http}/api/v1/calls/{made['incident_id']}/fixes",
        json={"fix": fix},
        headers=auth(made["caller_token"]),
    )
    assert r.status_code == 200, r.text
    assert off_m(r.json()["estimate"], HERE["lat"], HERE["lon"]) < 20
