"""What the console draws beside a call's place: its location sources and a unit's route.

The pure view (`dispatch.service.location_view`) runs on hand-made evidence with no loop; the
endpoints run on the live Wulin server with four units (`live` fixture): a call whose GNSS
fix and serving cell agree near 文三路 while the caller names 浙江省人民医院, 1.6 km away;
the route of a previewed and of an assigned unit; who may read either (dispatchers only); and
the frames that let a console sort its queue without asking (`call.received` with the
priority, `incident.triaged`, the snapshot with the conflict).
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from dispatch.service.location_view import evidence_time_s, sources_view
from dispatch.settings import Settings
from location_fusion.cells import CellObservation, Sector
from location_fusion.fixes import device_fix
from location_fusion.fuse import Conflict, SourceWeight
from location_fusion.gazetteer import Place
from location_fusion.locate import CallEvidence, Estimate
from tests.support.server import HERE, Running, auth, new_call, recv_until, start

#: A serving cell of the bundled synthetic table whose 632 m wedge (boresight 203.4°) holds HERE.
CELL = {"mcc": 460, "mnc": 0, "area": 22002, "cell": 1165}
SPOKEN = "浙江省人民医院"


# --- the pure view ---------------------------------------------------------------------------
def test_the_view_lists_each_source_and_flags_the_one_the_alarm_names() -> None:
    """A 10 m GNSS fix 30 s old, a wedge and one spoken place; the alarm names speech: only
    the words are flagged, the fix's 95 % radius is wider than its 68 % accuracy, and the
    fix shares are summed by kind."""
    fix = device_fix(30.28, 120.14, 10.0, observed_at_s=70.0)
    assert fix is not None
    obs = CellObservation(460, 0, 1, 2, observed_at_s=100.0)
    sector = Sector(120.141, 30.281, 200.0, 60.0, 0.0, 600.0)
    place = Place("place", "某医院", 120.16, 30.29, 120.0, 0.9, ())
    conflict = Conflict(("speech",), 1500.0, "speech disagrees with gnss: confirm location")
    estimate = Estimate(
        30.28,
        120.14,
        25.0,
        (SourceWeight("gnss", 0.6, 2.0), SourceWeight("cell_sector", 0.4, 90.0)),
        conflict,
        "某路附近",
        None,
        (place,),
    )
    view = sources_view(CallEvidence((fix,), obs, "某医院"), estimate, sector, now_s=100.0)
    [shown] = view["fixes"]
    assert shown["age_s"] == 30.0 and shown["radius95_m"] > 10.0 and not shown["in_conflict"]
    assert view["cell"]["known"] and view["cell"]["azimuth_deg"] == 200.0
    assert view["cell"]["r_max_m"] == 600.0 and not view["cell"]["in_conflict"]
    assert view["spoken"]["in_conflict"] and view["spoken"]["candidates"][0]["name"] == "某医院"
    assert view["spoken"]["candidates"][0]["score"] == 0.9
    assert view["conflict"]["sources"] == ["speech"]
    assert view["fused"]["shares"] == {"gnss": 0.6, "cell_sector": 0.4}
    assert evidence_time_s(CallEvidence((fix,), obs), 5.0) == 100.0
    assert evidence_time_s(CallEvidence((), None, "x"), 5.0) == 5.0


def test_an_unknown_cell_is_listed_without_a_wedge() -> None:
    """A cell the table lacks: `known: false`, no site; no estimate means no shares."""
    view = sources_view(CallEvidence((), CellObservation(460, 0, 1, 2)), None, None, 0.0)
    assert view["cell"]["known"] is False and "site_lat" not in view["cell"]
    assert view["fused"] is None and view["conflict"] is None


# --- the endpoints ---------------------------------------------------------------------------
def conflicting_call(live: Running, key: str = "sources-1") -> dict[str, Any]:
    body = {
        "phone": "+8613800000031",
        "consent_location": True,
        "fix": HERE,
        "cell": CELL,
        "spoken": SPOKEN,
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_the_sources_of_a_conflicting_call_are_served_and_the_read_audited(live: Running) -> None:
    """GPS, cell and words: the fix as sent, the cell's wedge from the table, the hospital the
    words matched with its score, the estimate the call was answered with, and the alarm the
    call carried, naming the disagreeing sources; the read is in the audit trail."""
    call = conflicting_call(live)
    iid, estimate = call["incident_id"], call["estimate"]
    assert estimate["conflict"] is not None  # the premise
    token = live.tokens["dispatcher"]
    r = httpx.get(f"{live.http}/api/v1/incidents/{iid}/sources", headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kept"] is True and body["placed_by_dispatcher"] is False
    [fix] = body["fixes"]
    assert (fix["lat"], fix["lon"], fix["accuracy_m"]) == (HERE["lat"], HERE["lon"], 12)
    assert fix["source"] == "gnss" and fix["radius95_m"] > 12
    cell = body["cell"]
    assert cell["known"] and cell["cell"] == [460, 0, 22002, 1165]
    assert cell["azimuth_deg"] == pytest.approx(203.4) and cell["r_max_m"] == 632.0
    names = [c["name"] for c in body["spoken"]["candidates"]]
    assert SPOKEN in names and body["spoken"]["text"] == SPOKEN
    assert all(0 < c["score"] <= 1 for c in body["spoken"]["candidates"])
    assert body["conflict"] == estimate["conflict"]
    assert body["conflict"]["sources"]  # named
    flagged = {fix["source"]} if fix["in_conflict"] else set()
    flagged |= {"cell_sector"} if cell["in_conflict"] else set()
    flagged |= {"speech"} if body["spoken"]["in_conflict"] else set()
    assert flagged == set(body["conflict"]["sources"])
    assert body["fused"]["lat"] == pytest.approx(estimate["lat"])
    assert body["fused"]["radius95_m"] == pytest.approx(estimate["radius95_m"])
    assert math.isclose(sum(body["fused"]["shares"].values()), 1.0, abs_tol=0.01)
    audit = httpx.get(f"{live.http}/api/v1/audit?limit=1000", headers=auth(token)).json()
    assert any(a["action"] == "incident.sources" and a["incident_ids"] == [iid] for a in audit)

    placed = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/location", json={"spoken": SPOKEN}, headers=auth(token)
    )
    assert placed.status_code == 200 and placed.json()["conflict"] is None
    again = httpx.get(f"{live.http}/api/v1/incidents/{iid}/sources", headers=auth(token)).json()
    assert again["placed_by_dispatcher"] is True and again["conflict"] is None
    assert [(f["lat"], f["lon"]) for f in again["fixes"]] == [(fix["lat"], fix["lon"])]


def test_the_route_of_a_previewed_and_of_the_assigned_unit(live: Running) -> None:
    """No unit yet: no route. `?unit_id=` previews a unit's road route to the incident; once
    BLS02 is assigned, the route is its own, from where it stands to the incident, with an
    ETA and a polyline that ends by the incident."""
    iid = new_call(live, "route-1").json()["incident_id"]
    headers = auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{iid}/route"
    none = httpx.get(url, headers=headers).json()
    assert none["unit_id"] is None and none["route"] is None
    preview = httpx.get(url, params={"unit_id": "ALS01"}, headers=headers).json()
    assert preview["unit_id"] == "ALS01" and preview["to"] == "incident"
    assert preview["route"]["eta_s"] > 0 and len(preview["route"]["lonlat"]) >= 2
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "BLS02"}, headers=headers
    )
    assert r.status_code == 201, r.text
    chosen = httpx.get(url, headers=headers).json()
    assert chosen["unit_id"] == "BLS02" and chosen["to"] == "incident"
    route = chosen["route"]
    assert route["eta_s"] > 0 and route["length_m"] > 0 and route["directions"]
    end_lon, end_lat = route["lonlat"][-1]
    place = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=headers).json()["place"]
    assert abs(end_lat - place["lat"]) < 0.002 and abs(end_lon - place["lon"]) < 0.002


def test_only_dispatchers_read_sources_and_routes(live: Running) -> None:
    """No token 401; a unit's, the caller's own, a hospital's and the traffic feed's token
    403 on both; an unknown incident 404; a malformed unit id 422 and an unknown one 404."""
    iid = conflicting_call(live, "sources-refused")["incident_id"]
    caller = new_call(live, "sources-caller", phone="+8613800000032").json()
    others = [
        live.tokens["units"]["ALS01"],
        caller["caller_token"],
        live.tokens["hospitals"]["zjpph"],
        live.tokens["traffic"],
    ]
    for path in ("sources", "route"):
        for target in (iid, caller["incident_id"]):
            url = f"{live.http}/api/v1/incidents/{target}/{path}"
            assert httpx.get(url).status_code == 401
            for token in others:
                r = httpx.get(url, headers=auth(token))
                assert r.status_code == 403 and r.json()["reason"] == "forbidden", (path, r.text)
        r = httpx.get(
            f"{live.http}/api/v1/incidents/Inope/{path}", headers=auth(live.tokens["dispatcher"])
        )
        assert r.status_code == 404 and r.json()["reason"] == "unknown_incident"
    headers = auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{iid}/route"
    bad = httpx.get(url, params={"unit_id": "ALS01; drop"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_request"
    assert "drop" not in bad.text  # the input is not echoed
    unknown = httpx.get(url, params={"unit_id": "ALS99"}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_unit"
    audit = httpx.get(f"{live.http}/api/v1/audit?limit=1000", headers=headers).json()
    assert not [a for a in audit if a["action"] == "incident.sources"]  # no refused read logged


def test_the_console_frames_carry_priority_triage_and_conflict(live: Running) -> None:
    """`call.received` carries the priority and complaint (an arrest is P1 at once); a triage
    sends `incident.triaged` to every console; a console connecting later has each open
    incident's priority and conflict in its snapshot."""
    token = live.tokens["dispatcher"]
    with live.ws("/ws/console", token) as console:
        json.loads(console.recv(timeout=10))
        plain = new_call(live, "frames-1").json()["incident_id"]
        got = recv_until(console, lambda f: f["type"] == "call.received")
        assert (got["incident_id"], got["priority"], got["complaint"]) == (plain, 2, "chest_pain")
        body = {
            "phone": "+8613800000033",
            "consent_location": True,
            "fix": HERE,
            "complaint": "cardiac_arrest",
        }
        made = httpx.post(
            f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "f-2"}
        )
        arrest = made.json()["incident_id"]
        got = recv_until(console, lambda f: f["type"] == "call.received")
        assert (got["incident_id"], got["priority"]) == (arrest, 1)
        triage = {"priority": 3, "complaint": "trauma"}
        url = f"{live.http}/api/v1/incidents/{plain}/triage"
        r = httpx.post(url, json=triage, headers=auth(token))
        assert r.status_code == 200, r.text
        triaged = recv_until(console, lambda f: f["type"] == "incident.triaged")
        assert triaged["incident_id"] == plain
        assert (triaged["priority"], triaged["complaint"]) == (3, "trauma")
    conflicting = conflicting_call(live, "frames-3")["incident_id"]
    with live.ws("/ws/console", token) as late:
        snapshot = json.loads(late.recv(timeout=10))
    views = {v["incident_id"]: v for v in snapshot["incidents"]}
    assert views[plain]["priority"] == 3 and views[arrest]["priority"] == 1
    assert views[plain]["conflict"] is None
    assert views[conflicting]["conflict"]["sources"]


