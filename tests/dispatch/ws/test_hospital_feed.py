"""The receiving hospital's durable feed, its acknowledgements and the audit trail, live.

Checked over real sockets: a hospital cut off mid-stream resumes from its last seq with no
frame lost or repeated, from the hub's history, from the log when history no longer holds
the gap, and across a server restart; a hospital acknowledges only its own patients and the
console hears of one that does not; every read of patient data leaves an audit record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from websockets.sync.client import ClientConnection

from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from tests.support.fhir_r4 import validate_r4
from tests.support.server import Running, auth, recv_until, start
from tests.support.tablet import patient_on_the_way, reply, vitals


def send_vitals(tablet: ClientConnection, seqs: range) -> None:
    """Send one second of vitals per seq, each accepted (durable) before the next."""
    for seq in seqs:
        tablet.send(vitals(seq))
        assert reply(tablet) == {"type": "accepted", "frame": "vitals", "seq": seq}


def vitals_frames(hospital: ClientConnection, n: int) -> list[dict[str, Any]]:
    """The next n vitals frames (other frame types skipped)."""
    return [recv_until(hospital, lambda f: f["type"] == "vitals") for _ in range(n)]


def cut(conn: ClientConnection) -> None:
    """Drop the TCP connection with no closing handshake, as a lost network does."""
    conn.socket.close()


def small_hub(history: int, queue_size: int = 256) -> Any:
    def open_service(config: Settings, hub: Hub) -> DispatchService:
        return DispatchService.open(config, Hub(queue_size=queue_size, history=history))

    return open_service


@pytest.fixture(params=["short history", "short queue"])
def forgetful(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Running]:
    """A server whose hub cannot replay a 12-frame gap: it remembers only 3 frames per topic,
    or it remembers 1024 but a subscriber's queue holds 4. The gap comes from the log."""
    opener = small_hub(3) if request.param == "short history" else small_hub(1024, 4)
    running = start(settings, opener)
    yield running
    running.stop()


def test_a_gap_older_than_history_is_filled_from_the_log(forgetful: Running) -> None:
    """12 samples sent while the hospital was cut off; the hub keeps 3. It resumes from its
    last seq and gets exactly the 12, in order, then the live ones: 0 lost, 0 repeated."""
    live = forgetful
    patient_on_the_way(live)
    token = live.tokens["hospitals"]["zjpph"]
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        with live.ws("/ws/hospitals/zjpph", token) as first:
            json.loads(first.recv(timeout=10))
            send_vitals(tablet, range(1, 3))
            last = vitals_frames(first, 2)[-1]["seq"]
            cut(first)
        send_vitals(tablet, range(3, 15))
        with live.ws("/ws/hospitals/zjpph", token, since=str(last)) as back:
            missed = [json.loads(back.recv(timeout=10)) for _ in range(12)]
            send_vitals(tablet, range(15, 17))
            after = vitals_frames(back, 2)
    frames = missed + after
    assert [f["type"] for f in missed] == ["vitals"] * 12  # no snapshot: nothing was lost
    assert [f["seq"] for f in frames] == list(range(last + 1, last + 15))
    assert [f["sample_seq"] for f in frames] == list(range(3, 17))


def test_a_hospital_resumes_across_a_server_restart(settings: Settings) -> None:
    """The feed's numbering and frames survive a restart: a resume after it replays the
    frames the hospital missed before the restart, then the new server's live frames."""
    first_server = start(settings)
    try:
        iid = patient_on_the_way(first_server)
        token = first_server.tokens["hospitals"]["zjpph"]
        tablet_token = first_server.tokens["units"]["ALS01"]
        with first_server.ws("/ws/units/ALS01", tablet_token) as tablet:
            json.loads(tablet.recv(timeout=10))
            with first_server.ws("/ws/hospitals/zjpph", token) as hospital:
                json.loads(hospital.recv(timeout=10))
                send_vitals(tablet, range(1, 4))
                last = vitals_frames(hospital, 3)[-1]["seq"]
            send_vitals(tablet, range(4, 8))  # the hospital is away
    finally:
        first_server.stop()
    second = start(settings)
    try:
        with second.ws("/ws/hospitals/zjpph", token, since=str(last)) as hospital:
            missed = [json.loads(hospital.recv(timeout=10)) for _ in range(4)]
            with second.ws("/ws/units/ALS01", tablet_token) as tablet:
                json.loads(tablet.recv(timeout=10))
                send_vitals(tablet, range(8, 9))
            live_one = vitals_frames(hospital, 1)
    finally:
        second.stop()
    frames = missed + live_one
    assert [(f["type"], f["incident_id"]) for f in frames] == [("vitals", iid)] * 5
    assert [f["seq"] for f in frames] == list(range(last + 1, last + 6))
    assert [f["sample_seq"] for f in frames] == [4, 5, 6, 7, 8]


