"""Exports of an incident over real loopback sockets, and `jijiu export` from the log after.

One phone call typed in with a number and notes is run through its whole life (ALS01 sent,
en route, on scene, transporting to zjpph with two seconds of vitals, at hospital, handover,
back in service). Then: the NEMSIS export parses and its eTimes are the incident's timeline on
the server's clock; the FHIR export validates; the crew and the hospital get theirs without the
number or the notes; another hospital gets 404, another unit, an agency and the caller 403;
each export is audited. With the server stopped, `jijiu export` writes one 0600 file per closed
incident into a 0700 folder, and none for the incident still open.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from dispatch.cli import main
from dispatch.settings import Settings
from dispatch.users import Rank, UserBook
from tests.support.fhir_r4 import validate_r4
from tests.support.redis_server import DURABLE, RedisServer
from tests.support.server import HERE, Running, auth, new_call, start
from tests.support.tablet import reply, vitals

NUMBER = "+8613912345678"
NOTES = "door code 4711"
N = {"n": "http://www.nemsis.org"}


def through_its_life(live: Running) -> str:
    """A voice call with a number and notes, run from the call to back in service; its id."""
    dispatcher = auth(live.tokens["dispatcher"])
    crew = auth(live.tokens["units"]["ALS01"])
    body = {
        "phone": NUMBER,
        "point": {"lat": HERE["lat"], "lon": HERE["lon"], "radius_m": 30},
        "complaint": "chest_pain",
        "notes": NOTES,
    }
    headers = {"Idempotency-Key": "export-life", **dispatcher}
    r = httpx.post(f"{live.http}/api/v1/calls/manual", json=body, headers=headers)
    assert r.status_code == 201, r.text
    iid: str = r.json()["incident_id"]
    base = f"{live.http}/api/v1/incidents/{iid}"
    assign = httpx.post(f"{base}/assignment", json={"unit_id": "ALS01"}, headers=dispatcher)
    assert assign.status_code == 201

    def status(name: str) -> None:
        url = f"{live.http}/api/v1/units/ALS01/status"
        assert httpx.post(url, json={"status": name}, headers=crew).status_code == 200, name

    status("en_route")
    status("on_scene")
    choose = httpx.post(f"{base}/destination", json={"hospital_id": "zjpph"}, headers=dispatcher)
    assert choose.status_code == 200
    status("transporting")
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        for seq in (1, 2):
            tablet.send(vitals(seq))
            assert reply(tablet)["type"] == "accepted"
    status("at_hospital")
    assert httpx.post(f"{base}/handover", headers=dispatcher).status_code == 200
    status("available_at_station")
    return iid


def export(live: Running, iid: str, fmt: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/export", params={"format": fmt}, headers=auth(token)
    )


def wall_of(live: Running) -> Any:
    """The running server's engine-time-to-Unix-time mapping."""
    return live.server.config.app.state.service.clock.wall_of


def validate_fhir(b: dict[str, Any]) -> None:
    validate_r4(b)
    Bundle.model_validate(b)
    for entry in b["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])


def test_an_incidents_life_exports_as_nemsis_and_fhir(live: Running) -> None:
    """The dispatcher's NEMSIS eTimes equal the timeline to the second, in Hangzhou time, with
    the number and notes in; the FHIR Bundle validates and holds the vitals and the caller."""
    iid = through_its_life(live)
    token = live.tokens["dispatcher"]
    timeline = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(token)).json()
    r = export(live, iid, "nemsis", token)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert r.headers["cache-control"] == "no-store"
    report = ET.fromstring(r.content).find("n:Header/n:PatientCareReport", N)
    assert report is not None
    to_wall, zone = wall_of(live), ZoneInfo("Asia/Shanghai")
    steps = [s for s in timeline["timeline"] if s["step"].startswith("eTimes.")]
    assert {s["step"] for s in steps} >= {"eTimes.01", "eTimes.03", "eTimes.06", "eTimes.12"}
    for s in steps:
        found = report.find(f"n:eTimes/n:{s['step']}", N)
        assert found is not None and found.text is not None, s["step"]
        written = datetime.fromisoformat(found.text)
        expected = datetime.fromtimestamp(to_wall(s["at_s"]), zone)
        assert written.utcoffset() == expected.utcoffset()
        assert abs((written - expected).total_seconds()) < 1.0, s["step"]
    assert NUMBER in r.text and NOTES in r.text

    f = export(live, iid, "fhir", token)
    assert f.status_code == 200
    assert f.headers["content-type"].startswith("application/fhir+json")
    b = f.json()
    validate_fhir(b)
    kinds = [e["resource"]["resourceType"] for e in b["entry"]]
    assert "RelatedPerson" in kinds and "Communication" in kinds
    codes = {
        c["code"]
        for e in b["entry"]
        if e["resource"]["resourceType"] == "Observation"
        for c in e["resource"]["code"]["coding"]
    }
    assert "8867-4" in codes  # the heart rate the tablet streamed


