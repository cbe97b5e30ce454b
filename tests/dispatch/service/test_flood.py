"""Flood isolation over real loopback sockets: a phone calling again joins its open incident,
a phone calling faster than a person can is quarantined (logged, answered, one console frame),
other phones keep opening incidents, and a dispatcher's release is logged with who did it.

Servers run as in tests/support/server.py (Wulin, SQLite log in tmp_path, four units). No test
asserts on timing: a console is read up to a marker call made after the calls under test.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from dispatch.core import events as ev
from dispatch.errors import InvalidEvent
from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from tests.support.server import ELSEWHERE, HERE, Running, auth, new_call, recv_until, start

FLOODER = "+8613900000099"
HASH = "ab" * 32  # a well-formed keyed hash no phone has


def frames_until_call(ws: ClientConnection, incident_id: str) -> list[dict[str, Any]]:
    """Every console frame up to and including the `call.received` of `incident_id`."""
    seen: list[dict[str, Any]] = []

    def keep(frame: dict[str, Any]) -> bool:
        seen.append(frame)
        return bool(frame["type"] == "call.received" and frame["incident_id"] == incident_id)

    recv_until(ws, keep)
    return seen


def logged(settings: Settings) -> list[dict[str, Any]]:
    """The events in the server's log (read once the server stopped)."""
    log = open_log(settings.store_url)
    try:
        return [r.event for r in log.read()]
    finally:
        log.close()


# --- pure: events and settings ----------------------------------------------------------------
def test_flood_events_refuse_a_phone_number_in_place_of_its_hash() -> None:
    """A phone field must be a 64-hex keyed hash: a clear number is refused at construction."""
    with pytest.raises(InvalidEvent):
        ev.PhoneQuarantined("+8613900000099", 30)
    with pytest.raises(InvalidEvent):
        ev.CallQuarantined("12" * 31, 30.28, 120.15, 20.0)
    assert ev.PhoneReleased(HASH, "dispatcher").by == "dispatcher"


def test_flood_settings_are_validated_and_read_from_the_environment() -> None:
    """JIJIU_REPEAT_WINDOW_S=120 and JIJIU_QUARANTINE_CALLS_PER_MIN=40 are read; 1 a minute
    and a negative window are refused; a window of 0 turns attaching off."""
    read = Settings.from_env(
        {"JIJIU_REPEAT_WINDOW_S": "120", "JIJIU_QUARANTINE_CALLS_PER_MIN": "40"}
    )
    assert (read.repeat_window_s, read.quarantine_calls_per_min) == (120.0, 40)
    with pytest.raises(ValueError, match="quarantine_calls_per_min"):
        Settings(quarantine_calls_per_min=1)
    with pytest.raises(ValueError, match="repeat_window_s"):
        Settings(repeat_window_s=-1.0)
    assert Settings(repeat_window_s=0).repeat_window_s == 0


# --- over loopback ----------------------------------------------------------------------------
def test_a_phone_calling_again_joins_its_open_incident(live: Running) -> None:
    """Three calls from one phone (three keys): one incident, answered 201, 200, 200 with the
    same incident id; the console hears call.repeated with counts 1 and 2, and the incident
    reads repeat_count 2. A retry of the second call changes nothing."""
    dispatcher = live.tokens["dispatcher"]
    with live.ws("/ws/console", dispatcher) as console:
        first = new_call(live, "k1", HERE, FLOODER)
        again = new_call(live, "k2", ELSEWHERE, FLOODER)
        third = new_call(live, "k3", HERE, FLOODER)
        retry = new_call(live, "k2", ELSEWHERE, FLOODER)
        marker = new_call(live, "m", HERE, "+8613800000077").json()["incident_id"]
        frames = frames_until_call(console, marker)
    assert [r.status_code for r in (first, again, third, retry)] == [201, 200, 200, 200]
    incident_id = first.json()["incident_id"]
    assert {r.json()["incident_id"] for r in (again, third, retry)} == {incident_id}
    assert again.json()["stream_url"].endswith(f"/ws/calls/{incident_id}")
    repeats = [f for f in frames if f["type"] == "call.repeated"]
    assert [(f["incident_id"], f["repeat_count"]) for f in repeats] == [
        (incident_id, 1),
        (incident_id, 2),
    ]
    opened = [f["incident_id"] for f in frames if f["type"] == "call.received"]
    assert opened == [incident_id, marker]
    view = httpx.get(f"{live.http}/api/v1/incidents/{incident_id}", headers=auth(dispatcher))
    assert view.json()["repeat_count"] == 2


