"""The EIDO-style document an agency sees: the standard's components, and nothing medical."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dispatch.core.eido import (
    AGENCIES,
    OWNER,
    AgencyNote,
    AgencyUnit,
    AgencyView,
    IncidentType,
    render,
)
from dispatch.core.model import Step

AT = datetime(2026, 5, 1, 8, 30, 0, tzinfo=UTC)

#: A taken incident: one ALS unit en route, flagged for police and fire, two notes.
VIEW = AgencyView(
    incident_id="I3f2a9c01b4",
    incident_type=IncidentType.TRAFFIC_COLLISION,
    priority=1,
    step=Step.EN_ROUTE,
    cancelled=False,
    lat=30.2803,
    lon=120.1465,
    radius95_m=23.46,
    description="文三路与学院路交叉口附近，约 20 米",
    units=(AgencyUnit("ALS01", "als", "en_route"),),
    agencies=("fire", "police"),
    notes=(
        AgencyNote(0, OWNER, "two cars, lane 2 blocked", AT),
        AgencyNote(1, "police", "road closed eastbound", AT + timedelta(minutes=2)),
    ),
    updated_at=AT + timedelta(minutes=3),
)


def test_the_document_has_the_eido_components_with_the_incident_in_them() -> None:
    """Prologue, incident type and status, the 95 % circle, agencies, the unit, the notes."""
    doc = render(VIEW, "updated")
    assert doc["$id"] == "urn:emergency:uid:incidentid:I3f2a9c01b4:jijiu.ems"
    assert doc["eidoVersion"] == "1.0" and doc["reasonForIssueRegistryText"] == "updated"
    assert doc["lastUpdateTimeStamp"] == "2026-05-01T08:33:00.000+00:00"
    incident = doc["incidentComponent"]
    assert incident["incidentTypeCommonRegistryText"] == "Traffic"
    assert incident["incidentStatusCommonRegistryText"] == ["Enroute"]
    assert incident["incidentPriorityInternalText"] == "P1"
    (place,) = doc["locationComponent"]
    assert place["locationDescriptionText"] == "文三路与学院路交叉口附近，约 20 米"
    assert place["locationByValue"] == {
        "shape": "Circle",
        "latitude": 30.2803,
        "longitude": 120.1465,
        "radiusMeters": 23.5,
        "confidencePercent": 95,
    }
    assert incident["locationReference"] == [{"$ref": place["$id"]}]
    owner, fire, police = doc["agencyComponent"]
    assert owner["$id"] == OWNER and owner["incidentOwningAgencyIndicator"] is True
    assert (fire["$id"], police["$id"]) == ("fire", "police")
    assert police["agencyType"] == list(AGENCIES["police"])
    (unit,) = doc["emergencyResourceComponent"]
    assert unit["emergencyResourceName"] == "ALS01"
    assert unit["primaryUnitStatusRegistryText"] == "Enroute"
    assert unit["resourceAttributeRegistryText"] == ["ALS"]
    notes = doc["notesComponent"]
    assert [n["notesActionComments"] for n in notes] == [
        "two cars, lane 2 blocked",
        "road closed eastbound",
    ]
    assert [n["updatedByAgencyReference"]["$ref"] for n in notes] == [OWNER, "police"]
    assert incident["notesReference"] == [{"$ref": n["$id"]} for n in notes]


@pytest.mark.parametrize(
    ("step", "cancelled", "status"),
    [
        (Step.LOCATED, False, "Received"),
        (Step.UNIT_NOTIFIED, False, "Dispatched"),
        (Step.ON_SCENE, False, "OnScene"),
        (Step.LEFT_SCENE, False, "Transporting"),
        (Step.CLOSED, False, "Closed"),
        (Step.CLOSED, True, "Cancelled"),
    ],
)
def test_the_status_follows_the_timeline(step: Step, cancelled: bool, status: str) -> None:
    """Each NEMSIS step reads as one coarse incident status; a cancellation says so."""
    view = dataclasses.replace(VIEW, step=step, cancelled=cancelled)
    assert render(view, "updated")["incidentComponent"]["incidentStatusCommonRegistryText"] == [
        status
    ]


def test_a_unit_that_left_the_incident_reads_cleared() -> None:
    view = dataclasses.replace(VIEW, units=(AgencyUnit("BLS02", "bls", "cleared"),))
    (unit,) = render(view, "updated")["emergencyResourceComponent"]
    assert unit["primaryUnitStatusRegistryText"] == "Cleared"


def test_note_ids_are_stable_when_older_notes_are_left_out() -> None:
    """A document showing only the newest notes keeps each note's id."""
    view = dataclasses.replace(VIEW, notes=VIEW.notes[1:])
    (note,) = render(view, "note")["notesComponent"]
    assert note["$id"] == "I3f2a9c01b4:note:1"


def test_the_view_has_no_medical_field_at_all() -> None:
    """No field of the view, and no key of the document, names a medical or caller detail."""
    forbidden = {
        "complaint",
        "determinant",
        "vitals",
        "age_band",
        "sex",
        "phone",
        "caller_token",
        "destination",
        "hospital_id",
        "patient",
    }
    assert not forbidden & {f.name for f in dataclasses.fields(AgencyView)}
    text = json.dumps(render(VIEW, "updated")).lower()
    assert not [word for word in forbidden if word in text]


def test_timestamps_keep_their_offset_and_a_naive_time_is_refused() -> None:
    shanghai = timezone(timedelta(hours=8))
    view = dataclasses.replace(VIEW, updated_at=AT.astimezone(shanghai))
    assert render(view, "updated")["lastUpdateTimeStamp"] == "2026-05-01T16:30:00.000+08:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(VIEW, updated_at=datetime(2026, 5, 1, 8, 30))
