"""A caller's socket, `/ws/calls/{incident_id}`: a snapshot and the frames of topic
"call:<incident_id>", never a unit id or crew identity; it ends once help is on scene. The
caller sends no frames (any frame gets a `read_only` error)."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.core.model import Step
from dispatch.service.frames.common import CLOSED, Place, TimelineEntry


@with_config(CLOSED)
class Approach(TypedDict):
    """Where the coming unit is and its driving ETA (None when no road joins them)."""

    lat: float
    lon: float
    eta_s: float | None


@with_config(CLOSED)
class CallerIncident(TypedDict):
    """The caller's incident: place, timeline and the coming unit (None when none comes)."""

    incident_id: str
    step: Step
    open: bool
    place: Place
    timeline: list[TimelineEntry]
    unit: Approach | None


@with_config(CLOSED)
class CallerSnapshot(TypedDict):
    """The first frame (the only one when help is there already)."""

    type: Literal["snapshot"]
    last_seq: int
    incident: CallerIncident


@with_config(CLOSED)
class CallerStepped(TypedDict):
    """A step of the caller's incident."""

    type: Literal["incident.stepped"]
    step: Step
    name: str
    at_s: float


@with_config(CLOSED)
class UnitApproaching(TypedDict):
    """The coming unit's position and ETA (coalesced, at most every `position_flush_s`)."""

    type: Literal["unit.approaching"]
    lat: float
    lon: float
    eta_s: float | None


CallerFrame = CallerStepped | UnitApproaching
