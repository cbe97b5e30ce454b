"""Destination choice served: GET /api/v1/incidents/{id}/destinations over loopback.

The ranking itself is tested in tests/hospital_link/; here: the server times every hospital on
the loaded network from the patient, asks hospital_link, and only the dispatcher and the unit
on the job may ask.
"""

from __future__ import annotations

import csv
import json

import httpx

from routing.load import data_dir
from tests.support.server import (
    HERE,
    Running,
    auth,
    closed_with,
    recv_until,
)
from tests.support.tablet import patient_on_the_way


def call(live: Running, key: str, complaint: str) -> dict[str, str]:
    body = {
        "phone": "+8613800000009",
        "consent_location": True,
        "fix": HERE,
        "complaint": complaint,
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_destinations_rank_by_the_condition_with_reasons(live: Running) -> None:
    """A stroke call: hospitals come back best first by score, each with its reasons; the
    first is a stroke centre unless none is reachable on the loaded network."""
    iid = call(live, "stroke-1", "stroke")["incident_id"]
    r = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/destinations", headers=auth(live.tokens["dispatcher"])
    )
    assert r.status_code == 200, r.text
    choices = r.json()
    assert choices, "the Wulin network holds at least one hospital's door"
    scores = [c["score_s"] for c in choices]
    assert scores == sorted(scores)
    assert all(c["reasons"] and c["summary"] and c["eta_s"] > 0 for c in choices)
    with (data_dir() / "hangzhou" / "hospitals.csv").open(encoding="utf-8") as f:
        stroke_centre = {
            row["hospital_id"]: row["stroke_thrombectomy"] == "1" for row in csv.DictReader(f)
        }
    assert all(c["capability"] == "stroke" for c in choices)
    if any(stroke_centre[c["hospital_id"]] for c in choices):  # a stroke centre is reachable:
        assert [c["basis"] for c in choices] == ["capable"] * len(choices)  # only those listed
        assert all(stroke_centre[c["hospital_id"]] for c in choices)
    else:
        assert {c["basis"] for c in choices} <= {"ed_fallback", "diversion_void"}


