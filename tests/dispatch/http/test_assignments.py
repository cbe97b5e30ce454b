"""Several units per incident, unassign, reassign and divert against a live server (issue 20
item 3): each action by a named person, found under that person in the audit log; the crew's
socket hears the withdrawal and the new offer; the acceptance flow from a typed-in phone call
to a P1 reached by the suggested divert and both incidents closed."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.settings import Settings
from dispatch.users import Rank, UserBook
from tests.support.server import HERE, Running, auth, new_call, recv_until, start

PASSWORD = "correct horse battery"
#: Two dispatchers, so each action's audit record can be told apart, and a supervisor to read.
STAFF = {"li.lei": Rank.DISPATCHER, "wang.fang": Rank.DISPATCHER, "zhao.min": Rank.SUPERVISOR}


@pytest.fixture
def floor(settings: Settings) -> Iterator[Running]:
    """The small Wulin server with two units only (ALS01, BLS02): once both are busy, a new
    P1 has no free unit, which is when a divert is suggested."""
    running = start(dataclasses.replace(settings, seed_fleet=2))
    yield running
    running.stop()


@pytest.fixture
def people(floor: Running, settings: Settings) -> dict[str, str]:
    """The staff's accounts and a session token for each, by name."""
    book = UserBook(settings.users_path)
    for name, rank in STAFF.items():
        book.add(name, rank, PASSWORD)
    tokens = {}
    for name in STAFF:
        r = httpx.post(f"{floor.http}/api/v1/login", json={"name": name, "password": PASSWORD})
        tokens[name] = r.json()["token"]
    return tokens


