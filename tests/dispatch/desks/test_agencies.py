"""Partner agencies over real sockets: flagged incidents reach an agency's feed as EIDO-style
documents and follow the incident, a late subscriber gets the active ones, notes come back,
unflagging stops the feed, and flags, notes and the feed survive a restart. Never a medical
field: every frame an agency receives is scanned for the complaint, determinant, patient,
caller and destination.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from dispatch.settings import Settings
from tests.support.agencies import Feed, agency_ws, flag, plain_call
from tests.support.server import HERE, Running, auth, closed_with, recv_until, start

PHONE = "+8613800000123"
DETERMINANT = "10D01"
#: Keys and values that would be medical or caller details on an agency's feed.
FORBIDDEN_KEYS = {
    "complaint",
    "determinant",
    "age_band",
    "sex",
    "vitals",
    "numerics",
    "phone",
    "caller_token",
    "destination",
    "hospital_id",
    "activation",
}
FORBIDDEN_TEXT = ("chest_pain", DETERMINANT, PHONE, "65-79", "female", "zjpph")


def assert_nothing_medical(frames: list[dict[str, Any]]) -> None:
    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert frames
    for frame in frames:
        assert not keys(frame) & FORBIDDEN_KEYS, frame
        text = json.dumps(frame, ensure_ascii=False)
        assert not [t for t in FORBIDDEN_TEXT if t in text], frame


def medical_call(live: Running, key: str) -> str:
    """A chest-pain call, triaged P1 with a determinant, the patient described, ALS01 sent
    and the patient routed to zjpph: every medical field set."""
    body = {"phone": PHONE, "consent_location": True, "fix": HERE, "complaint": "chest_pain"}
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    iid: str = r.json()["incident_id"]
    base, d = f"{live.http}/api/v1/incidents/{iid}", auth(live.tokens["dispatcher"])
    triage = {"priority": 1, "complaint": "chest_pain", "determinant": DETERMINANT}
    for path, payload in (
        ("triage", triage),
        ("patient", {"age_band": "65-79", "sex": "female"}),
        ("assignment", {"unit_id": "ALS01"}),
        ("destination", {"hospital_id": "zjpph"}),
    ):
        r = httpx.post(f"{base}/{path}", json=payload, headers=d)
        assert r.status_code in (200, 201), r.text
    return iid


def unit_status(live: Running, unit: str, status: str) -> None:
    r = httpx.post(
        f"{live.http}/api/v1/units/{unit}/status",
        json={"status": status},
        headers=auth(live.tokens["units"][unit]),
    )
    assert r.status_code == 200, r.text


# --- the feed -----------------------------------------------------------------------------------
def test_a_flagged_incident_reaches_its_agencies_and_follows_the_incident(live: Running) -> None:
    """Flagged for police and fire as a traffic collision: both get the document (type,
    priority, the 95 % circle, ALS01, the note); the unit going en route, a new pin and the
    cancellation each re-issue it. Traffic police, not flagged, gets nothing of it. No frame
    holds a medical or caller detail."""
    iid = medical_call(live, "agency-1")
    with (
        agency_ws(live, "police") as p,
        agency_ws(live, "fire") as f,
        agency_ws(live, "traffic_police") as t,
        live.ws("/ws/console", live.tokens["dispatcher"]) as console,
    ):
        police, fire, traffic = Feed(p), Feed(f), Feed(t)
        for feed in (police, fire, traffic):
            assert feed.next()["incidents"] == []  # the snapshot: nothing flagged yet
        json.loads(console.recv(timeout=10))
        r = flag(
            live,
            iid,
            "police",
            "fire",
            incident_type="traffic_collision",
            note="two cars, lane 2 blocked",
        )
        assert r.status_code == 200, r.text
        assert r.json()["agencies"] == ["fire", "police"]
        doc = police.document(iid, "flagged")
        incident = doc["incidentComponent"]
        assert incident["incidentTypeCommonRegistryText"] == "Traffic"
        assert incident["incidentPriorityInternalText"] == "P1"
        assert incident["incidentStatusCommonRegistryText"] == ["Dispatched"]
        (place,) = doc["locationComponent"]
        circle = place["locationByValue"]
        assert abs(circle["latitude"] - HERE["lat"]) < 0.01 and circle["radiusMeters"] > 0
        assert place["locationDescriptionText"]
        (unit,) = doc["emergencyResourceComponent"]
        assert (unit["emergencyResourceName"], unit["primaryUnitStatusRegistryText"]) == (
            "ALS01",
            "Dispatched",
        )
        assert [a["$id"] for a in doc["agencyComponent"]] == ["jijiu.ems", "fire", "police"]
        assert doc["notesComponent"][0]["notesActionComments"] == "two cars, lane 2 blocked"
        assert fire.document(iid, "flagged")["incidentComponent"] == incident
        heard = recv_until(console, lambda fr: fr["type"] == "agency.flagged")
        assert heard["incident_id"] == iid and heard["agencies"] == ["fire", "police"]

        unit_status(live, "ALS01", "en_route")
        (unit,) = police.document(iid, "updated")["emergencyResourceComponent"]
        assert unit["primaryUnitStatusRegistryText"] == "Enroute"
        pin = {"pin": {"lat": 30.2790, "lon": 120.1480, "radius95_m": 30}}
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/location",
            json=pin,
            headers=auth(live.tokens["dispatcher"]),
        )
        assert r.status_code == 200, r.text
        moved = police.until(
            lambda fr: (
                fr["type"] == "incident.eido"
                and fr["eido"]["locationComponent"][0]["locationByValue"]["radiusMeters"] == 30
            )
        )
        assert (
            abs(moved["eido"]["locationComponent"][0]["locationByValue"]["latitude"] - 30.2790)
            < 0.001
        )
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/cancel",
            json={"reason": "gone"},
            headers=auth(live.tokens["dispatcher"]),
        )
        assert r.status_code == 200, r.text
        closed = police.document(iid, "closed")
        assert closed["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Cancelled"]
        fire.document(iid, "closed")

        other = plain_call(live, "agency-1b")  # the next frame traffic police gets is this one
        assert flag(live, other, "traffic_police").status_code == 200
        first = traffic.next()
        assert (first["incident_id"], first["reason"]) == (other, "flagged")
    assert_nothing_medical(police.seen + fire.seen + traffic.seen)


def test_a_late_subscriber_gets_the_active_incidents_flagged_for_it(live: Running) -> None:
    """A and B flagged for police, C for fire; B cancelled. Police connecting afterwards
    gets A alone (with its unit and note), fire gets C; the same over HTTP."""
    a = medical_call(live, "late-a")
    b, c = plain_call(live, "late-b", "+8613800000301"), plain_call(live, "late-c", "+86138003")
    assert flag(live, a, "police", note="scene is safe").status_code == 200
    assert flag(live, b, "police").status_code == 200
    assert flag(live, c, "fire", incident_type="fire").status_code == 200
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{b}/cancel", json={}, headers=auth(live.tokens["dispatcher"])
    )
    assert r.status_code == 200
    with agency_ws(live, "police") as p, agency_ws(live, "fire") as f:
        police, fire = Feed(p), Feed(f)
        snap = police.next()
        assert snap["type"] == "snapshot" and snap["agency_id"] == "police"
        assert [d["incidentComponent"]["internalIncidentId"] for d in snap["incidents"]] == [a]
        (doc,) = snap["incidents"]
        assert doc["reasonForIssueRegistryText"] == "snapshot"
        assert doc["emergencyResourceComponent"][0]["emergencyResourceName"] == "ALS01"
        assert doc["notesComponent"][0]["notesActionComments"] == "scene is safe"
        (fire_doc,) = fire.next()["incidents"]
        assert fire_doc["incidentComponent"]["incidentTypeCommonRegistryText"] == "Fire"
        assert fire_doc["incidentComponent"]["internalIncidentId"] == c
    r = httpx.get(
        f"{live.http}/api/v1/agencies/police/incidents",
        headers=auth(live.tokens["agencies"]["police"]),
    )
    assert [d["incidentComponent"]["internalIncidentId"] for d in r.json()] == [a]
    assert_nothing_medical(police.seen + fire.seen + r.json())


def test_agency_sockets_authenticate_in_the_handshake(live: Running) -> None:
    """No token 4401, another agency's or a dispatcher's 4403, no such agency 4404, a bad
    since 4400."""
    tokens = live.tokens["agencies"]
    assert set(tokens) == {"police", "fire", "traffic_police"}
    cases = [
        ("/ws/agencies/police", "nobody-has-this-token-x", {}, 4401),
        ("/ws/agencies/police", tokens["fire"], {}, 4403),
        ("/ws/agencies/police", live.tokens["dispatcher"], {}, 4403),
        ("/ws/agencies/army", tokens["police"], {}, 4404),
        ("/ws/agencies", tokens["police"], {}, 4404),
        ("/ws/agencies/police", tokens["police"], {"since": "x1"}, 4400),
    ]
    for path, token, query, code in cases:
        with live.ws(path, token, **query) as ws:
            assert closed_with(ws) == code, (path, code)


# --- notes ------------------------------------------------------------------------------------
def test_agencies_post_notes_on_their_incidents_only(live: Running) -> None:
    """Police's note on its incident is accepted, the console hears `agency.note` and fire
    (flagged too) gets the document with it; on an incident not flagged for it: unknown;
    too long or of an unknown type: invalid. Over HTTP the same, and another agency's token
    is refused."""
    iid = plain_call(live, "notes-1")
    theirs = plain_call(live, "notes-2", "+8613800000402")
    assert flag(live, iid, "police", "fire").status_code == 200
    assert flag(live, theirs, "fire").status_code == 200
    with (
        agency_ws(live, "police") as p,
        agency_ws(live, "fire") as f,
        live.ws("/ws/console", live.tokens["dispatcher"]) as console,
    ):
        police, fire = Feed(p), Feed(f)
        police.next(), fire.next(), json.loads(console.recv(timeout=10))
        p.send(json.dumps({"type": "note", "incident_id": iid, "text": "road closed at 文三路"}))
        accepted = police.until(lambda fr: fr["type"] == "accepted")
        assert accepted == {"type": "accepted", "frame": "note", "incident_id": iid}
        heard = recv_until(console, lambda fr: fr["type"] == "agency.note")
        assert (heard["agency_id"], heard["text"]) == ("police", "road closed at 文三路")
        notes = fire.document(iid, "note")["notesComponent"]
        assert [
            (n["updatedByAgencyReference"]["$ref"], n["notesActionComments"]) for n in notes
        ] == [("police", "road closed at 文三路")]
        refusals = [
            ({"type": "note", "incident_id": theirs, "text": "x"}, "unknown_incident"),
            ({"type": "note", "incident_id": "Inope", "text": "x"}, "unknown_incident"),
            ({"type": "note", "incident_id": iid, "text": "x" * 501}, "invalid_event"),
            ({"type": "note", "incident_id": iid, "text": "  "}, "invalid_event"),
            ({"type": "ack", "incident_id": iid}, "invalid_event"),
        ]
        for frame, reason in refusals:
            p.send(json.dumps(frame))
            assert police.until(lambda fr: fr["type"] == "error")["reason"] == reason, frame
    police_auth = auth(live.tokens["agencies"]["police"])
    url = f"{live.http}/api/v1/agencies/police/notes"
    r = httpx.post(
        url, json={"incident_id": iid, "text": "diversion via 学院路"}, headers=police_auth
    )
    assert r.status_code == 201 and r.json()["agency_id"] == "police", r.text
    r = httpx.post(url, json={"incident_id": theirs, "text": "x"}, headers=police_auth)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    r = httpx.post(url, json={"incident_id": iid, "text": "x" * 501}, headers=police_auth)
    assert r.status_code == 422
    r = httpx.post(
        url, json={"incident_id": iid, "text": "x"}, headers=auth(live.tokens["agencies"]["fire"])
    )
    assert r.status_code == 403
    flags = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/agencies", headers=auth(live.tokens["dispatcher"])
    ).json()
    assert [n["text"] for n in flags["notes"]] == ["road closed at 文三路", "diversion via 学院路"]


def test_unflagging_tells_the_agency_and_stops_its_feed(live: Running) -> None:
    """Unflagged, police hears `incident.unflagged` and nothing more of it: the next frame it
    gets is about another incident flagged after an update of the first. Bad requests are
    4xx with reasons."""
    d = auth(live.tokens["dispatcher"])
    iid = plain_call(live, "unflag-1")
    assert flag(live, iid, "police", "fire").status_code == 200
    with agency_ws(live, "police") as p, agency_ws(live, "fire") as f:
        police, fire = Feed(p), Feed(f)
        police.next(), fire.next()
        r = httpx.delete(f"{live.http}/api/v1/incidents/{iid}/agencies/police", headers=d)
        assert r.status_code == 200 and r.json()["agencies"] == ["fire"], r.text
        gone = police.next()
        assert (gone["type"], gone["incident_id"]) == ("incident.unflagged", iid)
        assert [a["$id"] for a in fire.document(iid)["agencyComponent"]] == ["jijiu.ems", "fire"]
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "BLS02"}, headers=d
        )
        assert r.status_code == 201
        fire.document(iid, "updated")
        other = plain_call(live, "unflag-2", "+8613800000502")
        assert flag(live, other, "police").status_code == 200
        assert police.next()["incident_id"] == other
    r = httpx.delete(f"{live.http}/api/v1/incidents/{iid}/agencies/police", headers=d)
    assert (r.status_code, r.json()["reason"]) == (404, "not_flagged")
    bad = [
        (flag(live, "Inope", "police"), 404, "unknown_incident"),
        (flag(live, iid, "army"), 422, "invalid_request"),
        (flag(live, iid), 422, "invalid_request"),
        (flag(live, iid, "police", incident_type="stroke"), 422, "invalid_request"),
        (flag(live, iid, "police", note="x" * 501), 422, "invalid_request"),
    ]
    for r, status, reason in bad:
        assert (r.status_code, r.json()["reason"]) == (status, reason), r.text
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/agencies",
        json={"agencies": ["police"]},
        headers=auth(live.tokens["agencies"]["police"]),
    )
    assert r.status_code == 403
    httpx.post(f"{live.http}/api/v1/incidents/{other}/cancel", json={}, headers=d)
    assert flag(live, other, "fire").json()["reason"] == "illegal_transition"


# --- durability -------------------------------------------------------------------------------
def test_flags_notes_and_the_feed_survive_a_restart(settings: Settings) -> None:
    """Police resumes across a restart from its last seq: the update it missed comes from
    the log, then live frames; the flags and notes are still there, and a fresh police
    connection's snapshot holds the incident with its note."""
    first = start(settings)
    try:
        iid = plain_call(first, "restart-1")
        with agency_ws(first, "police") as p:
            police = Feed(p)
            police.next()  # the snapshot: nothing yet
            assert flag(first, iid, "police", note="cordon at the junction").status_code == 200
            police.document(iid, "flagged")
            last = police.seen[-1]["seq"]
        r = httpx.post(
            f"{first.http}/api/v1/incidents/{iid}/assignment",
            json={"unit_id": "ALS01"},
            headers=auth(first.tokens["dispatcher"]),
        )
        assert r.status_code == 201
    finally:
        first.stop()
    second = start(settings)
    try:
        with agency_ws(second, "police", since=str(last)) as p:
            police = Feed(p)
            missed = police.next()
            assert (missed["type"], missed["seq"]) == ("incident.eido", last + 1)
            (unit,) = missed["eido"]["emergencyResourceComponent"]
            assert unit["emergencyResourceName"] == "ALS01"
            r = httpx.post(
                f"{second.http}/api/v1/agencies/police/notes",
                json={"incident_id": iid, "text": "cordon lifted"},
                headers=auth(second.tokens["agencies"]["police"]),
            )
            assert r.status_code == 201, r.text
            after = police.next()
            assert (after["seq"], after["reason"]) == (last + 2, "note")
        flags = httpx.get(
            f"{second.http}/api/v1/incidents/{iid}/agencies",
            headers=auth(second.tokens["dispatcher"]),
        ).json()
        assert flags["agencies"] == ["police"]
        assert [n["text"] for n in flags["notes"]] == ["cordon at the junction", "cordon lifted"]
        with agency_ws(second, "police") as p:
            (doc,) = Feed(p).next()["incidents"]
            assert [n["notesActionComments"] for n in doc["notesComponent"]] == [
                "cordon at the junction",
                "cordon lifted",
            ]
    finally:
        second.stop()
