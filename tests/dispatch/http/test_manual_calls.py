"""Voice calls typed in by a call-taker and callers' numbers at rest (issue 20 item 1, issue 22
item 3), over real loopback sockets: `POST /api/v1/calls/manual` opens a "voice" incident by
words, by a picked point or unlocated; the number reads back for dispatchers only, each read
audited; it is not in the database, its WAL, the tokens or key files, the console's frames or
the logs; a retention purge answers 410 after and leaves a tombstone; a restart keeps it."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch import cli
from dispatch.settings import Settings
from dispatch.store.sqlite_log import SqliteLog
from tests.support.server import HERE, Running, auth, new_call, recv_until, start

NUMBER = "139 1234 5678"  # as the call-taker types it
E164 = "+8613912345678"
#: The number in every form a careless store might hold it (digits, spaced, dashed, UTF-16).
FORMS = [
    "+8613912345678",
    "8613912345678",
    "13912345678",
    "139 1234 5678",
    "139-1234-5678",
    "1391234 5678",
    "12345678",
]


def manual(live: Running, key: str, **body: Any) -> httpx.Response:
    """A voice call typed in by the dispatcher, with idempotency key `key`."""
    full = {"phone": NUMBER, "complaint": "chest_pain", **body}
    headers = {"Idempotency-Key": key, **auth(live.tokens["dispatcher"])}
    return httpx.post(f"{live.http}/api/v1/calls/manual", json=full, headers=headers)


def caller_of(live: Running, incident_id: str, token: str) -> httpx.Response:
    return httpx.get(f"{live.http}/api/v1/incidents/{incident_id}/caller", headers=auth(token))


def audited_reads(live: Running) -> list[dict[str, Any]]:
    """The audit trail's `caller.read` records."""
    rows = httpx.get(
        f"{live.http}/api/v1/audit?limit=1000", headers=auth(live.tokens["dispatcher"])
    )
    return [r for r in rows.json() if r["action"] == "caller.read"]


def leaks(folder: Path) -> list[str]:
    """Every (file, form) where a form of the number is readable in a file under `folder`."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        for form in FORMS:
            for encoded in (form.encode(), form.encode("utf-16-le"), json.dumps(form).encode()):
                if encoded in raw:
                    found.append(f"{path.name}: {form!r}")
    return found


def test_words_open_a_voice_incident_the_console_hears_without_the_number(live: Running) -> None:
    """Words the gazetteer knows: 201, located, source voice in the answer, the incident view
    and the console's frame; the frame and the view never carry the number."""
    d = auth(live.tokens["dispatcher"])
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        r = manual(live, "words-1", spoken="文三路学院路口")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["source"] == "voice" and body["location_status"] == "located"
        assert "caller_token" not in body
        raw = console.recv(timeout=10)
        while json.loads(raw)["type"] != "call.received":
            raw = console.recv(timeout=10)
    frame = json.loads(raw)
    assert frame["incident_id"] == body["incident_id"] and frame["source"] == "voice"
    view = httpx.get(f"{live.http}/api/v1/incidents/{body['incident_id']}", headers=d)
    assert view.json()["source"] == "voice"
    assert not [f for f in FORMS if f in raw or f in view.text]


def test_a_picked_point_places_the_call_and_an_app_call_says_app(live: Running) -> None:
    """A point picked on the map with a 30 m radius places the call there, within 30-60 m (a
    lone fix, fused); an app call's incident says source app."""
    r = manual(live, "point-1", point={**{k: HERE[k] for k in ("lat", "lon")}, "radius_m": 30})
    assert r.status_code == 201, r.text
    est = r.json()["estimate"]
    assert abs(est["lat"] - HERE["lat"]) < 0.001 and abs(est["lon"] - HERE["lon"]) < 0.001
    assert 30.0 <= est["radius95_m"] < 60.0  # fusion widens a lone fix a little, never less
    app = new_call(live, "app-1").json()
    view = httpx.get(
        f"{live.http}/api/v1/incidents/{app['incident_id']}",
        headers=auth(live.tokens["dispatcher"]),
    )
    assert view.json()["source"] == "app"


def test_nothing_to_place_still_opens_and_a_retry_gets_the_first_answer(live: Running) -> None:
    """No point and words matching nothing: 201 unlocated; the same key again is a 200 with
    the same incident, never a second one."""
    first = manual(live, "nowhere-1", spoken="xyzzy 嗯嗯")
    assert first.status_code == 201, first.text
    assert first.json()["location_status"] == "unlocated" and first.json()["located"] is False
    again = manual(live, "nowhere-1", spoken="xyzzy 嗯嗯")
    assert again.status_code == 200
    assert again.json()["incident_id"] == first.json()["incident_id"]


def test_a_number_nobody_could_call_back_is_refused_without_echoing_it(live: Running) -> None:
    """A local number without its area code is a 422 whose body does not repeat it, and a
    unit's token may not type in calls (403)."""
    r = manual(live, "bad-1", phone="6543 2198")
    assert r.status_code == 422 and r.json()["reason"] == "invalid_request"
    assert "6543" not in r.text and "2198" not in r.text
    unit = next(iter(live.tokens["units"].values()))
    headers = {"Idempotency-Key": "unit-1", **auth(unit)}
    r = httpx.post(f"{live.http}/api/v1/calls/manual", json={"phone": NUMBER}, headers=headers)
    assert r.status_code == 403


