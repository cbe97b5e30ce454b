"""The event codec: every event survives a JSON round trip; malformed records are refused."""

from __future__ import annotations

import json

import pytest

from dispatch.core import events as ev
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, UnitId, UnitStatus
from dispatch.errors import InvalidEvent
from dispatch.store import codec

SAMPLES: list[ev.Event] = [
    ev.CallReceived(IncidentId("I1"), 30.28, 120.14, 20.0, Complaint.STROKE),
    ev.CallReceived(IncidentId("I2"), 30.28, 120.14, 0.0),
    ev.CallReceived(IncidentId("I3"), 30.28, 120.14, 480.0, None, "", conflict=True),
    ev.IncidentLocated(IncidentId("I1"), 30.281, 120.141, 35.5),
    ev.IncidentTriaged(IncidentId("I1"), Priority.P1, Complaint.CARDIAC_ARREST, "09E01"),
    ev.UnitRegistered(UnitId("A1"), Capability.ALS, 30.2, 120.1, ("tablet", "driver")),
    ev.UnitPositionReported(UnitId("A1"), 30.21, 120.11),
    ev.UnitAssigned(IncidentId("I1"), UnitId("A1"), "auto"),
    ev.OfferAcknowledged(IncidentId("I1"), UnitId("A1"), "doctor"),
    ev.UnitStatusReported(UnitId("A1"), UnitStatus.EN_ROUTE),
    ev.HandoverCompleted(IncidentId("I1")),
    ev.DestinationChosen(IncidentId("I1"), "zjpph", "crew", "家属要求"),
    ev.HospitalAcknowledged(IncidentId("I1"), "zjpph"),
    ev.PatientDescribed(IncidentId("I1"), "65-79", None),
    ev.IncidentCancelled(IncidentId("I1"), "呼叫者取消"),
    ev.ClockTicked(),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event: ev.Event) -> None:
    """dumps then loads gives back an equal event, with enums as plain values in between."""
    text = codec.dumps(event)
    assert codec.loads(text) == event
    assert json.loads(text)["type"] == type(event).__name__


@pytest.mark.parametrize(
    "record",
    [
        "not json",
        "[]",
        '{"type": "Nope"}',
        '{"type": "UnitAssigned", "incident_id": "I1"}',
        '{"type": "UnitAssigned", "incident_id": "I1", "unit_id": "A1", "extra": 1}',
        '{"type": "IncidentTriaged", "incident_id": "I1", "priority": 7, "complaint": "other"}',
        '{"type": "CallReceived", "incident_id": "I1", "lat": 95, "lon": 120, "radius95_m": 5}',
        '{"type": "CallReceived", "incident_id": "I1", "lat": "30", "lon": 120, "radius95_m": 5}',
        '{"type": "UnitStatusReported", "unit_id": "A1", "status": "flying"}',
        '{"type": "CallReceived", "incident_id": "I1", "lat": 30, "lon": 120, "radius95_m": 5,'
        ' "conflict": 1}',
        '{"type": "PatientDescribed", "incident_id": "I1", "age_band": "old"}',
    ],
)
def test_malformed_records_are_refused(record: str) -> None:
    """Bad JSON, unknown types, missing or extra fields and bad values raise InvalidEvent."""
    with pytest.raises(InvalidEvent):
        codec.loads(record)