def post(live: Running, path: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{live.http}/api/v1{path}", json=body, headers=auth(token))


def crew(live: Running, unit_id: str, status: str) -> None:
    """The crew of `unit_id` presses a status button."""
    r = post(live, f"/units/{unit_id}/status", live.tokens["units"][unit_id], {"status": status})
    assert r.status_code == 200, r.text


def call(live: Running, key: str, priority: int, token: str) -> str:
    """An app call triaged to `priority` by the person of `token`: its incident id."""
    r = new_call(live, key)
    assert r.status_code == 201, r.text
    iid: str = r.json()["incident_id"]
    complaint = "cardiac_arrest" if priority == 1 else "other"
    body = {"priority": priority, "complaint": complaint, "determinant": ""}
    assert post(live, f"/incidents/{iid}/triage", token, body).status_code == 200
    return iid


def trail(live: Running, person: str, boss: str) -> list[tuple[str, list[str], Any]]:
    r = httpx.get(f"{live.http}/api/v1/audit", params={"person": person}, headers=auth(boss))
    assert r.status_code == 200, r.text
    return [(rec["action"], rec["incident_ids"], rec.get("unit_id")) for rec in r.json()]


def test_two_units_then_one_unassigned_puts_nothing_back_until_the_last(
    floor: Running, people: dict[str, str]
) -> None:
    """li.lei sends ALS01 and BLS02 to one incident (the view lists both); wang.fang takes
    BLS02 off with a reason (its crew hears `offer.withdrawn`), then ALS01: the incident has
    no unit again; no reason is 422; each action is in its person's audit trail."""
    li, wang = people["li.lei"], people["wang.fang"]
    iid = call(floor, "two-units", 2, li)
    assert post(floor, f"/incidents/{iid}/assignment", li, {"unit_id": "ALS01"}).status_code == 201
    added = post(floor, f"/incidents/{iid}/units", li, {"unit_id": "BLS02"})
    assert added.status_code == 201, added.text
    view = httpx.get(f"{floor.http}/api/v1/incidents/{iid}", headers=auth(li)).json()
    assert view["unit_id"] == "ALS01" and [u["unit_id"] for u in view["units"]] == [
        "ALS01",
        "BLS02",
    ]
    again = post(floor, f"/incidents/{iid}/units", li, {"unit_id": "BLS02"})
    assert again.status_code == 409  # on it already
    path = f"/incidents/{iid}/units/BLS02/unassign"
    assert post(floor, path, wang, {}).status_code == 422  # the reason is required
    with floor.ws("/ws/units/BLS02", floor.tokens["units"]["BLS02"]) as tablet:
        assert json.loads(tablet.recv(timeout=10))["type"] == "snapshot"
        r = post(floor, path, wang, {"reason": "one crew is enough"})
        assert r.status_code == 200, r.text
        withdrawn = recv_until(tablet, lambda f: f["type"] == "offer.withdrawn")
    assert withdrawn["incident_id"] == iid and withdrawn["reason"] == "one crew is enough"
    assert r.json()["incident"]["unit_id"] == "ALS01"
    r = post(floor, f"/incidents/{iid}/units/ALS01/unassign", wang, {"reason": "wrong address"})
    left = r.json()["incident"]
    assert left["unit_id"] is None and left["units"] == []  # back in the queue
    assert "unit_notified" not in [t["name"] for t in left["timeline"]]
    boss = people["zhao.min"]
    assert trail(floor, "wang.fang", boss) == [
        ("UnitUnassigned", [iid], "BLS02"),
        ("UnitUnassigned", [iid], "ALS01"),
    ]
    assert ("UnitAssigned", [iid], "BLS02") in trail(floor, "li.lei", boss)


def test_the_acceptance_flow_from_a_phone_call_to_a_diverted_unit_and_both_closed(
    floor: Running, people: dict[str, str]
) -> None:
    """A typed-in phone call (P3) gets ALS01 and BLS02; a P1 then has no free unit, so the
    console is suggested to divert one of them; li.lei follows it, the crew's socket gets the
    withdrawal then the new offer, the P3 keeps its other unit; wang.fang writes a note on the
    P1; both incidents close once every unit is back in service, and every action is in
    li.lei's or wang.fang's trail."""
    li, wang, boss = people["li.lei"], people["wang.fang"], people["zhao.min"]
    point = {"lat": HERE["lat"], "lon": HERE["lon"], "radius_m": 30}
    body = {"phone": "+8613900001111", "complaint": "other", "point": point}
    headers = {"Idempotency-Key": "voice-1", **auth(li)}
    r = httpx.post(f"{floor.http}/api/v1/calls/manual", json=body, headers=headers)
    assert r.status_code == 201, r.text
    minor = r.json()["incident_id"]
    triaged = {"priority": 3, "complaint": "other", "determinant": ""}
    assert post(floor, f"/incidents/{minor}/triage", li, triaged).status_code == 200
    for unit_id, path in (("ALS01", "assignment"), ("BLS02", "units")):
        sent = post(floor, f"/incidents/{minor}/{path}", wang, {"unit_id": unit_id})
        assert sent.status_code == 201, sent.text
    with floor.ws("/ws/console", floor.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        arrest = call(floor, "arrest", 1, li)
        suggested = recv_until(
            console, lambda f: f["type"] == "divert.suggested" and f["incident_id"] == arrest
        )
    assert suggested["from_incident_id"] == minor and suggested["from_priority"] == 3
    assert suggested["free_eta_s"] is None and suggested["eta_s"] > 0
    unit = suggested["unit_id"]
    other = "BLS02" if unit == "ALS01" else "ALS01"
    with floor.ws(f"/ws/units/{unit}", floor.tokens["units"][unit]) as tablet:
        json.loads(tablet.recv(timeout=10))
        d = post(
            floor,
            f"/incidents/{minor}/units/{unit}/divert",
            li,
            {"to_incident": arrest, "reason": "cardiac arrest, no unit free"},
        )
        assert d.status_code == 200, d.text
        withdrawn = recv_until(tablet, lambda f: f["type"] == "offer.withdrawn")
        offered = recv_until(tablet, lambda f: f["type"] == "offer.sent")
    assert withdrawn["incident_id"] == minor and offered["incident_id"] == arrest
    assert d.json()["to_incident"]["unit_id"] == unit
    assert d.json()["incident"]["unit_id"] == other  # the P3 keeps its other unit
    note = httpx.post(
        f"{floor.http}/api/v1/incidents/{arrest}/notes",
        json={"text": "AED in the lobby"},
        headers={"Idempotency-Key": "note-1", **auth(wang)},
    )
    assert note.status_code == 201, note.text
    for unit_id in (unit, other):
        for status in ("en_route", "on_scene", "available_on_road"):
            crew(floor, unit_id, status)
    for iid in (minor, arrest):
        view = httpx.get(f"{floor.http}/api/v1/incidents/{iid}", headers=auth(li)).json()
        assert view["open"] is False, (iid, view["step"])
    li_trail = trail(floor, "li.lei", boss)
    assert ("UnitReassigned", [minor], unit) in li_trail
    assert ("IncidentTriaged", [arrest], None) in li_trail
    assert trail(floor, "wang.fang", boss) == [
        ("UnitAssigned", [minor], "ALS01"),
        ("UnitAssigned", [minor], "BLS02"),
        ("NoteAdded", [arrest], None),
    ]