def test_the_crew_and_the_hospital_get_no_personal_fields(live: Running) -> None:
    """ALS01's and zjpph's exports, in both formats, hold neither the number nor the notes and
    say the personal fields were left out; the FHIR ones still validate."""
    iid = through_its_life(live)
    for token in (live.tokens["units"]["ALS01"], live.tokens["hospitals"]["zjpph"]):
        xml = export(live, iid, "nemsis", token)
        fhir = export(live, iid, "fhir", token)
        assert xml.status_code == fhir.status_code == 200
        for r in (xml, fhir):
            assert NUMBER not in r.text and NOTES not in r.text
            assert "13912345678" not in r.text
        assert "omitted" in xml.text
        assert fhir.json()["meta"]["tag"][0]["code"] == "personal-omitted"
        validate_fhir(fhir.json())


def test_a_call_taker_gets_none_and_a_supervisor_gets_them(
    live: Running, settings: Settings
) -> None:
    """Named people by rank: a call-taker's export leaves the number and notes out, a
    supervisor's holds them."""
    iid = through_its_life(live)
    book = UserBook(settings.users_path)
    tokens = {}
    for name, rank in (("chen.jing", Rank.CALL_TAKER), ("zhao.min", Rank.SUPERVISOR)):
        book.add(name, rank, "correct horse battery")
        body = {"name": name, "password": "correct horse battery"}
        tokens[name] = httpx.post(f"{live.http}/api/v1/login", json=body).json()["token"]
    taker = export(live, iid, "nemsis", tokens["chen.jing"])
    boss = export(live, iid, "nemsis", tokens["zhao.min"])
    assert taker.status_code == boss.status_code == 200
    assert NUMBER not in taker.text and NOTES not in taker.text and "omitted" in taker.text
    assert NUMBER in boss.text and NOTES in boss.text


def test_those_not_on_the_incident_are_refused(live: Running) -> None:
    """Another hospital: 404 (as if it did not exist); another unit, an agency and the
    incident's own caller: 403; an unknown format: 422."""
    iid = through_its_life(live)
    other_hospital = next(h for h in live.tokens["hospitals"] if h != "zjpph")
    assert export(live, iid, "nemsis", live.tokens["hospitals"][other_hospital]).status_code == 404
    other_unit = next(u for u in live.tokens["units"] if u != "ALS01")
    assert export(live, iid, "fhir", live.tokens["units"][other_unit]).status_code == 403
    assert export(live, iid, "fhir", live.tokens["agencies"]["police"]).status_code == 403
    caller = new_call(live, "export-caller").json()
    forbidden = export(live, caller["incident_id"], "nemsis", caller["caller_token"])
    assert forbidden.status_code == 403
    assert export(live, iid, "csv", live.tokens["dispatcher"]).status_code == 422


def test_every_export_is_audited(live: Running) -> None:
    """Two exports (the dispatcher's FHIR, the crew's NEMSIS) leave two `incident.export`
    records naming who, the format and whether personal fields were in it."""
    iid = through_its_life(live)
    export(live, iid, "fhir", live.tokens["dispatcher"])
    export(live, iid, "nemsis", live.tokens["units"]["ALS01"])
    r = httpx.get(
        f"{live.http}/api/v1/audit",
        params={"limit": 1000},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200
    exported = [a for a in r.json() if a["action"] == "incident.export"]
    assert [(a["role"], a["format"], a["personal"]) for a in exported] == [
        ("dispatcher", "fhir", True),
        ("unit", "nemsis", False),
    ]
    assert all(a["incident_ids"] == [iid] for a in exported)


@pytest.fixture(params=["sqlite", "redis"])
def logged(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Settings]:
    """The settings with the event log in a SQLite file, or in a redis-server of its own."""
    if request.param == "sqlite":
        yield settings
        return
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir, *DURABLE)
    yield dataclasses.replace(settings, store_url=server.url)
    server.stop()


def test_jijiu_export_writes_one_private_file_per_closed_incident(
    logged: Settings, tmp_path: Path
) -> None:
    """With the server stopped, `jijiu export --format nemsis` reads the log (SQLite or Redis)
    and writes the closed incident (not the open one) as a 0600 file in a 0700 folder, without
    the number; `--format fhir` a valid Bundle."""
    settings = logged
    live = start(settings)
    try:
        closed = through_its_life(live)
        still_open = new_call(live, "export-open").json()["incident_id"]
    finally:
        live.stop()
    out = tmp_path / "exports"
    args = ["export", "--format", "nemsis", "--out", str(out), "--quiet"]
    args += ["--store", settings.store_url, "--tokens", str(settings.tokens_file)]
    args += ["--network", "wulin", "--since", "2000-01-01T00:00:00"]
    assert main(args) == 0
    files = sorted(out.iterdir())
    assert [p.name for p in files] == [f"{closed}.xml"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    text = files[0].read_text(encoding="utf-8")
    root = ET.fromstring(text.encode())
    assert root.find("n:Header/n:PatientCareReport/n:eTimes/n:eTimes.12", N) is not None
    assert NUMBER not in text and NOTES not in text and still_open not in text
    assert main([*args[:2], "fhir", *args[3:]]) == 0
    validate_fhir(json.loads((out / f"{closed}.json").read_text(encoding="utf-8")))
