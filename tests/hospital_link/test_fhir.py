"""FHIR output: valid R4 4.0.1 and R4B 4.3.0, coded like the official R4 examples.

Each resource is checked against fhirclient's models, generated from R4 4.0.1
(tests/support/fhir_r4.py says what they check), and against fhir.resources 8's R4B (4.3.0)
models: fhir.resources has no R4 package, and its default models are R5. Neither checks codes,
so status codes are checked here against R4's required value sets.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation

from hospital_link.errors import InvalidArgument
from hospital_link.fhir import (
    Approach,
    StreamContext,
    bundle_second,
    ecg_observation,
    numerics_observations,
    patient_pseudonym,
)
from hospital_link.vitals import EcgChunk, Numerics
from tests.support.fhir_r4 import validate_r4

MODELS: dict[str, Any] = {"Observation": Observation, "Location": Location, "Encounter": Encounter}
# The models do not check codes against value sets, so the required bindings are checked here.
R4_STATUS = {
    "Observation": {"registered", "preliminary", "final", "amended"},
    "Location": {"active", "suspended", "inactive"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"},
}
CTX = StreamContext(
    patient_pseudonym("incident-1", b"k" * 32), epoch_unix_s=1.7e9, utc_offset_min=480
)
FULL = Numerics(
    "A12", 5, 5.0, hr=44, spo2=95, nibp_sys=107, nibp_dia=60, rr=26, etco2=38, temp_c=36.5, gcs=13
)
CHUNK = EcgChunk("A12", 5, 5.0, "MLII", 360.0, tuple(range(-180, 180)))
GOLDEN = {
    "hr": "observation-example-heart-rate.json",
    "spo2": "observation-example-satO2.json",
    "rr": "observation-example-respiratory-rate.json",
    "temp_c": "observation-example-body-temperature.json",
    "gcs": "observation-example-glasgow.json",
    "bp": "observation-example-bloodpressure.json",
}


def golden(golden_dir: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((golden_dir / name).read_text(encoding="utf-8"))
    return data


def codes(concept: dict[str, Any], system: str = "http://loinc.org") -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"] if c["system"] == system]


def by_kind(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["identifier"][0]["value"].split("/")[-1]: r for r in resources}


def same_times(x: Any) -> Any:
    """`x` with every dateTime parsed: the models print 06:13:25.000 as 06:13:25."""
    if isinstance(x, dict):
        return {k: same_times(v) for k, v in x.items()}
    if isinstance(x, list):
        return [same_times(v) for v in x]
    if isinstance(x, str) and len(x) > 19 and x[10:11] == "T":
        return datetime.fromisoformat(x)
    return x


def validate(resource: dict[str, Any]) -> None:
    """Valid in the R4 model; round-trips through the R4B model (which refuses unknown elements)
    giving back every element we wrote; status codes are checked against R4's value sets."""
    validate_r4(resource)
    model = MODELS[resource["resourceType"]].model_validate(resource)
    back = json.loads(model.model_dump_json())
    assert same_times(back) == same_times(json.loads(json.dumps(resource)))
    assert resource["status"] in R4_STATUS[resource["resourceType"]]


def test_every_numeric_observation_is_valid_fhir() -> None:
    """A full sample gives 7 Observations (BP is one panel), each valid in R4 and R4B."""
    obs = numerics_observations(CTX, FULL)
    assert sorted(by_kind(obs)) == ["bp", "etco2", "gcs", "hr", "rr", "spo2", "temp_c"]
    for o in obs:
        validate(o)


