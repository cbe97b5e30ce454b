"""The auto-destination rule (`dispatch.core.destination`) on hand-made hospitals, no I/O.

Three hospitals with no status report (each assumed 30 min offload, so road ETA decides): A has
only an ED 5 min away, B a thrombectomy centre 10 min away, C another 12 min away.
"""

from __future__ import annotations

import math

from dispatch.core import events as ev
from dispatch.core.destination import auto_destination
from dispatch.core.engine import Incident
from dispatch.core.model import Complaint, IncidentId, Priority, Step
from hospital_link.registry import Capability, Registry
from routing.snap import RoadPosition
from tests.support.hospitals import hospital

REGISTRY = Registry(
    (hospital("a"), hospital("b", Capability.STROKE), hospital("c", Capability.STROKE))
)
TRAVEL_S = {"a": 300.0, "b": 600.0, "c": 720.0}


def incident(complaint: Complaint, destination: str | None = None) -> Incident:
    """An open P2 incident at a dummy road position, its patient leaving the scene."""
    return Incident(
        IncidentId("I1"),
        30.28,
        120.16,
        50.0,
        RoadPosition(0, 0.5, 1.0, 120.16, 30.28),
        Priority.P2,
        complaint,
        timeline={Step.CALL_RECEIVED: 0.0, Step.LEFT_SCENE: 900.0},
        destination=destination,
    )


def test_stroke_goes_to_the_nearest_thrombectomy_centre_by_auto() -> None:
    """A stroke skips A (ED only, nearer) for B, the nearer of the two stroke centres."""
    chosen = auto_destination(incident(Complaint.STROKE), REGISTRY, TRAVEL_S, 1000.0)
    assert chosen is not None
    assert (chosen.incident_id, chosen.hospital_id, chosen.by) == ("I1", "b", "auto")


def test_the_reason_is_the_rankings_own_words() -> None:
    """The logged reason says the capability needed and B's road time, within the text limit."""
    chosen = auto_destination(incident(Complaint.STROKE), REGISTRY, TRAVEL_S, 1000.0)
    assert chosen is not None
    assert chosen.reason.startswith("stroke → thrombectomy centre")
    assert "Hospital B: 10 min by road" in chosen.reason
    assert 0 < len(chosen.reason) <= ev.MAX_TEXT


def test_other_complaints_go_to_the_nearest_ed() -> None:
    """Any ED serves "other": A, 5 min away, wins."""
    chosen = auto_destination(incident(Complaint.OTHER), REGISTRY, TRAVEL_S, 1000.0)
    assert chosen is not None and chosen.hospital_id == "a"


def test_an_unreachable_hospital_is_never_chosen() -> None:
    """With B off the road network (infinite ETA), the stroke goes to C."""
    travel = {**TRAVEL_S, "b": math.inf}
    chosen = auto_destination(incident(Complaint.STROKE), REGISTRY, travel, 1000.0)
    assert chosen is not None and chosen.hospital_id == "c"


def test_none_when_a_destination_is_already_chosen() -> None:
    """A dispatcher's or crew's choice stands: nothing to apply."""
    chosen = auto_destination(incident(Complaint.STROKE, "c"), REGISTRY, TRAVEL_S, 1000.0)
    assert chosen is None


def test_none_when_no_hospital_is_reachable() -> None:
    """No hospital reachable at all: nothing to apply, no error."""
    travel = dict.fromkeys(TRAVEL_S, math.inf)
    assert auto_destination(incident(Complaint.STROKE), REGISTRY, travel, 1000.0) is None