def test_a_seq_from_the_future_gets_a_snapshot(live: Running) -> None:
    iid = patient_on_the_way(live)
    with live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"], since="999") as h:
        snap = json.loads(h.recv(timeout=10))
    assert snap["type"] == "snapshot" and [p["incident_id"] for p in snap["inbound"]] == [iid]


def test_the_hospital_acknowledges_its_own_patient_only(live: Running) -> None:
    """The routed hospital's ack is recorded once and the console hears it; another
    hospital's ack of the same patient is refused as unknown, and so is a dispatcher's."""
    iid = patient_on_the_way(live)
    tokens = live.tokens["hospitals"]
    with (
        live.ws("/ws/console", live.tokens["dispatcher"]) as console,
        live.ws("/ws/hospitals/srrsh", tokens["srrsh"]) as other,
        live.ws("/ws/hospitals/zjpph", live.tokens["dispatcher"]) as watching,
        live.ws("/ws/hospitals/zjpph", tokens["zjpph"]) as zjpph,
    ):
        for conn in (console, other, watching, zjpph):
            json.loads(conn.recv(timeout=10))
        other.send(json.dumps({"type": "ack", "incident_id": iid}))
        assert recv_until(other, lambda f: f["type"] == "error")["reason"] == "unknown_incident"
        watching.send(json.dumps({"type": "ack", "incident_id": iid}))
        refused = recv_until(watching, lambda f: f["type"] == "error")
        assert refused["reason"] == "illegal_transition"
        zjpph.send(json.dumps({"type": "ack", "incident_id": iid}))
        got: dict[str, dict[str, Any]] = {}  # the feed's frame and the reply, in either order
        while len(got) < 2:
            frame = json.loads(zjpph.recv(timeout=10))
            if frame["type"] in ("accepted", "patient.acknowledged"):
                got[frame["type"]] = frame
        assert got["accepted"]["incident_id"] == iid and got["accepted"]["first"] is True
        assert got["patient.acknowledged"]["incident_id"] == iid
        heard = recv_until(console, lambda f: f["type"] == "hospital.acknowledged")
        assert heard["incident_id"] == iid and heard["hospital_id"] == "zjpph"
        zjpph.send(json.dumps({"type": "ack", "incident_id": iid}))
        assert recv_until(zjpph, lambda f: f["type"] == "accepted")["first"] is False
        zjpph.send(json.dumps({"type": "ack", "incident_id": 5}))
        assert recv_until(zjpph, lambda f: f["type"] == "error")["reason"] == "unknown_incident"
    view = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"])
    ).json()
    assert view["incident_id"] == iid


def test_the_console_is_alerted_when_the_hospital_does_not_acknowledge(settings: Settings) -> None:
    running = start(dataclasses.replace(settings, hospital_ack_s=0.5))
    try:
        with running.ws("/ws/console", running.tokens["dispatcher"]) as console:
            json.loads(console.recv(timeout=10))
            iid = patient_on_the_way(running)
            alert = recv_until(console, lambda f: f["type"] == "hospital.ack_overdue")
    finally:
        running.stop()
    assert alert["incident_id"] == iid and alert["hospital_id"] == "zjpph"
    assert alert["waited_s"] >= 0.5


