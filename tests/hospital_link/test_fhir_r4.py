"""The R4 check itself: it passes the official R4 examples and refuses what R4 does not allow.

Each broken resource is one of ours with one fault, so a check that accepted anything, or one
run against R5 shapes, would fail here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hospital_link.fhir import StreamContext, numerics_observations
from hospital_link.notice import inbound_bundle
from hospital_link.vitals import Numerics
from tests.support.fhir_r4 import FHIRValidationError, validate_r4

CTX = StreamContext("p1", epoch_unix_s=1.7e9, utc_offset_min=480)


def heart_rate() -> dict[str, Any]:
    """Our heart-rate Observation, 70/min: valid R4 as it is."""
    (hr,) = numerics_observations(CTX, Numerics("A12", 0, 5.0, hr=70))
    return hr


def inbound() -> dict[str, Any]:
    """Our patient.inbound Bundle for a P1 stroke: Patient, Encounter, ServiceRequest."""
    return inbound_bundle(
        CTX,
        incident_id="I1",
        hospital_id="zjpph",
        unit_id="A12",
        at_s=5.0,
        priority=1,
        complaint="stroke",
        eta_s=540.0,
        age_band=None,
        sex="female",
        activation_team="stroke",
        activation_reasons=["stroke: pre-alert the stroke team"],
    )


def encounter_of(bundle: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = [e["resource"] for e in bundle["entry"]]
    (enc,) = [r for r in found if r["resourceType"] == "Encounter"]
    return enc


def no_status(r: dict[str, Any]) -> None:
    del r["status"]


def value_as_text(r: dict[str, Any]) -> None:
    r["valueQuantity"]["value"] = "70"


def unknown_element(r: dict[str, Any]) -> None:
    r["valueQuantity"]["units"] = "beats/minute"


def time_without_zone(r: dict[str, Any]) -> None:
    r["effectiveDateTime"] = "2023-11-15T06:13:25"  # R4: a time needs its offset


def one_category(r: dict[str, Any]) -> None:
    r["category"] = r["category"][0]  # 0..* in R4: a list even of one


def unknown_type(r: dict[str, Any]) -> None:
    r["resourceType"] = "Observaton"


def encounter_without_class(b: dict[str, Any]) -> None:
    del encounter_of(b)["class"]  # 1..1 in R4


def encounter_class_as_in_r5(b: dict[str, Any]) -> None:
    enc = encounter_of(b)
    enc["class"] = [{"coding": [enc["class"]]}]  # R5: a list of CodeableConcept


def bundle_without_type(b: dict[str, Any]) -> None:
    del b["type"]


@pytest.mark.parametrize(
    ("make", "break_it", "message"),
    [
        (heart_rate, no_status, 'property "status" on .* is missing'),
        (heart_rate, value_as_text, r"Wrong type <class 'str'> for property \"value\""),
        (heart_rate, unknown_element, 'Superfluous entry "units"'),
        (heart_rate, time_without_zone, "effectiveDateTime:\\s+does not match expected format"),
        (heart_rate, one_category, 'for list property "category"'),
        (heart_rate, unknown_type, "Superfluous entry"),
        (inbound, encounter_without_class, 'property "class" on .* is missing'),
        (inbound, encounter_class_as_in_r5, 'class_fhir.0:\\s+Superfluous entry "coding"'),
        (inbound, bundle_without_type, 'property "type" on .* is missing'),
    ],
)
def test_a_broken_resource_is_refused(
    make: Callable[[], dict[str, Any]], break_it: Callable[[dict[str, Any]], None], message: str
) -> None:
    """One fault (missing required, wrong type or shape, unknown element) fails the R4 check."""
    whole = make()
    validate_r4(whole)  # valid before the fault
    broken = copy.deepcopy(whole)
    break_it(broken)
    with pytest.raises(FHIRValidationError, match=message):
        validate_r4(broken)


def test_a_resource_type_r4_lacks_is_refused() -> None:
    """A resourceType R4 does not define, even with nothing else wrong, is refused."""
    with pytest.raises(FHIRValidationError, match="not an R4 resource type"):
        validate_r4({"resourceType": "Vitals", "id": "x"})


def test_the_official_r4_examples_pass(golden_dir: Path) -> None:
    """The seven R4 4.0.1 example Observations in tests/data/fhir_r4_vitals pass unchanged."""
    files = sorted(golden_dir.glob("*.json"))
    assert len(files) == 7
    for path in files:
        example = json.loads(path.read_text(encoding="utf-8"))
        assert validate_r4(example).resource_type == "Observation"
