"""An incident as a FHIR R4 Bundle: valid in fhirclient's R4 and fhir.resources' R4B models,
tied together by references inside the Bundle, and personal only when allowed.

The incident is a transported P1 chest pain built by hand (as in test_export_nemsis), with
two seconds of the hospital link's own vitals Observations (heart rate 88, SpO2 95).
"""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from dispatch.core.engine import Incident
from dispatch.core.export_fhir import fhir_bundle, thin_vitals
from dispatch.core.export_record import Destination, PersonalFields, record_of
from dispatch.core.model import Complaint, IncidentId, Priority, Step, UnitId
from hospital_link.fhir import StreamContext, numerics_observations
from hospital_link.vitals import Numerics
from tests.support.fhir_r4 import validate_r4

CHINA = timezone(timedelta(hours=8))
PATIENT = "p" * 32
TIMELINE = {
    Step.CALL_RECEIVED: 100.0,
    Step.LOCATED: 100.0,
    Step.UNIT_NOTIFIED: 160.0,
    Step.EN_ROUTE: 175.0,
    Step.ON_SCENE: 600.0,
    Step.LEFT_SCENE: 1500.0,
    Step.AT_DESTINATION: 2100.0,
    Step.TRANSFER_OF_CARE: 2400.0,
    Step.BACK_IN_SERVICE: 2700.0,
    Step.CLOSED: 2700.0,
}
PERSONAL = PersonalFields("+8613800000077", "door code 1234", "文三路与学院路交叉口附近", True)


def vitals() -> list[dict[str, Any]]:
    """Heart rate and SpO2 at Unix 1,800,001,000 and one second later, as the relay builds."""
    ctx = StreamContext(PATIENT, utc_offset_min=480)
    samples = [Numerics("ALS01", seq, 1_800_001_000.0 + seq, hr=88, spo2=95) for seq in (0, 1)]
    return [obs for sample in samples for obs in numerics_observations(ctx, sample)]


def bundle(personal: PersonalFields | None = None) -> dict[str, Any]:
    inc = Incident(
        IncidentId("I1"),
        30.280312,
        120.146544,
        12.0,
        None,
        Priority.P1,
        Complaint.CHEST_PAIN,
        timeline=dict(TIMELINE),
        unit_id=UnitId("ALS01"),
        destination="zjpph",
        age_band="45-64",
        sex="female",
    )
    rec = record_of(
        inc,
        wall_of=lambda engine_s: 1_800_000_000.0 + engine_s,
        zone=CHINA,
        patient_id=PATIENT,
        destination=Destination("zjpph", "Zhejiang Provincial People's Hospital", 30.26, 120.17),
        vitals=thin_vitals(vitals()),
        personal=personal,
    )
    return fhir_bundle(rec)


def resources(b: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in b["entry"]]


def validate(b: dict[str, Any]) -> None:
    """Valid R4 (fhirclient, strict, nothing dropped) and R4B (fhir.resources), each entry
    too; every urn:uuid reference points at an entry of the Bundle."""
    validate_r4(b)
    Bundle.model_validate(b)
    for r in resources(b):
        get_fhir_model_class(r["resourceType"]).model_validate(r)
    urls = {e["fullUrl"] for e in b["entry"]}
    assert len(urls) == len(b["entry"])
    refs = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            ref = x.get("reference")
            if isinstance(ref, str) and ref.startswith("urn:uuid:"):
                refs.add(ref)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(b)
    assert refs <= urls, refs - urls


def test_the_bundle_is_valid_fhir_r4_and_r4b() -> None:
    """Patient, age Observation, Encounter, scene Location, the hospital's Organization and
    Location, and the vitals: a valid "collection" Bundle either way."""
    b = bundle()
    validate(b)
    assert b["type"] == "collection"
    kinds = [r["resourceType"] for r in resources(b)]
    assert kinds[:6] == ["Patient", "Observation", "Encounter", "Location", "Organization",
                         "Location"]  # fmt: skip
    assert kinds.count("Observation") == 1 + 2  # the age band; hr and SpO2 once (thinned)


def test_the_encounter_carries_the_timeline() -> None:
    """Finished; from the call (16:01:40+08:00) to the close (16:45:00); on scene 16:10 to
    16:25, at the hospital 16:35 to the handover at 16:40."""
    (enc,) = [r for r in resources(bundle()) if r["resourceType"] == "Encounter"]
    assert enc["status"] == "finished"
    assert enc["period"] == {
        "start": "2027-01-15T16:01:40.000+08:00",
        "end": "2027-01-15T16:45:00.000+08:00",
    }
    scene, hospital = enc["location"]
    assert scene["period"] == {
        "start": "2027-01-15T16:10:00.000+08:00",
        "end": "2027-01-15T16:25:00.000+08:00",
    }
    assert hospital["period"]["end"] == "2027-01-15T16:40:00.000+08:00"
    assert scene["status"] == hospital["status"] == "completed"


def test_without_personal_fields_the_bundle_says_so_and_holds_none() -> None:
    """Labelled REDACTED and "personal-omitted"; no RelatedPerson or Communication; neither
    the number, the notes nor the read-back anywhere; the scene rounded to 3 decimals."""
    b = bundle()
    text = json.dumps(b, ensure_ascii=False)
    assert b["meta"]["security"][0]["code"] == "REDACTED"
    assert b["meta"]["tag"][0]["code"] == "personal-omitted"
    assert "+8613800000077" not in text and "1234" not in text and "文三路" not in text
    kinds = {r["resourceType"] for r in resources(b)}
    assert not kinds & {"RelatedPerson", "Communication"}
    (scene,) = [r for r in resources(b) if r.get("name") == "scene of incident I1"]
    assert scene["position"] == {"longitude": 120.147, "latitude": 30.28}


def test_with_personal_fields_the_caller_and_notes_are_in_and_valid() -> None:
    """The caller is a RelatedPerson with the number, the notes a Communication, the read-back
    the scene's description; still valid R4 and R4B."""
    b = bundle(PERSONAL)
    validate(b)
    by_kind = {r["resourceType"]: r for r in resources(b)}
    assert by_kind["RelatedPerson"]["telecom"][0]["value"] == "+8613800000077"
    assert by_kind["Communication"]["payload"] == [{"contentString": "door code 1234"}]
    assert b["meta"]["tag"][0]["code"] == "personal-included" and "security" not in b["meta"]


def test_thinning_keeps_the_first_of_each_code_per_minute() -> None:
    """Two seconds of hr and SpO2 in one minute give one of each, the first second's."""
    kept = thin_vitals(vitals())
    assert [o["code"]["coding"][0]["code"] for o in kept] == ["8867-4", "2708-6"]
    assert all(o["effectiveDateTime"].startswith("2027-01-15T16:16:40") for o in kept)