def test_destinations_are_for_the_dispatcher_and_the_unit_on_the_job(live: Running) -> None:
    """Caller 403, a unit not on the job 403, no token 401; after assignment that unit 200."""
    made = call(live, "chest-1", "chest_pain")
    iid, caller = made["incident_id"], made["caller_token"]
    url = f"{live.http}/api/v1/incidents/{iid}/destinations"
    units = live.tokens["units"]
    assert httpx.get(url, headers=auth(caller)).status_code == 403
    assert httpx.get(url, headers=auth(units["ALS01"])).status_code == 403
    assert httpx.get(url).status_code == 401
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment",
        json={"unit_id": "ALS01"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 201, r.text
    assert httpx.get(url, headers=auth(units["ALS01"])).status_code == 200
    assert httpx.get(url, headers=auth(units["BLS02"])).status_code == 403
    unknown = httpx.get(
        f"{live.http}/api/v1/incidents/Inope/destinations", headers=auth(live.tokens["dispatcher"])
    )
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_incident"


def test_hospital_socket_access(live: Running) -> None:
    """Own token: a snapshot; another hospital's or a unit's: 4403; none: 4401; unknown: 4404."""
    hospitals = live.tokens["hospitals"]
    assert {"zjpph", "srrsh"} <= hospitals.keys()
    with live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as ws:
        snap = json.loads(ws.recv(timeout=10))
        assert snap["type"] == "snapshot" and snap["inbound"] == []
    with live.ws("/ws/hospitals/zjpph", hospitals["srrsh"]) as ws:
        assert closed_with(ws) == 4403
    with live.ws("/ws/hospitals/zjpph", live.tokens["units"]["ALS01"]) as ws:
        assert closed_with(ws) == 4403
    with live.ws("/ws/hospitals/zjpph", "not-a-token") as ws:
        assert closed_with(ws) == 4401
    with live.ws("/ws/hospitals/nowhere", live.tokens["dispatcher"]) as ws:
        assert closed_with(ws) == 4404


def test_routing_a_patient_tells_the_hospital_and_a_reroute_tells_the_old_one(
    live: Running,
) -> None:
    """Choose zjpph: it hears patient.inbound (triage, condition, team); re-route to srrsh:
    zjpph hears patient.diverted, srrsh the inbound; zjpph's snapshot no longer lists it."""
    made = call(live, "route-1", "stroke")
    iid = made["incident_id"]
    hospitals, dispatcher = live.tokens["hospitals"], auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{iid}/destination"
    assert (
        httpx.post(
            url, json={"hospital_id": "zjpph"}, headers=auth(made["caller_token"])
        ).status_code
        == 403
    )
    bad = httpx.post(url, json={"hospital_id": "nowhere"}, headers=dispatcher)
    assert bad.status_code == 404 and bad.json()["reason"] == "unknown_hospital"
    with (
        live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as first,
        live.ws("/ws/hospitals/srrsh", hospitals["srrsh"]) as second,
    ):
        json.loads(first.recv(timeout=10))
        json.loads(second.recv(timeout=10))
        assert httpx.post(url, json={"hospital_id": "zjpph"}, headers=dispatcher).status_code == 200
        inbound = recv_until(first, lambda f: f["type"] == "patient.inbound")
        assert inbound["incident_id"] == iid and inbound["complaint"] == "stroke"
        assert inbound["activation"]["team"] == "stroke" and "phone" not in inbound
        r = httpx.post(url, json={"hospital_id": "srrsh", "reason": "CT down"}, headers=dispatcher)
        assert r.status_code == 200
        assert recv_until(first, lambda f: f["type"] == "patient.diverted")["incident_id"] == iid
        assert recv_until(second, lambda f: f["type"] == "patient.inbound")["incident_id"] == iid
    with live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as again:
        assert json.loads(again.recv(timeout=10))["inbound"] == []
    with live.ws("/ws/hospitals/srrsh", hospitals["srrsh"]) as now:
        assert [p["incident_id"] for p in json.loads(now.recv(timeout=10))["inbound"]] == [iid]


def test_a_patient_leaving_the_scene_is_routed_to_the_best_hospital(live: Running) -> None:
    """No one chose: at 'transporting' the first of the ranking (from the unit) is chosen,
    "auto" with its reasons; the console hears it and that hospital lists the patient."""
    made = call(live, "auto-1", "chest_pain")
    iid = made["incident_id"]
    dispatcher = auth(live.tokens["dispatcher"])
    base = f"{live.http}/api/v1/incidents/{iid}"
    assert (
        httpx.post(f"{base}/assignment", json={"unit_id": "ALS01"}, headers=dispatcher).status_code
        == 201
    )
    unit = auth(live.tokens["units"]["ALS01"])
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        for status in ("en_route", "on_scene"):
            r = httpx.post(
                f"{live.http}/api/v1/units/ALS01/status", json={"status": status}, headers=unit
            )
            assert r.status_code == 200, r.text
        best = httpx.get(f"{base}/destinations", headers=dispatcher).json()[0]["hospital_id"]
        r = httpx.post(
            f"{live.http}/api/v1/units/ALS01/status", json={"status": "transporting"}, headers=unit
        )
        assert r.status_code == 200, r.text
        chosen = recv_until(console, lambda f: f["type"] == "destination.chosen")
    assert chosen["by"] == "auto" and chosen["hospital_id"] == best and chosen["reason"]
    with live.ws("/ws/hospitals/" + best, live.tokens["hospitals"][best]) as hospital:
        inbound = json.loads(hospital.recv(timeout=10))["inbound"]
    assert [(p["incident_id"], p["unit_id"]) for p in inbound] == [(iid, "ALS01")]
    assert inbound[0]["eta_s"] is not None


def test_a_hospital_on_diversion_is_not_chosen_for_what_it_diverts(live: Running) -> None:
    """The first PCI centre for a chest-pain call reports PCI diversion: it leaves the list of
    capable choices; bad reports are 422 with a reason; another hospital's token 403."""
    iid = call(live, "div-1", "chest_pain")["incident_id"]
    dispatcher = auth(live.tokens["dispatcher"])
    url = f"{live.http}/api/v1/incidents/{iid}/destinations"
    before = httpx.get(url, headers=dispatcher).json()
    first = before[0]["hospital_id"]
    assert before[0]["basis"] == "capable" and before[0]["freshness"] == "never_reported"
    status_url = f"{live.http}/api/v1/hospitals/{first}/status"
    own = auth(live.tokens["hospitals"][first])
    other = next(h for h in live.tokens["hospitals"] if h != first)
    report = {"diverted": ["pci"], "offload_wait_min": 10, "expires_in_s": 1800}
    assert (
        httpx.post(
            status_url, json=report, headers=auth(live.tokens["hospitals"][other])
        ).status_code
        == 403
    )
    for bad, reason in (
        ({**report, "diverted": ["helipad"]}, "unknown_capability"),
        ({**report, "expires_in_s": 6 * 3600}, "status_too_long"),
        ({**report, "offload_wait_min": -1}, "invalid_request"),
    ):
        r = httpx.post(status_url, json=bad, headers=own)
        assert (r.status_code, r.json()["reason"]) == (422, reason)
    r = httpx.post(status_url, json=report, headers=own)
    assert r.status_code == 200 and r.json()["diverted"] == ["pci"]
    after = httpx.get(url, headers=dispatcher).json()
    assert first not in [c["hospital_id"] for c in after if c["basis"] == "capable"]
    assert all(not c["diverted"] for c in after if c["basis"] == "capable")


def test_the_crew_hears_where_to_take_the_patient(live: Running) -> None:
    """The unit on the job gets `destination.chosen` with the hospital's name and place."""
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        iid = patient_on_the_way(live)
        told = recv_until(tablet, lambda f: f["type"] == "destination.chosen")
    assert (told["incident_id"], told["hospital_id"]) == (iid, "zjpph")
    assert told["name"] and -90 <= told["lat"] <= 90 and -180 <= told["lon"] <= 180