def test_a_flooding_phone_is_quarantined_and_others_still_get_through(
    settings: Settings,
) -> None:
    """With a quarantine limit of 6 a minute, 30 calls from one phone make one incident (201),
    5 calls again (200) and 24 quarantined calls (202, `quarantined: true`); one
    phone.quarantined frame, no frame per quarantined call; 5 other phones' calls made during
    the flood each open an incident that reaches the console; after a restart the log holds
    all 24 quarantined calls and the queue and repeat count are rebuilt the same."""
    settings = dataclasses.replace(settings, quarantine_calls_per_min=6)
    live = start(settings)
    dispatcher = live.tokens["dispatcher"]
    try:
        with live.ws("/ws/console", dispatcher) as console:
            flood: list[httpx.Response] = []
            others: list[str] = []
            for i in range(30):
                flood.append(new_call(live, f"f{i}", HERE, FLOODER))
                if i % 6 == 5:
                    other = new_call(live, "o", ELSEWHERE, f"+861380000010{i // 6}")
                    assert other.status_code == 201
                    others.append(other.json()["incident_id"])
            marker = new_call(live, "m", HERE, "+8613800000077").json()["incident_id"]
            frames = frames_until_call(console, marker)
        codes = Counter(r.status_code for r in flood)
        assert codes == {201: 1, 200: 5, 202: 24}
        incident_id = flood[0].json()["incident_id"]
        quarantined = [r.json() for r in flood if r.status_code == 202]
        assert all(q["quarantined"] is True for q in quarantined)
        assert {q["incident_id"] for q in quarantined} == {incident_id}
        kinds = Counter(f["type"] for f in frames)
        assert (kinds["phone.quarantined"], kinds["call.repeated"]) == (1, 5)
        opened = [f["incident_id"] for f in frames if f["type"] == "call.received"]
        assert opened == [incident_id, *others, marker]
        queue = httpx.get(f"{live.http}/api/v1/quarantine", headers=auth(dispatcher)).json()
        assert [(q["calls"], q["calls_per_min"], q["incident_id"]) for q in queue] == [
            (24, 7, incident_id)
        ]
    finally:
        live.stop()
    events = Counter(e["type"] for e in logged(settings))
    assert (events["CallQuarantined"], events["PhoneQuarantined"]) == (24, 1)
    assert (events["CallRepeated"], events["CallReceived"]) == (5, 1 + len(others) + 1)
    again = start(settings)
    try:
        after = httpx.get(f"{again.http}/api/v1/quarantine", headers=auth(dispatcher)).json()
        view = httpx.get(
            f"{again.http}/api/v1/incidents/{incident_id}", headers=auth(dispatcher)
        ).json()
    finally:
        again.stop()
    assert after == queue
    assert view["repeat_count"] == 5


def test_a_dispatcher_releases_a_phone_and_the_release_is_logged(settings: Settings) -> None:
    """A phone quarantined at 3 calls a minute is released by the dispatcher: 200 with who
    released it, an empty queue, a phone.released frame and a `PhoneReleased` record naming
    the dispatcher; its next call is a call again (200), not quarantined."""
    settings = dataclasses.replace(settings, quarantine_calls_per_min=3)
    live = start(settings)
    dispatcher = live.tokens["dispatcher"]
    try:
        for i in range(5):
            new_call(live, f"f{i}", HERE, FLOODER)
        [entry] = httpx.get(f"{live.http}/api/v1/quarantine", headers=auth(dispatcher)).json()
        with live.ws("/ws/console", dispatcher) as console:
            url = f"{live.http}/api/v1/quarantine/{entry['phone_hash']}/release"
            released = httpx.post(url, headers=auth(dispatcher))
            frame = recv_until(console, lambda f: f["type"] == "phone.released")
        assert released.status_code == 200
        by = released.json()["released_by"]
        assert (frame["phone_hash"], frame["by"]) == (entry["phone_hash"], by)
        assert httpx.get(f"{live.http}/api/v1/quarantine", headers=auth(dispatcher)).json() == []
        assert new_call(live, "after", HERE, FLOODER).status_code == 200
    finally:
        live.stop()
    [record] = [e for e in logged(settings) if e["type"] == "PhoneReleased"]
    want = {"type": "PhoneReleased", "phone_sha256": entry["phone_hash"], "by": by, "v": 1}
    assert record == want


def test_bad_input_to_the_quarantine_routes_gets_a_4xx_with_a_reason(live: Running) -> None:
    """A malformed hash is 422, a phone not in quarantine 409, a unit token 403, no token 401;
    each body names its reason."""
    dispatcher = live.tokens["dispatcher"]
    unit = next(iter(live.tokens["units"].values()))
    base = f"{live.http}/api/v1/quarantine"
    answers = [
        httpx.post(f"{base}/not-a-hash/release", headers=auth(dispatcher)),
        httpx.post(f"{base}/{HASH}/release", headers=auth(dispatcher)),
        httpx.get(base, headers=auth(unit)),
        httpx.post(f"{base}/{HASH}/release", headers=auth(unit)),
        httpx.get(base),
    ]
    assert [a.status_code for a in answers] == [422, 409, 403, 403, 401]
    assert all(isinstance(a.json()["reason"], str) for a in answers)


def test_a_quarantined_phone_whose_incident_closed_is_answered_without_one(
    settings: Settings,
) -> None:
    """Quarantined at 3 a minute, the phone's incident cancelled: its next call is answered 202
    with `quarantined: true` and a null incident id, caller token and stream URL, and opens
    no incident."""
    settings = dataclasses.replace(settings, quarantine_calls_per_min=3)
    live = start(settings)
    dispatcher = live.tokens["dispatcher"]
    try:
        incident_id = new_call(live, "f0", HERE, FLOODER).json()["incident_id"]
        for i in range(1, 5):
            new_call(live, f"f{i}", HERE, FLOODER)
        url = f"{live.http}/api/v1/incidents/{incident_id}/cancel"
        assert httpx.post(url, json={}, headers=auth(dispatcher)).status_code == 200
        late = new_call(live, "late", HERE, FLOODER)
        listed = httpx.get(f"{live.http}/api/v1/incidents", headers=auth(dispatcher)).json()
    finally:
        live.stop()
    assert late.status_code == 202
    body = late.json()
    assert (body["quarantined"], body["incident_id"], body["caller_token"]) == (True, None, None)
    assert body["stream_url"] is None
    assert listed == []
