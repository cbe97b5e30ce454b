"""The call-taking protocol over HTTP against a live server (issue 20 item 2): the sets are
listed with their versions; a set's answers triage the incident through the ordinary triage
event (with the set, version and answers in the log); an arrest determined leads to telephone
CPR, whose start and stop are events with the time and the call-taker's name; answers that do
not fit the set, or another version of it, change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from dispatch.users import Rank, UserBook
from tests.support.server import Running, auth, new_call

PASSWORD = "correct horse battery"
ARREST = [{"question": "awake", "answer": "no"}, {"question": "breathing", "answer": "no"}]


@pytest.fixture
def call_taker(live: Running, settings: Settings) -> str:
    """A call-taker's session token (chen.jing): the rank that asks the questions."""
    UserBook(settings.users_path).add("chen.jing", Rank.CALL_TAKER, PASSWORD)
    body = {"name": "chen.jing", "password": PASSWORD}
    answer = httpx.post(f"{live.http}/api/v1/login", json=body)
    token: str = answer.json()["token"]
    return token


def open_call(live: Running, key: str) -> str:
    r = new_call(live, key)  # a chest-pain call
    assert r.status_code == 201, r.text
    incident_id: str = r.json()["incident_id"]
    return incident_id


def protocol(
    live: Running, token: str, iid: str, set_id: str, answers: list[dict[str, str]], **extra: Any
) -> httpx.Response:
    body = {"set_id": set_id, "version": "2026.1", "answers": answers, **extra}
    url = f"{live.http}/api/v1/incidents/{iid}/protocol"
    return httpx.post(url, json=body, headers=auth(token))


def tcpr(live: Running, token: str, iid: str, action: str) -> httpx.Response:
    url = f"{live.http}/api/v1/incidents/{iid}/tcpr"
    return httpx.post(url, json={"action": action}, headers=auth(token))


def logged(live: Running, settings: Settings) -> list[Any]:
    """Every record in the log, read after the server stopped."""
    live.stop()
    log = open_log(settings.store_url)
    try:
        return list(log.read())
    finally:
        log.close()


def test_the_sets_are_listed_with_their_versions_and_the_tcpr_script(live: Running) -> None:
    """GET /api/v1/protocols: ten sets at 2026.1, each bilingual; the script at 110/min."""
    answer = httpx.get(f"{live.http}/api/v1/protocols", headers=auth(live.tokens["dispatcher"]))
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["sets"]) == 10
    assert {s["version"] for s in body["sets"]} == {"2026.1"}
    arrest = next(s for s in body["sets"] if s["id"] == "arrest")
    assert arrest["questions"][0]["text"]["zh-CN"].startswith("病人清醒吗")
    assert body["tcpr"]["rate_per_min"] == 110


def test_arrest_answers_triage_p1_and_tcpr_start_and_stop_are_logged_with_the_person(
    live: Running, settings: Settings, call_taker: str
) -> None:
    """A chest-pain call, awake no and breathing no from a call-taker: P1 cardiac arrest,
    ARR-E1, T-CPR; coaching starts (a second start is 409) and stops; the log holds the
    triage with the set, version and answers, then TcprStarted and TcprStopped, all by
    chen.jing, TcprStarted timed after the triage."""
    iid = open_call(live, "arrest-1")
    answer = protocol(live, call_taker, iid, "arrest", ARREST)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["determined"]["determinant"] == "ARR-E1"
    assert body["determined"]["tcpr"] is True
    assert "not breathing normally" in [r["en"] for r in body["determined"]["reasons"]]
    assert (body["incident"]["priority"], body["incident"]["complaint"]) == (1, "cardiac_arrest")
    started = tcpr(live, call_taker, iid, "start")
    assert started.status_code == 200, started.text
    assert started.json()["coaching"] is True and started.json()["started_at_s"] is not None
    assert tcpr(live, call_taker, iid, "start").status_code == 409
    stopped = tcpr(live, call_taker, iid, "stop")
    assert stopped.json()["coaching"] is False
    records = [(r.at_s, r.event) for r in logged(live, settings)]
    triaged = [(t, e) for t, e in records if e["type"] == "IncidentTriaged"]
    assert [e for _, e in triaged] == [
        {
            "type": "IncidentTriaged",
            "incident_id": iid,
            "priority": 1,
            "complaint": "cardiac_arrest",
            "determinant": "ARR-E1",
            "person": "chen.jing",
            "protocol_id": "arrest",
            "protocol_version": "2026.1",
            "answers": ["awake=no", "breathing=no"],
            "v": 1,
        }
    ]
    coaching = [(t, e) for t, e in records if e["type"].startswith("Tcpr")]
    assert [(e["type"], e["person"]) for _, e in coaching] == [
        ("TcprStarted", "chen.jing"),
        ("TcprStopped", "chen.jing"),
    ]
    assert triaged[0][0] <= coaching[0][0] <= coaching[1][0]


def test_stroke_answers_triage_the_fast_positive_call_p1(live: Running) -> None:
    """awake yes, face droops, seen well within 24 h: P1 stroke, STR-D2, no T-CPR."""
    iid = open_call(live, "stroke-1")
    answers = [
        {"question": "awake", "answer": "yes"},
        {"question": "face", "answer": "yes"},
        {"question": "time", "answer": "yes"},
    ]
    answer = protocol(live, live.tokens["dispatcher"], iid, "stroke", answers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["incident"]["priority"], body["incident"]["complaint"]) == (1, "stroke")
    assert (body["determined"]["determinant"], body["determined"]["tcpr"]) == ("STR-D2", False)


def test_answers_that_do_not_fit_change_nothing(live: Running, settings: Settings) -> None:
    """Unknown set 404; another version 409 naming the current; one answer of two 422
    answers_incomplete naming the next question; an answer off the path 422; T-CPR on a
    chest-pain call 409: the log holds no triage and no coaching."""
    token = live.tokens["dispatcher"]
    iid = open_call(live, "bad-1")
    unknown = protocol(live, token, iid, "nosuchset", ARREST)
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_protocol")
    other = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/protocol",
        json={"set_id": "arrest", "version": "2025.9", "answers": ARREST},
        headers=auth(token),
    )
    assert (other.status_code, other.json()["detail"]) == (409, {"current": "2026.1"})
    half = protocol(live, token, iid, "arrest", ARREST[:1])
    assert (half.status_code, half.json()["reason"]) == (422, "answers_incomplete")
    assert half.json()["detail"] == {"next": "breathing"}
    off = protocol(live, token, iid, "arrest", ARREST[1:])
    assert (off.status_code, off.json()["reason"]) == (422, "invalid_answers")
    refused = tcpr(live, token, iid, "start")
    assert (refused.status_code, refused.json()["reason"]) == (409, "illegal_transition")
    kinds = {r.event["type"] for r in logged(live, settings)}
    assert not kinds & {"IncidentTriaged", "TcprStarted", "TcprStopped"}
