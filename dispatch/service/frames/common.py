"""What several sockets' frames share: the hub's envelope, replies, places and views.

Frames are `TypedDict`s, so the code that builds a frame can name its type and pydantic can
derive the JSON Schema from the same declaration (`dispatch.service.frames.schemas`). A frame
is closed (`extra="forbid"`, every field declared) unless its payload is open by design: a
FHIR Bundle or an EIDO document is typed as a JSON object.

A frame the hub publishes also carries `seq` (per topic, strictly increasing) and `topic`;
those are the `Envelope`, added by the schema builder to every live frame of a socket, never
to its `snapshot` or to a reply (`accepted`, `error`), which are written straight to the
socket.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from dispatch.core.model import Capability, Complaint, Step, UnitStatus

CLOSED = ConfigDict(extra="forbid")

#: A JSON object whose keys are open by design (a FHIR R4 resource, an EIDO document).
JsonObject = dict[str, Any]


@with_config(CLOSED)
class Envelope(TypedDict):
    """What the hub adds to every frame it publishes (dispatch/live/hub.py)."""

    seq: int
    topic: str


@with_config(CLOSED)
class ErrorFrame(TypedDict):
    """The reply to a client frame that was malformed or refused; the socket stays open."""

    type: Literal["error"]
    reason: str  # machine reason: malformed_frame, invalid_event, read_only, ...
    detail: NotRequired[str]  # human text (absent for internal_error)


@with_config(CLOSED)
class Conflict(TypedDict):
    """The location alarm: sources that cannot all be true, how far apart, what to ask."""

    sources: list[str]
    distance_m: float | None  # None for a call's logged flag after a restart
    message: str


@with_config(CLOSED)
class Place(TypedDict):
    """An incident's place: point, 95 % radius and the read-back line."""

    lat: float
    lon: float
    radius95_m: float
    description: str


@with_config(CLOSED)
class Estimate(TypedDict):
    """A fused location estimate as the console sees it, with its conflict alarm."""

    lat: float
    lon: float
    radius95_m: float
    description: str
    conflict: Conflict | None


@with_config(CLOSED)
class TimelineEntry(TypedDict):
    """One NEMSIS eTimes step of an incident, at engine time `at_s`."""

    step: Step
    name: str  # the step's name in lower case ("unit_acknowledged")
    at_s: float


@with_config(CLOSED)
class UnitView(TypedDict):
    """A unit as the console and its tablet see it."""

    unit_id: str
    capability: Capability
    status: UnitStatus
    lat: float
    lon: float
    incident_id: str | None
    # When its position was observed (engine time; None: not known), how accurate (metres;
    # None: not said), and whether it is older than `JIJIU_UNIT_STALE_S` now.
    position_at_s: float | None
    accuracy_m: float | None
    stale: bool


@with_config(CLOSED)
class UnitChanged(TypedDict):
    """A unit's status changed (console and that unit's tablet)."""

    type: Literal["unit.changed"]
    unit_id: str
    status: UnitStatus
    incident_id: str | None


@with_config(CLOSED)
class Activation(TypedDict):
    """The team a receiving hospital is advised to pre-alert, and why."""

    team: Literal["stroke", "stemi", "trauma", "none"]
    reasons: list[str]


@with_config(CLOSED)
class Inbound(TypedDict):
    """What a receiving hospital is told of a patient (snapshot entry and `patient.inbound`)."""

    incident_id: str
    priority: int
    complaint: Complaint
    unit_id: str | None
    eta_s: float | None
    age_band: str | None
    sex: str | None
    activation: Activation
    acknowledged_at_s: float | None
    fhir: JsonObject  # a FHIR R4 Bundle


__all__ = [
    "CLOSED",
    "Activation",
    "Conflict",
    "Envelope",
    "ErrorFrame",
    "Estimate",
    "Inbound",
    "JsonObject",
    "Place",
    "TimelineEntry",
    "UnitChanged",
    "UnitView",
]
