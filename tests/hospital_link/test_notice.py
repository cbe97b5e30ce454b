"""Pre-arrival notices as FHIR Bundles: valid R4 4.0.1 and R4B 4.3.0, stable ids, no PII.

As in test_fhir.py, each Bundle and resource is checked against fhirclient's R4 (4.0.1) models
and fhir.resources 8's R4B (4.3.0) models. Neither checks codes nor reference targets, so the
required bindings and the target types are checked here.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_link.destination import CONDITION_CAPABILITY
from hospital_link.errors import InvalidArgument
from hospital_link.fhir import StreamContext, patient_pseudonym
from hospital_link.notice import (
    AGE_BANDS,
    COMPLAINTS,
    GENDERS,
    closed_bundle,
    diverted_bundle,
    eta_bundle,
    inbound_bundle,
)
from tests.support.fhir_r4 import validate_r4

MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Observation": Observation,
    "Encounter": Encounter,
    "Location": Location,
    "ServiceRequest": ServiceRequest,
}
R4_STATUS = {
    "Observation": {"registered", "preliminary", "final", "amended"},
    "Location": {"active", "suspended", "inactive"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                  "cancelled"},
    "ServiceRequest": {"draft", "active", "on-hold", "revoked", "completed"},
}  # fmt: skip
# (resource, element) -> the R4 reference targets allowed there.
TARGETS = {
    ("Encounter", "subject"): {"Patient", "Group"},
    ("Encounter", "origin"): {"Location", "Organization"},
    ("Encounter", "location"): {"Location"},
    ("Observation", "subject"): {"Patient"},
    ("Observation", "encounter"): {"Encounter"},
    ("ServiceRequest", "subject"): {"Patient"},
    ("ServiceRequest", "encounter"): {"Encounter"},
}
INCIDENT = "INC-20231115-0042"  # distinctive, so a leak of it in clear text would be found
CTX = StreamContext(patient_pseudonym(INCIDENT, b"k" * 32), epoch_unix_s=1.7e9, utc_offset_min=480)
# A P1 stroke, 80+ woman, unit A12 nine minutes out at at_s 5 (06:13:25 +08:00).
STROKE: dict[str, Any] = dict(
    incident_id=INCIDENT,
    hospital_id="zjpph",
    unit_id="A12",
    at_s=5.0,
    priority=1,
    complaint="stroke",
    eta_s=540.0,
    age_band="80+",
    sex="female",
    activation_team="stroke",
    activation_reasons=["stroke: pre-alert the stroke team"],
)


def inbound(**changes: Any) -> dict[str, Any]:
    return inbound_bundle(CTX, **{**STROKE, **changes})


def eta(**changes: Any) -> dict[str, Any]:
    args = dict(
        incident_id=INCIDENT,
        hospital_id="zjpph",
        unit_id="A12",
        at_s=65.0,
        eta_s=480.0,
        lat=30.28,
        lon=120.16,
    )
    return eta_bundle(CTX, **{**args, **changes})


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if kind is None or e["resource"]["resourceType"] == kind
    ]


def one(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    (r,) = resources(bundle, kind)
    return r


def same_times(x: Any) -> Any:
    """`x` with every dateTime parsed: the models print 06:13:25.000 as 06:13:25."""
    if isinstance(x, dict):
        return {k: same_times(v) for k, v in x.items()}
    if isinstance(x, list):
        return [same_times(v) for v in x]
    if isinstance(x, str) and len(x) > 19 and x[10:11] == "T":
        return datetime.fromisoformat(x)
    return x


def targets(bundle: dict[str, Any], kind: str, x: Any, key: str = "") -> list[tuple[str, str]]:
    """(element, target type) of every reference in `x`, resolving urn:uuid inside the bundle."""
    if isinstance(x, list):
        return [t for v in x for t in targets(bundle, kind, v, key)]
    if not isinstance(x, dict):
        return []
    if "reference" in x or ("identifier" in x and key in {k for _, k in TARGETS}):
        if "reference" not in x:
            return [(key, x.get("type", "?"))]
        ref = x["reference"]
        if ref.startswith("urn:uuid:"):
            (target,) = [e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref]
            return [(key, target["resourceType"])]
        return [(key, ref.split("/")[0])]
    return [t for k, v in x.items() for t in targets(bundle, kind, v, k)]


def validate(bundle: dict[str, Any]) -> None:
    """The Bundle and each resource in it are valid R4 and parse in their R4B model, giving back
    every element we wrote; status codes are in R4's value sets, references point at allowed
    types."""
    validate_r4(bundle)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
    for r in resources(bundle):
        model = MODELS[r["resourceType"]].model_validate(r)
        assert same_times(json.loads(model.model_dump_json())) == same_times(r)
        if r["resourceType"] in R4_STATUS:
            assert r["status"] in R4_STATUS[r["resourceType"]]
        for element, target in targets(bundle, r["resourceType"], r):
            assert target in TARGETS[(r["resourceType"], element)], (element, target)


def keys(x: Any) -> set[str]:
    if isinstance(x, dict):
        return set(x) | {k for v in x.values() for k in keys(v)}
    if isinstance(x, list):
        return {k for v in x for k in keys(v)}
    return set()


def test_inbound_is_valid_fhir() -> None:
    """A P1 stroke gives Patient, Encounter, age Observation and team request, all valid."""
    b = inbound()
    validate(b)
    assert [r["resourceType"] for r in resources(b)] == [
        "Patient",
        "Encounter",
        "Observation",
        "ServiceRequest",
    ]
    assert b["timestamp"] == "2023-11-15T06:13:25.000+08:00"
    enc = one(b, "Encounter")
    assert enc["status"] == "planned"
    assert enc["class"]["code"] == "EMER"
    assert enc["subject"]["reference"] == f"Patient/{CTX.patient_id}"
    assert enc["reasonCode"] == [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "230690007",
                    "display": "Cerebrovascular accident",
                }
            ],
            "text": "stroke",
        }
    ]
    (planned,) = enc["location"]
    assert planned["status"] == "planned"
    assert planned["location"]["identifier"]["value"] == "zjpph"
    assert planned["period"]["start"] == "2023-11-15T06:22:25.000+08:00"  # 9 min after 06:13:25
    assert enc["hospitalization"]["origin"]["identifier"]["value"] == "A12"


def test_patient_holds_no_pii_and_no_incident_id() -> None:
    """The Patient is the pseudonym and a gender; no name, phone, address or clear incident id."""
    b = inbound()
    assert one(b, "Patient") == {
        "resourceType": "Patient",
        "id": CTX.patient_id,
        "identifier": [{"system": "urn:jijiu:patient", "value": CTX.patient_id}],
        "gender": "female",
    }
    for bundle in (
        b,
        diverted_bundle(CTX, incident_id=INCIDENT, hospital_id="zjpph", at_s=9.0),
        eta(),
    ):
        assert INCIDENT not in json.dumps(bundle)
        assert not keys(bundle) & {"telecom", "address", "contact", "birthDate"}
    assert "name" not in keys(b)  # the only "name" jijiu sends is a vehicle's ("unit A12")


@pytest.mark.parametrize(("priority", "code"), [(1, "EM"), (2, "UR"), (3, "R")])
def test_priority_maps_to_act_priority(priority: int, code: str) -> None:
    """P1 is v3-ActPriority EM (emergency), P2 UR (urgent), P3 R (routine)."""
    (coding,) = one(inbound(priority=priority), "Encounter")["priority"]["coding"]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
    assert coding["code"] == code


@pytest.mark.parametrize(
    ("band", "low", "high"),
    [
        ("0-4", 0, 4),
        ("5-14", 5, 14),
        ("15-44", 15, 44),
        ("45-64", 45, 64),
        ("65-79", 65, 79),
        ("80+", 80, None),
    ],
)
def test_age_band_is_a_range_in_years(band: str, low: int, high: int | None) -> None:
    """The band is LOINC 30525-0 with valueRange in UCUM "a"; "80+" has a low and no high."""
    obs = one(inbound(age_band=band), "Observation")
    assert obs["code"]["coding"][0]["code"] == "30525-0"
    value = obs["valueRange"]
    assert value["low"]["value"] == low and value["low"]["code"] == "a"
    assert value["low"]["system"] == "http://unitsofmeasure.org"
    assert (value["high"]["value"] if "high" in value else None) == high


def test_unknown_age_and_sex_are_left_out() -> None:
    """No age band: no Observation; no sex: no gender; no unit: no origin."""
    b = inbound(age_band=None, sex=None, unit_id=None, eta_s=None)
    validate(b)
    assert resources(b, "Observation") == []
    assert "gender" not in one(b, "Patient")
    enc = one(b, "Encounter")
    assert "hospitalization" not in enc and "period" not in enc["location"][0]
    assert "occurrenceDateTime" not in one(b, "ServiceRequest")


def test_complaints_are_dispatchs_and_coded() -> None:
    """Every complaint dispatch knows is coded; those with no well-known code are text only."""
    assert set(COMPLAINTS) == set(CONDITION_CAPABILITY)
    assert set(GENDERS) == set(GENDERS.values()) == {"male", "female", "other", "unknown"}
    for complaint in COMPLAINTS:
        b = inbound(complaint=complaint)
        validate(b)
        (reason,) = one(b, "Encounter")["reasonCode"]
        assert ("coding" in reason) == (complaint not in ("paediatric", "other"))


def test_team_activation_is_a_proposed_service_request() -> None:
    """The team is a ServiceRequest "proposal": the team, at the expected arrival, with reasons."""
    req = one(inbound(activation_team="trauma", activation_reasons=["a", "b"]), "ServiceRequest")
    assert (req["status"], req["intent"], req["priority"]) == ("active", "proposal", "stat")
    assert req["performerType"] == {"text": "trauma team"}
    assert req["occurrenceDateTime"] == "2023-11-15T06:22:25.000+08:00"
    assert req["reasonCode"] == [{"text": "a"}, {"text": "b"}]
    for team in ("none", None):
        assert resources(inbound(activation_team=team), "ServiceRequest") == []


def test_ids_are_stable_and_per_hospital() -> None:
    """The same notice gives the same ids; another hospital or incident gives other ids."""
    assert inbound() == inbound()
    ids = {r["id"] for r in resources(inbound()) if r["resourceType"] != "Patient"}
    later = {r["id"] for r in resources(inbound(at_s=60.0, eta_s=300.0, priority=2))}
    assert ids <= later  # a repeat notice updates the same resources
    assert inbound()["id"] != inbound(at_s=60.0)["id"]  # but is a bundle of its own
    elsewhere = {r["id"] for r in resources(inbound(hospital_id="zju2"))}
    assert ids.isdisjoint(elsewhere)
    other = StreamContext(patient_pseudonym("INC-2", b"k" * 32))
    assert ids.isdisjoint(
        r["id"] for r in resources(inbound_bundle(other, **{**STROKE, "incident_id": "INC-2"}))
    )


def test_diverted_cancels_the_same_encounter() -> None:
    """Diversion cancels the inbound Encounter (same id) and revokes the team, nothing clinical."""
    b = diverted_bundle(CTX, incident_id=INCIDENT, hospital_id="zjpph", at_s=9.0)
    validate(b)
    enc, req = one(b, "Encounter"), one(b, "ServiceRequest")
    assert enc["id"] == one(inbound(), "Encounter")["id"]
    assert enc["status"] == "cancelled"
    assert enc["subject"]["reference"] == f"Patient/{CTX.patient_id}"
    assert req["id"] == one(inbound(), "ServiceRequest")["id"] and req["status"] == "revoked"
    assert [r["resourceType"] for r in resources(b)] == ["Encounter", "ServiceRequest"]
    assert set(enc) == {"resourceType", "id", "identifier", "status", "class", "subject"}
    assert set(req) == {
        "resourceType",
        "id",
        "identifier",
        "status",
        "intent",
        "subject",
        "encounter",
    }


def test_eta_moves_the_planned_arrival() -> None:
    """at_s 65 + 480 s is 06:22:25 +08:00: the planned hospital location's start, as stored."""
    b = eta()
    validate(b)
    enc, loc = one(b, "Encounter"), one(b, "Location")
    assert enc["id"] == one(inbound(), "Encounter")["id"] and enc["status"] == "planned"
    (planned,) = enc["location"]
    assert planned["period"]["start"] == CTX.iso(65.0 + 480.0) == "2023-11-15T06:22:25.000+08:00"
    # The hospital page's reading: planned start minus the Bundle's timestamp is the ETA.
    seconds = (
        datetime.fromisoformat(planned["period"]["start"]) - datetime.fromisoformat(b["timestamp"])
    ).total_seconds()
    assert seconds == 480.0
    assert loc["position"] == {"longitude": 120.16, "latitude": 30.28}
    assert loc["physicalType"]["coding"][0]["code"] == "ve"
    assert enc["hospitalization"]["origin"]["reference"] == f"urn:uuid:{loc['id']}"
    assert one(eta(at_s=70.0, lat=30.3), "Location")["id"] == loc["id"]  # moved, not copied