def test_every_read_of_patient_data_is_audited(live: Running) -> None:
    """A hospital's snapshot, its replay from a seq and a dispatcher's read of the incident
    each leave a record naming the reader and the incident; only dispatchers read the trail."""
    iid = patient_on_the_way(live)
    dispatcher = auth(live.tokens["dispatcher"])
    token = live.tokens["hospitals"]["zjpph"]
    with live.ws("/ws/hospitals/zjpph", token) as hospital:
        json.loads(hospital.recv(timeout=10))
    with live.ws("/ws/hospitals/zjpph", token, since="0") as hospital:
        recv_until(hospital, lambda f: f["type"] == "patient.inbound")
    assert httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=dispatcher).status_code == 200
    trail = httpx.get(f"{live.http}/api/v1/audit", headers=dispatcher).json()
    reads = {(r["role"], r["subject"], r["action"]) for r in trail if iid in r["incident_ids"]}
    assert ("hospital", "zjpph", "hospital.snapshot") in reads
    assert ("hospital", "zjpph", "hospital.resume") in reads
    assert ("dispatcher", "", "incident.read") in reads  # one shared dispatcher role
    seqs = [r["seq"] for r in trail]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    later = httpx.get(f"{live.http}/api/v1/audit", params={"after": seqs[0]}, headers=dispatcher)
    assert [r["seq"] for r in later.json()] == seqs[1:]
    for who in (token, live.tokens["units"]["ALS01"]):
        r = httpx.get(f"{live.http}/api/v1/audit", headers=auth(who))
        assert r.status_code == 403
    bad = httpx.get(f"{live.http}/api/v1/audit", params={"limit": 0}, headers=dispatcher)
    assert bad.status_code == 422


def test_a_transporting_unit_s_eta_reaches_its_hospital_as_it_moves(live: Running) -> None:
    """Once the patient is on board, a position from the tablet brings the hospital a
    `patient.eta` with the road ETA to its door and the vehicle's position."""
    iid = patient_on_the_way(live)
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"]) as hospital,
    ):
        json.loads(tablet.recv(timeout=10))
        json.loads(hospital.recv(timeout=10))
        for status in ("en_route", "on_scene", "transporting"):
            tablet.send(json.dumps({"type": "status", "status": status}))
            assert recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))["type"] == (
                "accepted"
            )
        tablet.send(json.dumps({"type": "position", "lat": 30.2790, "lon": 120.1480}))
        eta = recv_until(hospital, lambda f: f["type"] == "patient.eta")
    assert eta["incident_id"] == iid and eta["unit_id"] == "ALS01"
    assert eta["eta_s"] > 0 and (eta["lat"], eta["lon"]) == (30.2790, 120.1480)


def test_the_notice_follows_the_patient_until_handover(live: Running) -> None:
    """The crew's age band and sex and a re-triage re-send `patient.inbound`; the snapshot
    keeps the acknowledgement; the hospital hears `patient.closed` at handover."""
    iid = patient_on_the_way(live)
    dispatcher = auth(live.tokens["dispatcher"])
    base = f"{live.http}/api/v1/incidents/{iid}"
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"]) as hospital,
    ):
        json.loads(tablet.recv(timeout=10))
        json.loads(hospital.recv(timeout=10))
        tablet.send(json.dumps({"type": "patient", "age_band": "65-79", "sex": "female"}))
        assert recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))["type"] == (
            "accepted"
        )
        told = recv_until(hospital, lambda f: f["type"] == "patient.inbound")
        assert (told["incident_id"], told["age_band"], told["sex"]) == (iid, "65-79", "female")
        tablet.send(json.dumps({"type": "patient", "age_band": "elderly"}))
        assert recv_until(tablet, lambda f: f["type"] == "error")["reason"] == "invalid_event"
        triage = {"priority": 1, "complaint": "stroke"}
        assert httpx.post(f"{base}/triage", json=triage, headers=dispatcher).status_code == 200
        told = recv_until(hospital, lambda f: f["type"] == "patient.inbound")
        assert (told["priority"], told["complaint"]) == (1, "stroke")
        assert told["activation"]["team"] == "stroke" and told["age_band"] == "65-79"
        hospital.send(json.dumps({"type": "ack", "incident_id": iid}))
        recv_until(hospital, lambda f: f["type"] == "patient.acknowledged")
        for status in ("en_route", "on_scene", "transporting", "at_hospital"):
            tablet.send(json.dumps({"type": "status", "status": status}))
            recv_until(tablet, lambda f: f["type"] == "accepted")
    with live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"]) as hospital:
        [inbound] = json.loads(hospital.recv(timeout=10))["inbound"]
        assert inbound["acknowledged_at_s"] is not None
        other = httpx.post(f"{base}/handover", headers=auth(live.tokens["hospitals"]["srrsh"]))
        assert other.status_code == 403  # not the receiving hospital
        r = httpx.post(f"{base}/handover", headers=auth(live.tokens["hospitals"]["zjpph"]))
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"incident_id", "step", "timeline"}  # no address for them
        done = recv_until(hospital, lambda f: f["type"] == "patient.closed")
    assert done == {**done, "incident_id": iid, "reason": "handed_over"}
    other = httpx.post(
        f"{base}/patient", json={"sex": "male"}, headers=auth(live.tokens["units"]["BLS02"])
    )
    assert other.status_code == 403
    bad = httpx.post(f"{base}/patient", json={"sex": "x"}, headers=dispatcher)
    assert bad.status_code == 422


