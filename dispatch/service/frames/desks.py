"""The desks' frames to the console: CPR volunteers' call-outs, partner agencies' flags and
notes, and mass-casualty plans and boards (dispatch/desks/)."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from aed_map.alerts import EndReason, Role, VolunteerStatus
from aed_map.mci import Triage
from dispatch.core.eido import IncidentType
from dispatch.core.mci_plan import Stage
from dispatch.service.frames.common import CLOSED


# --- volunteers ---------------------------------------------------------------------------
@with_config(CLOSED)
class AlertCounts(TypedDict):
    """How many alerts of a call-out are in each status (every status, zeros included)."""

    alerted: int
    accepted: int
    declined: int
    en_route: int
    with_aed: int
    on_scene: int
    cancelled: int


@with_config(CLOSED)
class VolunteerRow(TypedDict):
    """One alerted volunteer as the dispatcher sees it: no phone, no name."""

    volunteer_id: str
    status: VolunteerStatus
    role: Role
    aed_id: str | None
    distance_m: int
    ended: EndReason | None


@with_config(CLOSED)
class VolunteersStatus(TypedDict):
    """A call-out changed: its radius, assumed ETA, density, roles and every alert."""

    type: Literal["volunteers.status"]
    incident_id: str
    called_out: bool
    radius_m: int | None
    ambulance_eta_s: int | None
    density_per_km2: float | None
    note: str
    counts: AlertCounts
    volunteers: list[VolunteerRow]


# --- agencies -----------------------------------------------------------------------------
@with_config(CLOSED)
class AgencyNoteEntry(TypedDict):
    """A note on a flagged incident: by an agency or by the dispatcher (`jijiu.ems`)."""

    author: str
    text: str
    at: str  # ISO 8601, UTC


@with_config(CLOSED)
class AgencyFlagged(TypedDict):
    """An incident was flagged for agencies (or its flag changed)."""

    type: Literal["agency.flagged"]
    incident_id: str
    incident_type: IncidentType | None
    agencies: list[str]
    notes: list[AgencyNoteEntry]


@with_config(CLOSED)
class AgencyUnflagged(TypedDict):
    """An agency no longer follows the incident."""

    type: Literal["agency.unflagged"]
    incident_id: str
    agency_id: str


@with_config(CLOSED)
class AgencyNote(TypedDict):
    """An agency wrote a note on a flagged incident (`at_s`: engine time)."""

    type: Literal["agency.note"]
    incident_id: str
    agency_id: str
    text: str
    at_s: float


# --- mass-casualty incidents --------------------------------------------------------------
@with_config(CLOSED)
class Colours(TypedDict):
    """Patients by transported triage colour."""

    red: int
    yellow: int
    green: int


@with_config(CLOSED)
class DeclaredCounts(TypedDict):
    """The casualties declared, by triage colour."""

    red: int
    yellow: int
    green: int
    black: int


@with_config(CLOSED)
class PlanLine(TypedDict):
    """`count` patients of `colour` to one hospital, `overflow` of them beyond capacity."""

    colour: Triage
    hospital_id: str
    name: str
    count: int
    overflow: int
    eta_s: int
    explanation: str


@with_config(CLOSED)
class Plan(TypedDict):
    """Where the patients go; `unplaced` found no capable hospital reachable."""

    lines: list[PlanLine]
    overflow: bool
    cost: int
    unplaced: dict[str, int]
    not_transported: int


@with_config(CLOSED)
class Capacity(TypedDict):
    """A hospital's places for this MCI (reds only in trauma centres)."""

    hospital_id: str
    name: str
    eta_s: float | None
    ed: bool
    trauma: bool
    red: int
    total: int
    occupancy: float
    reported: bool


@with_config(CLOSED)
class MciChild(TypedDict):
    """One patient of the MCI, an incident of its own."""

    incident_id: str
    colour: Triage | None
    hospital_id: str | None
    stage: Stage
    unit_id: str | None


@with_config(CLOSED)
class BoardRow(TypedDict):
    """One hospital's patients of the MCI, by stage and colour."""

    hospital_id: str
    planned: Colours
    dispatched: Colours
    transporting: Colours
    arrived: Colours
    transported: int


@with_config(CLOSED)
class Board(TypedDict):
    """The MCI's board: per hospital, the patients pending a unit, those ended on scene."""

    incident_id: str
    hospitals: list[BoardRow]
    pending: Colours
    children: int
    not_transported: int
    cancelled: int


@with_config(CLOSED)
class MciPlan(TypedDict):
    """An MCI was declared (or declared again): the plan, capacities, children and board."""

    type: Literal["mci.plan"]
    incident_id: str
    counts: DeclaredCounts
    plan: Plan
    capacities: list[Capacity]
    declared_at_s: float
    children: list[MciChild]
    board: Board


@with_config(CLOSED)
class DispatchedChild(TypedDict):
    """A patient made an incident and given a unit (None: none was left) and a hospital."""

    incident_id: str
    colour: Triage
    unit_id: str | None
    hospital_id: str


@with_config(CLOSED)
class MciDispatched(TypedDict):
    """Units were sent to the next planned patients."""

    type: Literal["mci.dispatched"]
    incident_id: str
    children: list[DispatchedChild]


@with_config(CLOSED)
class MciBoard(TypedDict):
    """The board again (coalesced per MCI) after a child stepped, moved or was re-routed."""

    type: Literal["mci.board"]
    incident_id: str
    hospitals: list[BoardRow]
    pending: Colours
    children: int
    not_transported: int
    cancelled: int