def test_the_number_reads_back_for_dispatchers_only_and_every_read_is_audited(
    live: Running,
) -> None:
    """Dispatcher: the E.164 number, callback flag and notes, twice, two audit records; a
    unit, a hospital and the app caller's own token get 403 and leave the number unread."""
    r = manual(live, "read-1", spoken="文三路学院路口", callback_allowed=False, notes="三楼")
    incident_id = r.json()["incident_id"]
    for _ in range(2):
        got = caller_of(live, incident_id, live.tokens["dispatcher"])
        assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
        assert got.json() == {
            "incident_id": incident_id,
            "phone": E164,
            "callback_allowed": False,
            "source": "voice",
            "notes": "三楼",
        }
    app = new_call(live, "read-app").json()
    others = [
        next(iter(live.tokens["units"].values())),
        next(iter(live.tokens["hospitals"].values())),
        app["caller_token"],
        live.tokens["traffic"],
    ]
    for token in others:
        assert caller_of(live, incident_id, token).status_code == 403
        assert caller_of(live, app["incident_id"], token).status_code == 403
    reads = [a for a in audited_reads(live) if a["incident_ids"] == [incident_id]]
    assert len(reads) == 2 and all(a["outcome"] == "kept" for a in reads)
    assert all(a["role"] == "dispatcher" for a in reads)
    app_number = caller_of(live, app["incident_id"], live.tokens["dispatcher"]).json()
    assert app_number["source"] == "app" and app_number["phone"].startswith("+86138")


def test_the_number_is_in_no_file_log_or_export(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """After a voice call and an app call from the same number and a read, no form of it is
    in the database, its WAL, the tokens, key or key-ring files, the cockpit's CSV or any log
    record; a restart still reads it back."""
    caplog.set_level(logging.DEBUG)
    folder = settings.tokens_file.parent
    settings = dataclasses.replace(settings, repeat_window_s=0.0)  # the app call opens its own
    live = start(settings)
    try:
        voice = manual(live, "files-1", spoken="文三路学院路口", notes="door 1391234 5678?")
        assert voice.status_code == 201
        app = new_call(live, "files-2", phone=E164)
        assert app.status_code == 201
        d = live.tokens["dispatcher"]
        assert caller_of(live, voice.json()["incident_id"], d).json()["phone"] == E164
        csv = httpx.get(f"{live.http}/api/v1/cockpit.csv", headers=auth(d))
        assert csv.status_code == 200 and not [f for f in FORMS if f in csv.text]
        assert leaks(folder) == []  # while it runs: the WAL holds the newest records
    finally:
        live.stop()
    assert leaks(folder) == []
    assert {p.name for p in folder.iterdir()} >= {"jijiu-data.key", "jijiu-keys.db"}
    assert not [r for r in caplog.records for f in FORMS if f in r.getMessage()]
    again = start(settings)
    try:
        got = caller_of(again, voice.json()["incident_id"], again.tokens["dispatcher"])
        assert got.status_code == 200 and got.json()["phone"] == E164
        assert got.json()["notes"] == "door 1391234 5678?"
    finally:
        again.stop()


def test_a_purge_after_retention_answers_410_and_leaves_a_tombstone(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retention 0 days: an open incident is not due; cancelled, a dry run (the API's and
    `jijiu purge --dry-run`) lists it and keeps it; the purge logs `PersonalDataPurged`, the
    number answers 410 `purged` (audited), its key is gone from the key ring, and after a
    restart it is still 410."""
    settings = dataclasses.replace(settings, retention_days=0.0)
    live = start(settings)
    try:
        d = auth(live.tokens["dispatcher"])
        incident_id = manual(live, "purge-1", spoken="文三路学院路口").json()["incident_id"]
        url = f"{live.http}/api/v1/retention/purge"
        assert httpx.post(url, json={"dry_run": True}, headers=d).json()["due"] == []
        cancel = f"{live.http}/api/v1/incidents/{incident_id}/cancel"
        assert httpx.post(cancel, json={}, headers=d).status_code == 200
        dry = httpx.post(url, json={"dry_run": True}, headers=d).json()
        assert dry["due"] == [incident_id] and dry["purged"] == []
        tokens = str(settings.tokens_file)
        assert cli.main(["purge", "--dry-run", "--server", live.http, "--tokens", tokens]) == 0
        assert f"due          1 incidents {incident_id}" in capsys.readouterr().out
        assert caller_of(live, incident_id, live.tokens["dispatcher"]).status_code == 200
        done = httpx.post(url, json={}, headers=d).json()
        assert done["purged"] == [incident_id]
        gone = caller_of(live, incident_id, live.tokens["dispatcher"])
        assert (gone.status_code, gone.json()["reason"]) == (410, "purged")
        assert audited_reads(live)[-1]["outcome"] == "purged"
        assert httpx.post(url, json={}, headers=d).json()["purged"] == []  # nothing twice
    finally:
        live.stop()
    log = SqliteLog(settings.store_url.removeprefix("sqlite:///"))
    try:
        tombstones = [r.event for r in log.read() if r.event["type"] == "PersonalDataPurged"]
    finally:
        log.close()
    assert [t["incident_id"] for t in tombstones] == [incident_id]
    ring = (settings.tokens_file.parent / "jijiu-keys.db").read_bytes()
    assert incident_id.encode() not in ring
    again = start(settings)
    try:
        gone = caller_of(again, incident_id, again.tokens["dispatcher"])
        assert (gone.status_code, gone.json()["reason"]) == (410, "purged")
    finally:
        again.stop()


def test_a_console_frame_for_a_repeat_voice_call_joins_the_open_incident(live: Running) -> None:
    """The same number typed in again while its incident is open: 200 with that incident
    (counted as a repeat), as an app caller calling again is."""
    first = manual(live, "repeat-1", spoken="文三路学院路口").json()
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        again = manual(live, "repeat-2", spoken="文三路学院路口")
        assert again.status_code == 200 and again.json()["incident_id"] == first["incident_id"]
        got = recv_until(console, lambda f: f["type"] == "call.repeated")
        assert got["incident_id"] == first["incident_id"]