@pytest.mark.parametrize("kind", ["hr", "spo2", "rr", "temp_c", "gcs"])
def test_numeric_codes_match_the_r4_examples(golden_dir: Path, kind: str) -> None:
    """LOINC codes, category, UCUM unit and profile are those of the official R4 example."""
    ours = by_kind(numerics_observations(CTX, FULL))[kind]
    ref = golden(golden_dir, GOLDEN[kind])
    assert codes(ours["code"]) == codes(ref["code"])
    for key in ("system", "code"):
        assert ours["valueQuantity"][key] == ref["valueQuantity"][key]
    if "unit" in ref["valueQuantity"]:
        assert ours["valueQuantity"]["unit"] == ref["valueQuantity"]["unit"]
    assert ours["valueQuantity"]["value"] == ref["valueQuantity"]["value"]  # same figures
    for profile in ref.get("meta", {}).get("profile", []):
        assert profile in ours["meta"]["profile"]
    if "category" in ref:
        assert ours["category"][0]["coding"] == ref["category"][0]["coding"]
    else:  # the R4 GCS example claims no profile and no category; we say "survey"
        assert "meta" not in ours and ours["category"][0]["coding"][0]["code"] == "survey"


def test_blood_pressure_matches_the_r4_example(golden_dir: Path) -> None:
    """The BP panel 85354-9 has systolic 8480-6 and diastolic 8462-4 components in mm[Hg]."""
    ours = by_kind(numerics_observations(CTX, FULL))["bp"]
    ref = golden(golden_dir, GOLDEN["bp"])
    assert codes(ours["code"]) == codes(ref["code"])
    assert "http://hl7.org/fhir/StructureDefinition/vitalsigns" in ours["meta"]["profile"]
    for mine, theirs in zip(ours["component"], ref["component"], strict=True):
        assert codes(mine["code"]) == codes(theirs["code"])
        assert mine["valueQuantity"] == theirs["valueQuantity"]  # 107/60 mmHg, mm[Hg], UCUM


def test_etco2_is_a_partial_pressure() -> None:
    """EtCO2 is LOINC 19891-1 in mm[Hg] (not 19889-5, the % fraction), MDC 151708 beside it."""
    ours = by_kind(numerics_observations(CTX, FULL))["etco2"]
    assert codes(ours["code"]) == [("http://loinc.org", "19891-1")]
    assert codes(ours["code"], "urn:iso:std:iso:11073:10101") == [
        ("urn:iso:std:iso:11073:10101", "151708")
    ]
    assert ours["valueQuantity"]["code"] == "mm[Hg]"


def test_ecg_matches_the_r4_example(golden_dir: Path) -> None:
    """The ECG is coded as the R4 example (MDC 131328, lead II 131330) and is valid R4."""
    ours = ecg_observation(CTX, CHUNK)
    validate(ours)
    ref = golden(golden_dir, "observation-example-sample-data.json")
    mdc = "urn:oid:2.16.840.1.113883.6.24"
    assert codes(ours["code"], mdc) == codes(ref["code"], mdc)
    assert ours["category"][0]["coding"] == ref["category"][0]["coding"]
    lead_ii = next(c for c in ref["component"] if codes(c["code"], mdc)[0][1] == "131330")
    (component,) = ours["component"]
    assert codes(component["code"], mdc) == codes(lead_ii["code"], mdc)
    sampled = component["valueSampledData"]
    assert set(lead_ii["valueSampledData"]) >= set(sampled) >= {"origin", "period", "dimensions"}
    assert sampled["period"] * 360.0 == pytest.approx(1000.0)  # ms between samples
    assert sampled["origin"]["code"] == "uV" and sampled["dimensions"] == 1
    assert [int(v) for v in sampled["data"].split()] == list(CHUNK.samples_uv)


def test_unknown_lead_is_named_in_text() -> None:
    """A lead with no MDC code (say "CM5") is still valid, named in the code's text."""
    ours = ecg_observation(CTX, EcgChunk("A12", 0, 0.0, "CM5", 250.0, (1, 2.5, -3)))
    validate(ours)
    assert ours["component"][0]["code"] == {"text": "CM5"}
    assert ours["component"][0]["valueSampledData"]["data"] == "1 2.5 -3"