@pytest.mark.parametrize(("change", "message"), [
    ({"at_s": math.nan}, "at_s"), ({"at_s": math.inf}, "at_s"), ({"eta_s": -1.0}, "eta_s"),
    ({"eta_s": math.nan}, "eta_s"), ({"eta_s": math.inf}, "eta_s"),
    ({"priority": 0}, "priority"), ({"priority": 4}, "priority"), ({"priority": True}, "priority"),
    ({"complaint": "fever"}, "unknown complaint 'fever'"), ({"sex": "M"}, "unknown sex"),
    ({"age_band": "18-25"}, "unknown age band"), ({"activation_team": "cardiac"}, "team"),
    ({"activation_reasons": "stroke"}, "activation_reasons"),
    ({"activation_reasons": [""]}, "activation_reasons"),
    ({"hospital_id": "a/b"}, "hospital id"), ({"unit_id": "A 12"}, "unit id"),
    ({"incident_id": ""}, "incident id"), ({"at_s": 1e20}, "calendar"),
])  # fmt: skip
def test_inbound_refuses_bad_input(change: dict[str, Any], message: str) -> None:
    """NaN or infinite times, a negative ETA, P4, unknown codes and bad ids are refused."""
    with pytest.raises(InvalidArgument, match=message):
        inbound(**change)


