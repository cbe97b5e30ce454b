"""Vitals from the tablet to the receiving hospital as FHIR R4 bundles, over real sockets.

Checked: only the chosen hospital gets them, each bundle validates against the FHIR models,
bad samples are refused with an error frame and never reach a hospital, a re-routed patient's
vitals follow the new hospital, and a hospital that reconnects with `since` gets exactly the
frames it missed, in order.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.support.server import Running, auth, recv_until
from tests.support.tablet import patient_on_the_way, reply, vitals


def test_vitals_reach_the_chosen_hospital_as_valid_fhir_and_follow_a_reroute(
    live: Running,
) -> None:
    hospitals = live.tokens["hospitals"]
    tablet_token = live.tokens["units"]["ALS01"]
    with live.ws("/ws/units/BLS02", live.tokens["units"]["BLS02"]) as idle:
        json.loads(idle.recv(timeout=10))
        idle.send(vitals(1))
        assert reply(idle)["reason"] == "illegal_transition"  # no patient: nowhere to send
    iid = patient_on_the_way(live)
    with (
        live.ws("/ws/units/ALS01", tablet_token) as tablet,
        live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as zjpph,
        live.ws("/ws/hospitals/srrsh", hospitals["srrsh"]) as srrsh,
    ):
        json.loads(tablet.recv(timeout=10))
        assert [p["incident_id"] for p in json.loads(zjpph.recv(timeout=10))["inbound"]] == [iid]
        json.loads(srrsh.recv(timeout=10))
        tablet.send(vitals(1))
        assert reply(tablet) == {"type": "accepted", "frame": "vitals", "seq": 1}
        got = recv_until(zjpph, lambda f: f["type"] == "vitals")
        assert got["incident_id"] == iid and got["sample_seq"] == 1
        bundle = Bundle.model_validate(got["bundle"])  # HL7 FHIR R4(B) structure, strictly
        kinds = {e.resource.get_resource_type() for e in bundle.entry or []}
        assert "Observation" in kinds and "+8613800000077" not in json.dumps(got)
        for bad, why in (
            (vitals(2, hr=float("nan")), "NaN"),
            (vitals(2, hr=500), "out of range"),
            (vitals(2, pulse=80), "unknown field"),
        ):
            tablet.send(bad)
            assert reply(tablet)["reason"] == "invalid_vitals", why
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/destination",
            json={"hospital_id": "srrsh", "reason": "cath lab busy"},
            headers=auth(live.tokens["dispatcher"]),
        )
        assert r.status_code == 200
        tablet.send(vitals(2))
        assert reply(tablet)["seq"] == 2
        assert recv_until(srrsh, lambda f: f["type"] == "vitals")["sample_seq"] == 2
        seen = recv_until(zjpph, lambda f: f["type"] == "patient.diverted")
        assert seen["incident_id"] == iid
        last_zjpph = seen["seq"]
    # After the re-route zjpph got nothing more: a resume from its last frame replays nothing.
    with (
        live.ws("/ws/hospitals/zjpph", hospitals["zjpph"], since=str(last_zjpph)) as again,
        pytest.raises(TimeoutError),
    ):
        again.recv(timeout=1.0)


def test_a_hospital_resumes_from_its_last_seq_without_a_gap_or_a_duplicate(
    live: Running,
) -> None:
    patient_on_the_way(live)
    hospitals = live.tokens["hospitals"]
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        json.loads(tablet.recv(timeout=10))
        with live.ws("/ws/hospitals/zjpph", hospitals["zjpph"]) as first:
            json.loads(first.recv(timeout=10))
            tablet.send(vitals(1))
            reply(tablet)
            last = recv_until(first, lambda f: f["type"] == "vitals")["seq"]
        for seq in range(2, 7):  # sent while the hospital is away
            tablet.send(vitals(seq))
            assert reply(tablet)["seq"] == seq
        with live.ws("/ws/hospitals/zjpph", hospitals["zjpph"], since=str(last)) as back:
            frames = [json.loads(back.recv(timeout=10)) for _ in range(5)]
    assert [f["type"] for f in frames] == ["vitals"] * 5  # no snapshot: nothing was lost
    assert [f["seq"] for f in frames] == list(range(last + 1, last + 6))
    assert [f["sample_seq"] for f in frames] == [2, 3, 4, 5, 6]
    assert [f["bundle"]["identifier"]["value"].split("/")[1] for f in frames] == [
        "2",
        "3",
        "4",
        "5",
        "6",
    ]