def test_bundle_of_one_second() -> None:
    """Numerics, ECG and approach in one valid collection Bundle; references resolve inside."""
    b = bundle_second(CTX, "A12", 5, 5.0, FULL, [CHUNK], Approach("zjpph", 30.28, 120.16, 540.0))
    Bundle.model_validate(b)
    validate_r4(b)
    resources = [e["resource"] for e in b["entry"]]
    for r in resources:
        validate(r)
    assert b["type"] == "collection"
    assert b["identifier"]["value"] == "A12/5/second"
    assert b["timestamp"] == "2023-11-15T06:13:25.000+08:00"
    assert [e["fullUrl"] for e in b["entry"]] == [f"urn:uuid:{r['id']}" for r in resources]
    assert len({r["id"] for r in resources}) == len(resources)
    assert all(r["identifier"][0]["value"].startswith("A12/5/") for r in resources)
    (loc,) = [r for r in resources if r["resourceType"] == "Location"]
    (enc,) = [r for r in resources if r["resourceType"] == "Encounter"]
    assert loc["position"] == {"longitude": 120.16, "latitude": 30.28}
    here, there = enc["location"]
    assert here["location"]["reference"] == f"urn:uuid:{loc['id']}"
    assert there["status"] == "planned"
    assert there["period"]["start"] == "2023-11-15T06:22:25.000+08:00"  # 9 min ETA
    assert there["location"]["identifier"]["value"] == "zjpph"


def test_ids_are_stable_and_distinct() -> None:
    """The same second gives the same ids (de-duplication); the next seq and incident differ."""
    one = bundle_second(CTX, "A12", 5, 5.0, FULL)
    again = bundle_second(CTX, "A12", 5, 5.0, FULL)
    assert one == again
    later = Numerics("A12", 6, 6.0, hr=44)
    nxt = bundle_second(CTX, "A12", 6, 6.0, later)
    other = StreamContext(patient_pseudonym("incident-2", b"k" * 32))
    elsewhere = bundle_second(other, "A12", 5, 5.0, FULL)
    ids = {e["resource"]["id"] for e in one["entry"]}
    assert ids.isdisjoint(e["resource"]["id"] for e in nxt["entry"])
    assert ids.isdisjoint(e["resource"]["id"] for e in elsewhere["entry"])


def test_subject_is_pseudonymous() -> None:
    """The subject is Patient/<HMAC of the incident>: stable, no name, needs a real secret."""
    pid = patient_pseudonym("incident-1", b"k" * 32)
    assert pid == CTX.patient_id and len(pid) == 32
    assert patient_pseudonym("incident-2", b"k" * 32) != pid
    (hr,) = numerics_observations(CTX, Numerics("A12", 0, 0.0, hr=70))
    assert hr["subject"]["reference"] == f"Patient/{pid}"
    assert "display" not in hr["subject"]
    with pytest.raises(InvalidArgument):
        patient_pseudonym("incident-1", b"short")
    with pytest.raises(InvalidArgument):
        StreamContext("Zhang San")


def test_effective_time_follows_the_epoch() -> None:
    """at_s 5 with epoch 0 and no offset is 1970-01-01T00:00:05.000+00:00."""
    (hr,) = numerics_observations(StreamContext("p1"), Numerics("A12", 0, 5.0, hr=70))
    assert hr["effectiveDateTime"] == "1970-01-01T00:00:05.000+00:00"


def test_bundle_refuses_foreign_samples() -> None:
    """A sample from another unit or another second does not belong in this Bundle."""
    with pytest.raises(InvalidArgument):
        bundle_second(CTX, "B7", 5, 5.0, FULL)
    with pytest.raises(InvalidArgument):
        bundle_second(CTX, "A12", 6, 6.0, FULL)
    with pytest.raises(InvalidArgument):
        bundle_second(CTX, "A/12", 5, 5.0)
    with pytest.raises(InvalidArgument):
        Approach("zjpph", 95.0, 120.0, 60.0)
