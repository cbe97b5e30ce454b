"""A CPR volunteer's socket, `/ws/volunteers/{volunteer_id}`: a snapshot, the frames of topic
"volunteer:<id>" (the place only while an accepted alert lives, else null), the replies, and
what the volunteer's phone sends."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from aed_map.alerts import Role, VolunteerStatus
from dispatch.service.frames.common import CLOSED


@with_config(CLOSED)
class AedToFetch(TypedDict):
    """The AED the fetcher is sent for."""

    location: str
    lat: float
    lon: float


@with_config(CLOSED)
class AlertView(TypedDict):
    """One alert as the volunteer's phone shows it; the place only once accepted."""

    incident_id: str
    status: VolunteerStatus
    message: str  # Chinese, for the screen
    distance_m: int | None  # straight line, rounded up to 100 m, while the alert lives
    address: str | None
    lat: float | None
    lon: float | None
    access_hint: str | None
    role: Role
    aed: AedToFetch | None


@with_config(CLOSED)
class Position(TypedDict):
    """The volunteer's last reported position."""

    lat: float
    lon: float
    reported_at_s: float


@with_config(CLOSED)
class VolunteerState(TypedDict):
    """What a volunteer sees of themself, as `GET /api/v1/volunteers/me` answers."""

    volunteer_id: str
    display_name: str | None
    cpr_verified: bool
    on_duty: bool
    consent_expires_in_s: int
    position: Position | None
    alerts: list[AlertView]


@with_config(CLOSED)
class VolunteerSnapshot(TypedDict):
    """The first frame: the volunteer's state and live alerts."""

    type: Literal["snapshot"]
    last_seq: int
    volunteer: VolunteerState


@with_config(CLOSED)
class VolunteerAlert(AlertView):
    """Alerted to a suspected cardiac arrest nearby: a distance, no address."""

    type: Literal["volunteer.alert"]


@with_config(CLOSED)
class VolunteerUpdate(AlertView):
    """The volunteer's own answer, a new role, or the incident moved."""

    type: Literal["volunteer.update"]


@with_config(CLOSED)
class VolunteerEnded(AlertView):
    """The alert is over (declined, withdrawn, ambulance arrived, cancelled, no answer)."""

    type: Literal["volunteer.ended"]
    reason: str  # an EndReason, or the final status (declined)


VolunteerFrame = VolunteerAlert | VolunteerUpdate | VolunteerEnded


# --- replies ------------------------------------------------------------------------------
Answer = Literal["accept", "decline", "en_route", "with_aed", "on_scene", "withdraw"]


@with_config(CLOSED)
class VolunteerAcceptedAnswer(TypedDict):
    """An answer to an alert is logged: the alert's status and role now."""

    type: Literal["accepted"]
    frame: Answer
    incident_id: str
    status: VolunteerStatus
    role: Role


@with_config(CLOSED)
class VolunteerAcceptedDuty(TypedDict):
    """On or off duty, with the consent left."""

    type: Literal["accepted"]
    frame: Literal["duty"]
    on_duty: bool
    consent_expires_in_s: int


@with_config(CLOSED)
class VolunteerAcceptedLocation(TypedDict):
    """The position is kept (in memory)."""

    type: Literal["accepted"]
    frame: Literal["location"]


VolunteerAccepted = VolunteerAcceptedAnswer | VolunteerAcceptedDuty | VolunteerAcceptedLocation


# --- what the volunteer sends -------------------------------------------------------------
@with_config(CLOSED)
class VolunteerAnswer(TypedDict):
    """An answer to an alert: accept, decline, en_route, with_aed, on_scene or withdraw."""

    type: Answer
    incident_id: str


@with_config(CLOSED)
class VolunteerDuty(TypedDict):
    """Go on duty with a consent to use the position for `consent_expires_in_s`, or off."""

    type: Literal["duty"]
    on_duty: bool
    consent_expires_in_s: NotRequired[float]


@with_config(CLOSED)
class VolunteerLocation(TypedDict):
    """The phone's position."""

    type: Literal["location"]
    lat: float
    lon: float


VolunteerSends = VolunteerAnswer | VolunteerDuty | VolunteerLocation