@pytest.mark.parametrize(
    "change",
    [{"lat": 95.0}, {"lon": math.nan}, {"eta_s": -5.0}, {"at_s": math.nan}, {"unit_id": "A/12"}],
)
def test_eta_and_diverted_refuse_bad_input(change: dict[str, Any]) -> None:
    """A bad position, ETA, time or id is refused by eta_bundle; a NaN time by diverted_bundle."""
    with pytest.raises(InvalidArgument):
        eta(**change)
    with pytest.raises(InvalidArgument):
        diverted_bundle(CTX, incident_id=INCIDENT, hospital_id="zjpph", at_s=math.nan)


@settings(max_examples=60, deadline=None)
@given(
    unit_id=st.none() | st.from_regex(r"\A[A-Za-z0-9-]{1,8}\Z"),
    at_s=st.floats(-1e6, 1e8),
    priority=st.integers(1, 3),
    complaint=st.sampled_from(sorted(COMPLAINTS)),
    eta_s=st.none() | st.floats(0, 4 * 3600),
    age_band=st.none() | st.sampled_from(sorted(AGE_BANDS)),
    sex=st.none() | st.sampled_from(sorted(GENDERS)),
    team=st.none() | st.sampled_from(["stroke", "stemi", "trauma", "none"]),
    reasons=st.lists(st.text(min_size=1).filter(str.strip), max_size=3),
)
def test_any_valid_inbound_is_valid_fhir(
    unit_id: str | None,
    at_s: float,
    priority: int,
    complaint: str,
    eta_s: float | None,
    age_band: str | None,
    sex: str | None,
    team: str | None,
    reasons: list[str],
) -> None:
    """Any valid combination of inputs gives a valid, deterministic Bundle with distinct ids."""
    args: dict[str, Any] = {
        "incident_id": INCIDENT,
        "hospital_id": "zjpph",
        "unit_id": unit_id,
        "at_s": at_s,
        "priority": priority,
        "complaint": complaint,
        "eta_s": eta_s,
        "age_band": age_band,
        "sex": sex,
        "activation_team": team,
        "activation_reasons": reasons,
    }
    b = inbound_bundle(CTX, **args)
    validate(b)
    assert b == inbound_bundle(CTX, **args)
    ids = [r["id"] for r in resources(b)]
    assert len(set(ids)) == len(ids)
    assert INCIDENT not in json.dumps(b)


def test_closed_is_the_same_encounter_arrived_at_handover_else_cancelled() -> None:
    """Handover: "arrived" with the hospital active since then; before arrival: "cancelled"."""
    ctx = StreamContext("p-closed", utc_offset_min=480)
    at_s = 1_800_000_000.0
    inbound = inbound_bundle(
        ctx,
        incident_id="I1",
        hospital_id="zjpph",
        unit_id="ALS01",
        at_s=at_s,
        priority=1,
        complaint="stroke",
        eta_s=300.0,
        age_band=None,
        sex=None,
        activation_team=None,
        activation_reasons=(),
    )
    enc_id = next(
        e["resource"]["id"]
        for e in inbound["entry"]
        if e["resource"]["resourceType"] == "Encounter"
    )
    for handed_over, status in ((True, "arrived"), (False, "cancelled")):
        bundle = closed_bundle(
            ctx, incident_id="I1", hospital_id="zjpph", at_s=at_s + 400, handed_over=handed_over
        )
        validate(bundle)
        [enc] = [e["resource"] for e in bundle["entry"]]
        assert (enc["id"], enc["status"]) == (enc_id, status)
        assert ("location" in enc) is handed_over