def test_a_callers_further_fix_is_listed_and_refused_to_others(live: Running) -> None:
    """The caller sends a second fix, 40 m off and tighter: the sources list both, oldest
    first, and the evidence time moves on; the caller's own token still may not read them."""
    call = new_call(live, "sources-fix").json()
    iid, caller = call["incident_id"], call["caller_token"]
    url = f"{live.http}/api/v1/incidents/{iid}/sources"
    headers = auth(live.tokens["dispatcher"])
    first = httpx.get(url, headers=headers).json()
    fix = {"lat": HERE["lat"] + 0.0004, "lon": HERE["lon"], "accuracy_m": 5}
    sent = httpx.post(
        f"{live.http}/api/v1/calls/{iid}/fixes", json={"fix": fix}, headers=auth(caller)
    )
    assert sent.status_code == 200, sent.text
    second = httpx.get(url, headers=headers).json()
    assert [f["accuracy_m"] for f in second["fixes"]] == [12, 5]
    assert second["evidence_at_s"] >= first["evidence_at_s"]
    assert httpx.get(url, headers=auth(caller)).status_code == 403


def test_after_a_restart_the_sources_are_gone_and_the_alarm_is_the_logged_flag(
    settings: Settings,
) -> None:
    """The evidence is in memory only: after a restart the sources answer `kept: false`, and
    the conflicting call still shows its alarm (from the logged flag, no source named) in the
    snapshot and the incident's view, while a call without conflict shows none."""
    first = start(settings)
    try:
        conflicting = conflicting_call(first, "restart-sources")["incident_id"]
        plain = new_call(first, "restart-plain", phone="+8613800000034").json()["incident_id"]
    finally:
        first.stop()
    second = start(settings)
    try:
        headers = auth(second.tokens["dispatcher"])
        r = httpx.get(f"{second.http}/api/v1/incidents/{conflicting}/sources", headers=headers)
        body = r.json()
        assert r.status_code == 200 and body["kept"] is False and body["fixes"] == []
        assert body["cell"] is None and body["spoken"] is None and body["fused"] is None
        assert body["conflict"]["sources"] == [] and "confirm" in body["conflict"]["message"]
        with second.ws("/ws/console", second.tokens["dispatcher"]) as console:
            snapshot = json.loads(console.recv(timeout=10))
        views = {v["incident_id"]: v for v in snapshot["incidents"]}
        assert views[conflicting]["conflict"] == body["conflict"]
        assert views[plain]["conflict"] is None
    finally:
        second.stop()