FHIR_FIELD = {
    "patient.inbound": "fhir",
    "patient.eta": "fhir",
    "patient.diverted": "fhir",
    "patient.closed": "fhir",
    "vitals": "bundle",
}


def valid_fhir(bundle: dict[str, Any]) -> set[str]:
    """Validate a Bundle and each resource in it against the R4 (4.0.1, fhirclient) and R4B
    (4.3.0, fhir.resources) models; their types."""
    validate_r4(bundle)
    Bundle.model_validate(bundle)
    kinds = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kinds.add(resource["resourceType"])
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return kinds


def test_every_message_a_hospital_gets_about_a_patient_is_valid_fhir(live: Running) -> None:
    """A whole journey over two hospitals: notice, description, ETA, vitals, diversion,
    handover. Every frame type about the patient carries a Bundle that validates."""
    iid = patient_on_the_way(live)
    hospitals = live.tokens["hospitals"]
    dispatcher = auth(live.tokens["dispatcher"])
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as zjpph,
        live.ws("/ws/hospitals/srrsh", hospitals["srrsh"]) as srrsh,
    ):
        json.loads(tablet.recv(timeout=10))
        snapshot = json.loads(zjpph.recv(timeout=10))
        json.loads(srrsh.recv(timeout=10))

        def step(frame: dict[str, Any]) -> None:
            tablet.send(json.dumps(frame))
            assert recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))["type"] == (
                "accepted"
            )

        step({"type": "patient", "age_band": "45-64", "sex": "male"})
        for status in ("en_route", "on_scene", "transporting"):
            step({"type": "status", "status": status})
        tablet.send(json.dumps({"type": "position", "lat": 30.2790, "lon": 120.1480}))
        send_vitals(tablet, range(1, 2))
        firsts: dict[str, dict[str, Any]] = {}  # the ETA and the vitals come in either order
        while len(firsts) < 3:
            frame = json.loads(zjpph.recv(timeout=10))
            if frame["type"] in ("patient.inbound", "patient.eta", "vitals"):
                firsts.setdefault(frame["type"], frame)
        got = list(firsts.values())
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/destination",
            json={"hospital_id": "srrsh"},
            headers=dispatcher,
        )
        assert r.status_code == 200
        got.append(recv_until(zjpph, lambda f: f["type"] == "patient.diverted"))
        step({"type": "status", "status": "at_hospital"})
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/handover", headers=auth(hospitals["srrsh"])
        )
        assert r.status_code == 200
        got.append(recv_until(srrsh, lambda f: f["type"] == "patient.closed"))
    assert {f["type"] for f in got} == set(FHIR_FIELD)
    kinds: set[str] = set()
    for frame in [*got, *snapshot["inbound"]]:
        kinds |= valid_fhir(frame[FHIR_FIELD.get(frame.get("type", ""), "fhir")])
    assert {"Patient", "Observation", "Encounter", "Location", "ServiceRequest"} <= kinds
    assert "+8613800000077" not in json.dumps(got)  # never the caller's phone
