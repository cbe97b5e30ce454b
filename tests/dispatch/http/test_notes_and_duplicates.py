"""Notes, duplicates and the queue through the HTTP API (issue 20 items 5 and 6), on a live
server: a call-taker's note with its person (a retry adds none) on the view, the console and
the crew's tablet; a duplicate linked into its primary or kept apart, each in the log with the
person; the queue's order and overdue flag; 409 `location_conflict_unconfirmed` until a
dispatcher confirms sending a unit into a location conflict."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from dispatch.users import Rank, UserBook
from tests.support.agencies import Feed, agency_ws, flag, plain_call
from tests.support.server import HERE, Running, auth, new_call, recv_until

PASSWORD = "correct horse battery"
CELL = {"mcc": 460, "mnc": 0, "area": 22002, "cell": 1165}  # its wedge is far from HERE
SPOKEN = "浙江省人民医院"  # a place away from HERE: fix, cell and words disagree


@pytest.fixture
def people(live: Running, settings: Settings) -> dict[str, str]:
    """A call-taker and a dispatcher with names, and a session token for each."""
    book = UserBook(settings.users_path)
    book.add("chen.jing", Rank.CALL_TAKER, PASSWORD)
    book.add("li.lei", Rank.DISPATCHER, PASSWORD)
    out = {}
    for name in ("chen.jing", "li.lei"):
        r = httpx.post(f"{live.http}/api/v1/login", json={"name": name, "password": PASSWORD})
        out[name] = r.json()["token"]
    return out


def open_call(live: Running, key: str) -> str:
    r = new_call(live, key)
    assert r.status_code == 201, r.text
    incident_id: str = r.json()["incident_id"]
    return incident_id


def note(live: Running, token: str, iid: str, text: str, key: str | None) -> httpx.Response:
    headers = {**auth(token), **({"Idempotency-Key": key} if key else {})}
    url = f"{live.http}/api/v1/incidents/{iid}/notes"
    return httpx.post(url, json={"text": text}, headers=headers)


def view(live: Running, iid: str) -> dict[str, Any]:
    r = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def logged(live: Running, settings: Settings, kinds: set[str]) -> list[dict[str, Any]]:
    """The events of these kinds in the log (the server is stopped first)."""
    live.stop()
    log = open_log(settings.store_url)
    try:
        return [r.event for r in log.read() if r.event["type"] in kinds]
    finally:
        log.close()


def test_a_call_takers_note_shows_on_the_view_console_and_tablet_once(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """chen.jing notes "door code 1234" (201, her name); the retry with the key answers 200
    and adds none; the console gets `incident.note`; once ALS01 is sent, its tablet's job
    carries the note and a second note reaches it as `job.notes`; the log has both, named."""
    iid = open_call(live, "n-1")
    ct = people["chen.jing"]
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        first = note(live, ct, iid, "door code 1234", "k-1")
        assert first.status_code == 201, first.text
        assert first.json()["person"] == "chen.jing" and first.json()["text"] == "door code 1234"
        again = note(live, ct, iid, "door code 1234", "k-1")
        assert again.status_code == 200 and again.json() == first.json()
        frame = recv_until(console, lambda f: f["type"] == "incident.note")
    assert (frame["incident_id"], frame["person"], frame["text"]) == (
        iid,
        "chen.jing",
        "door code 1234",
    )
    notes = view(live, iid)["notes"]
    assert [(n["person"], n["text"]) for n in notes] == [("chen.jing", "door code 1234")]
    sent = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment",
        json={"unit_id": "ALS01"},
        headers=auth(people["li.lei"]),
    )
    assert sent.status_code == 201, sent.text
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        snap = json.loads(tablet.recv(timeout=10))
        assert snap["job"]["incident_id"] == iid
        assert snap["job"]["notes"].endswith("chen.jing: door code 1234")
        assert note(live, people["li.lei"], iid, "lift broken", "k-2").status_code == 201
        update = recv_until(tablet, lambda f: f["type"] == "job.notes")
    assert update["notes"].splitlines()[1].endswith("li.lei: lift broken")
    events = logged(live, settings, {"NoteAdded"})
    assert [(e["text"], e["person"]) for e in events] == [
        ("door code 1234", "chen.jing"),
        ("lift broken", "li.lei"),
    ]


def test_a_note_needs_a_key_fits_1000_characters_and_an_open_incident(
    live: Running, people: dict[str, str]
) -> None:
    """No key: 400; 1001 characters: 422; unknown incident: 404; a cancelled one: 409."""
    iid = open_call(live, "n-2")
    ct = people["chen.jing"]
    assert note(live, ct, iid, "x", None).status_code == 400
    assert note(live, ct, iid, "x" * 1001, "k").status_code == 422
    assert note(live, ct, iid, "x" * 1000, "k").status_code == 201
    assert note(live, ct, "nope", "x", "k2").status_code == 404
    d = auth(live.tokens["dispatcher"])
    assert httpx.post(f"{live.http}/api/v1/incidents/{iid}/cancel", json={}, headers=d).is_success
    assert note(live, ct, iid, "late", "k3").status_code == 409


def test_a_duplicate_is_linked_into_its_primary_and_the_log_says_who(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """Two calls from one place: the second is suggested as a duplicate of the first; li.lei
    links it (the answer is the primary, listing it); it is closed as linked; a call-taker
    may not link (403); its caller then sees the primary's unit coming; the log holds
    `IncidentLinked` with li.lei."""
    first = open_call(live, "d-1")
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        answer = new_call(live, "d-2")
        second, caller = answer.json()["incident_id"], answer.json()["caller_token"]
        dup = recv_until(console, lambda f: f["type"] == "duplicate.suggested")
    assert dup["incident_id"] == second and first in dup["candidates"]
    url = f"{live.http}/api/v1/incidents/{second}/link"
    refused = httpx.post(url, json={"primary_id": first}, headers=auth(people["chen.jing"]))
    assert refused.status_code == 403
    r = httpx.post(url, json={"primary_id": first}, headers=auth(people["li.lei"]))
    assert r.status_code == 200, r.text
    assert r.json()["incident_id"] == first and r.json()["linked"] == [second]
    dup_view = view(live, second)
    assert dup_view["open"] is False and dup_view["linked_to"] == first
    assert second not in [v["incident_id"] for v in _open(live)]
    again = httpx.post(url, json={"primary_id": first}, headers=auth(people["li.lei"]))
    assert again.status_code == 409  # closed already
    sent = httpx.post(
        f"{live.http}/api/v1/incidents/{first}/assignment",
        json={"unit_id": "ALS01"},
        headers=auth(people["li.lei"]),
    )
    assert sent.status_code == 201, sent.text
    mine = httpx.get(f"{live.http}/api/v1/incidents/{second}", headers=auth(caller)).json()
    assert mine["incident_id"] == second and mine["open"] is True  # the primary's state
    assert mine["unit"] is not None and mine["unit"]["eta_s"] is not None  # its unit coming
    events = logged(live, settings, {"IncidentLinked"})
    assert [(e["incident_id"], e["primary_id"], e["person"]) for e in events] == [
        (second, first, "li.lei")
    ]


def test_a_duplicate_kept_apart_stays_open_on_both(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """li.lei keeps the second call apart from the first: both stay open, each names the
    other; the log holds `DuplicateKeptApart` with li.lei."""
    first, second = open_call(live, "k-1"), open_call(live, "k-2")
    url = f"{live.http}/api/v1/incidents/{second}/keep-apart"
    r = httpx.post(url, json={"other_id": first}, headers=auth(people["li.lei"]))
    assert r.status_code == 200, r.text
    assert r.json()["kept_apart"] == [first] and view(live, first)["kept_apart"] == [second]
    assert view(live, first)["open"] and view(live, second)["open"]
    events = logged(live, settings, {"DuplicateKeptApart"})
    assert [(e["incident_id"], e["other_id"], e["person"]) for e in events] == [
        (second, first, "li.lei")
    ]


def _open(live: Running) -> list[dict[str, Any]]:
    r = httpx.get(f"{live.http}/api/v1/incidents", headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_the_queue_lists_a_p1_older_than_a_p2_first_and_oldest_p2_next(live: Running) -> None:
    """Calls a, b (triaged P1) and c: the open list is b, then the P2s oldest first (a, c);
    b is overdue 60 s after its call, engine time."""
    a, b = open_call(live, "q-1"), open_call(live, "q-2")
    d = auth(live.tokens["dispatcher"])
    body = {"priority": 1, "complaint": "cardiac_arrest"}
    r = httpx.post(f"{live.http}/api/v1/incidents/{b}/triage", json=body, headers=d)
    assert r.status_code == 200, r.text
    c = open_call(live, "q-3")
    order = [v["incident_id"] for v in _open(live)]
    assert order == [b, a, c]
    first = _open(live)[0]
    assert first["overdue_at_s"] == pytest.approx(first["timeline"][0]["at_s"] + 60.0)


def test_sending_a_unit_into_a_location_conflict_needs_a_confirm(live: Running) -> None:
    """GPS, cell and words disagree: the assignment is 409 location_conflict_unconfirmed and
    nothing is sent; with `confirm_conflict: true` it is 201; a call without a conflict
    needs no confirm."""
    body = {
        "phone": "+8613800000031",
        "consent_location": True,
        "fix": HERE,
        "cell": CELL,
        "spoken": SPOKEN,
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "c-1"})
    assert r.status_code == 201 and r.json()["estimate"]["conflict"] is not None  # the premise
    iid = r.json()["incident_id"]
    d = auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{iid}/assignment"
    refused = httpx.post(url, json={"unit_id": "ALS01"}, headers=d)
    assert (
        refused.status_code == 409 and refused.json()["reason"] == "location_conflict_unconfirmed"
    )
    assert view(live, iid)["unit_id"] is None
    sent = httpx.post(url, json={"unit_id": "ALS01", "confirm_conflict": True}, headers=d)
    assert sent.status_code == 201, sent.text
    plain = open_call(live, "c-2")
    url = f"{live.http}/api/v1/incidents/{plain}/assignment"
    assert httpx.post(url, json={"unit_id": "BLS02"}, headers=d).status_code == 201


def test_a_note_never_reaches_a_partner_agency(live: Running, people: dict[str, str]) -> None:
    """An incident flagged for the police gets a note, then a unit: the police's feed
    re-issues the document for the unit, and neither it nor the agency's incident list holds
    the note's text."""
    iid = plain_call(live, "ag-1")
    with agency_ws(live, "police") as conn:
        police = Feed(conn)
        police.next()  # the snapshot
        assert flag(live, iid, "police").status_code == 200
        police.document(iid, "flagged")
        assert note(live, people["li.lei"], iid, "door code 1234 secret", "k-ag").status_code == 201
        sent = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/assignment",
            json={"unit_id": "ALS01"},
            headers=auth(people["li.lei"]),
        )
        assert sent.status_code == 201, sent.text
        (unit,) = police.document(iid, "updated")["emergencyResourceComponent"]
        assert unit["emergencyResourceName"] == "ALS01"  # a document after the note
    listed = httpx.get(
        f"{live.http}/api/v1/agencies/police/incidents",
        headers=auth(live.tokens["agencies"]["police"]),
    )
    assert listed.status_code == 200, listed.text
    for text in [json.dumps(f, ensure_ascii=False) for f in police.seen] + [listed.text]:
        assert "door code" not in text
