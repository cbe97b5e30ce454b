"""Never refuse a caller we cannot place: over real loopback sockets, a well-formed call whose
words match nothing, or whose fix lies off the road network, opens an incident flagged for the
dispatcher, who places it by pin; then it is ranked and dispatched, and a restart keeps it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from dispatch.core.events import CallReceived
from dispatch.settings import Settings
from dispatch.store import codec
from routing.load import load_network
from tests.support.server import HERE, Running, auth, phone_of, recv_until, start

DEG_M = 111_320.0  # metres per degree of latitude


def off_road_fix(metres: float = 600.0) -> dict[str, Any]:
    """A fix `metres` north of the northernmost road point of the bundled Wulin network."""
    net, _ = load_network("wulin")
    north = max(float(net.node_lonlat[:, 1].max()), float(net.geom_lonlat[:, 1].max(initial=0)))
    mid_lon = float(net.node_lonlat[:, 0].mean())
    return {"lat": north + metres / DEG_M, "lon": mid_lon, "accuracy_m": 10}


def call(live: Running, key: str, **body: Any) -> httpx.Response:
    """A well-formed call from the key's own phone with `body`'s evidence."""
    full = {"phone": phone_of(key), "consent_location": True, "complaint": "chest_pain", **body}
    url = f"{live.http}/api/v1/calls"
    return httpx.post(url, json=full, headers={"Idempotency-Key": key})


def test_words_that_match_nothing_open_an_unlocated_incident(live: Running) -> None:
    """No fix and words matching no place: 201, listed as unlocated and on the console."""
    d = auth(live.tokens["dispatcher"])
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        r = call(live, "nowhere-1", spoken="嗯嗯啊啊 xyzzy")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["location_status"] == "unlocated" and body["located"] is False
        assert body["caller_token"] and body["stream_url"].endswith(body["incident_id"])
        assert body["estimate"]["radius95_m"] == 100_000.0
        got = recv_until(console, lambda f: f["type"] == "call.received")
        assert got["incident_id"] == body["incident_id"]
        assert got["location_status"] == "unlocated"
    listed = httpx.get(f"{live.http}/api/v1/incidents", headers=d).json()
    mine = [i for i in listed if i["incident_id"] == body["incident_id"]]
    assert mine and mine[0]["location_status"] == "unlocated"
    recs = httpx.get(
        f"{live.http}/api/v1/incidents/{body['incident_id']}/recommendations", headers=d
    )
    assert recs.status_code == 200 and recs.json() == []
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{body['incident_id']}/assignment",
        json={"unit_id": "ALS01"},
        headers=d,
    )
    assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")
    for path in ("/api/v1/cockpit", f"/api/v1/incidents/{body['incident_id']}/sources"):
        assert httpx.get(f"{live.http}{path}", headers=d).status_code == 200, path
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        snap = json.loads(console.recv(timeout=10))
        held = [i for i in snap["incidents"] if i["incident_id"] == body["incident_id"]]
        assert held and held[0]["location_status"] == "unlocated"


def test_an_off_road_fix_is_held_then_placed_by_pin_and_dispatched(settings: Settings) -> None:
    """600 m off any road: 201 off_road; a pin places it, it is ranked and dispatched, and a
    restart rebuilds both the held and the placed incident from the log."""
    first = start(settings)
    try:
        d = auth(first.tokens["dispatcher"])
        r = call(first, "offroad-1", fix=off_road_fix())
        assert r.status_code == 201, r.text
        held = r.json()
        assert held["location_status"] == "off_road" and held["located"] is False
        iid = held["incident_id"]
        fix = off_road_fix()
        assert abs(held["estimate"]["lat"] - fix["lat"]) < 1e-4  # the caller's point, kept
        assert abs(held["estimate"]["lon"] - fix["lon"]) < 1e-4
        r = httpx.post(
            f"{first.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "ALS01"}, headers=d
        )
        assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")
        still = call(first, "nowhere-2", spoken="xyzzy").json()["incident_id"]
        pin = {"pin": {"lat": HERE["lat"], "lon": HERE["lon"], "radius95_m": 20}}
        r = httpx.post(f"{first.http}/api/v1/incidents/{iid}/location", json=pin, headers=d)
        assert r.status_code == 200, r.text
        assert r.json()["location_status"] == "located"
        recs = httpx.get(f"{first.http}/api/v1/incidents/{iid}/recommendations", headers=d)
        assert recs.status_code == 200 and recs.json(), recs.text
        unit_id = recs.json()[0]["unit_id"]
        r = httpx.post(
            f"{first.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": unit_id}, headers=d
        )
        assert r.status_code == 201, r.text
    finally:
        first.stop()
    second = start(settings)
    try:
        d = auth(second.tokens["dispatcher"])
        placed = httpx.get(f"{second.http}/api/v1/incidents/{iid}", headers=d).json()
        assert placed["location_status"] == "located" and placed["unit_id"] == unit_id
        unplaced = httpx.get(f"{second.http}/api/v1/incidents/{still}", headers=d).json()
        assert unplaced["location_status"] == "unlocated" and unplaced["unit_id"] is None
    finally:
        second.stop()


def test_malformed_calls_are_still_refused_with_a_reason(live: Running) -> None:
    """Bad JSON, no phone, lat 95: each a 4xx with its reason, never an incident."""
    url = f"{live.http}/api/v1/calls"
    key = {"Idempotency-Key": "malformed-1", "Content-Type": "application/json"}
    ok = {"phone": "+8613800000009", "consent_location": True, "fix": HERE}
    no_phone = {k: v for k, v in ok.items() if k != "phone"}
    for content in (
        '{"phone": ',
        json.dumps(no_phone),
        json.dumps({**ok, "fix": {**HERE, "lat": 95}}),
    ):
        r = httpx.post(url, content=content, headers=key)
        assert 400 <= r.status_code < 500 and r.json()["reason"], r.text


def test_a_call_logged_before_location_status_reads_back_as_located() -> None:
    """An old log's `CallReceived` has no location_status: it decodes as a located call."""
    old = {"type": "CallReceived", "incident_id": "I0123456789", "lat": 30.28, "lon": 120.15}
    event = codec.from_dict({**old, "radius95_m": 30.0})
    assert isinstance(event, CallReceived) and event.location_status == "located"


def test_an_unlocated_arrest_gets_its_aeds_only_once_placed(live: Running) -> None:
    """No AEDs near a placeholder: the console hears `incident.aeds` after the pin, not before."""
    d = auth(live.tokens["dispatcher"])
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        r = call(live, "arrest-1", spoken="xyzzy", complaint="cardiac_arrest")
        assert r.status_code == 201 and r.json()["location_status"] == "unlocated", r.text
        iid = r.json()["incident_id"]
        pin = {"pin": {"lat": HERE["lat"], "lon": HERE["lon"], "radius95_m": 20}}
        r = httpx.post(f"{live.http}/api/v1/incidents/{iid}/location", json=pin, headers=d)
        assert r.status_code == 200, r.text
        seen: list[str] = []

        def mine(frame: dict[str, Any]) -> bool:
            if frame.get("incident_id") == iid:
                seen.append(frame["type"])
            return frame["type"] == "incident.aeds" and frame["incident_id"] == iid

        recv_until(console, mine)
    assert "incident.located" in seen[: seen.index("incident.aeds")], seen
