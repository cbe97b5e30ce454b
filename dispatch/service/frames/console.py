"""The dispatcher's console socket, `/ws/console`: a snapshot, then the frames of topic
"console". The console sends no frames (any frame it sends gets a `read_only` error)."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.core.model import Capability, Complaint, Step
from dispatch.service.frames.common import (
    CLOSED,
    Conflict,
    Estimate,
    Place,
    TimelineEntry,
    UnitChanged,
    UnitView,
)
from dispatch.service.frames.desks import (
    AgencyFlagged,
    AgencyNote,
    AgencyUnflagged,
    MciBoard,
    MciDispatched,
    MciPlan,
    VolunteersStatus,
)
from hospital_link.registry import Capability as HospitalCapability
from hospital_link.registry import Freshness

LocationStatus = Literal["located", "off_road", "unlocated"]
#: How the call came: the app's one tap, or a phone call a call-taker typed in.
CallSource = Literal["app", "voice"]


@with_config(CLOSED)
class Note(TypedDict):
    """A note on an incident: when (engine time), who (None: the shared token) and what."""

    at_s: float
    person: str | None
    text: str


@with_config(CLOSED)
class CrewView(TypedDict):
    """One unit on an incident and its own steps (an incident may have several units)."""

    unit_id: str
    step: Step  # its latest step; back_in_service once it cleared
    timeline: list[TimelineEntry]


@with_config(CLOSED)
class IncidentView(TypedDict):
    """An open incident as `GET /api/v1/incidents/{id}` answers it (a snapshot entry)."""

    incident_id: str
    step: Step
    open: bool
    place: Place
    timeline: list[TimelineEntry]
    priority: int
    complaint: Complaint
    determinant: str
    unit_id: str | None
    offer_deadline_s: float | None
    acked_devices: list[str]
    # While an offer waits for its first device: when it was sent, and whether the dispatcher
    # should phone the crew (no device acknowledged within 30 s); None and false otherwise.
    offered_at_s: float | None
    call_crew: bool
    conflict: Conflict | None
    repeat_count: int  # calls again from its caller's phone (flood isolation)
    # not "located": held off the road network or unplaced, no recommendations and no
    # assignment (409) until a dispatcher places it by words or pin
    location_status: LocationStatus
    source: CallSource
    notes: list[Note]  # oldest first
    linked_to: str | None  # closed as a duplicate linked into this incident
    linked: list[str]  # the duplicates linked into this one: their callers follow its unit
    kept_apart: list[str]  # possible duplicates a dispatcher judged separate
    # When it is overdue waiting for a unit (engine time, its priority's limit after the
    # call; None once it has one), and whether it is now.
    overdue_at_s: float | None
    overdue: bool
    units: list[CrewView]  # every unit on it, first sent first (`unit_id`)


@with_config(CLOSED)
class ConsoleSnapshot(TypedDict):
    """The first frame: every open incident and every unit, stamped with the topic's seq."""

    type: Literal["snapshot"]
    last_seq: int
    incidents: list[IncidentView]
    units: list[UnitView]
    # seconds each priority ("1", "2", "3") may wait for a unit before its call is overdue
    overdue_s: dict[str, float]
    now_s: float  # the server's engine time when sent: ages of calls count from it


@with_config(CLOSED)
class CallReceived(TypedDict):
    """A call opened an incident; one not placed on a road is flagged for a dispatcher."""

    type: Literal["call.received"]
    incident_id: str
    estimate: Estimate  # "unlocated": the city's centre with a 100 km radius, a placeholder
    flood_suspected: bool
    priority: int
    complaint: Complaint
    # "off_road": the caller's point is off every road; "unlocated": nothing placed it. Either
    # waits for a dispatcher's words or pin (POST /api/v1/incidents/{id}/location).
    location_status: LocationStatus
    source: CallSource


@with_config(CLOSED)
class CallRepeated(TypedDict):
    """The phone of an open incident called again: counted on it, no new incident."""

    type: Literal["call.repeated"]
    incident_id: str
    repeat_count: int


@with_config(CLOSED)
class PhoneQuarantined(TypedDict):
    """A phone crossed the quarantine rate: one frame; its further calls send none."""

    type: Literal["phone.quarantined"]
    phone_hash: str  # the phone's keyed hash (never the number)
    calls_per_min: int


@with_config(CLOSED)
class PhoneReleased(TypedDict):
    """A dispatcher released a quarantined phone."""

    type: Literal["phone.released"]
    phone_hash: str
    by: str


@with_config(CLOSED)
class PositionsThrottled(TypedDict):
    """A unit or volunteer started sending positions above the limit: one frame per flood;
    its newest position still passes at the limit, the others are dropped and counted."""

    type: Literal["positions.throttled"]
    source: Literal["unit", "volunteer"]
    source_id: str
    limit_per_s: float


@with_config(CLOSED)
class CallFloodSuspected(TypedDict):
    """More calls a minute from one phone than the limit (the call is still taken)."""

    type: Literal["call.flood_suspected"]
    incident_id: str


@with_config(CLOSED)
class IncidentTriaged(TypedDict):
    """A dispatcher triaged (or re-triaged) the incident."""

    type: Literal["incident.triaged"]
    incident_id: str
    priority: int
    complaint: Complaint
    determinant: str


@with_config(CLOSED)
class IncidentStepped(TypedDict):
    """A timeline step (NEMSIS eTimes value) at engine time `at_s`."""

    type: Literal["incident.stepped"]
    incident_id: str
    step: Step
    at_s: float


@with_config(CLOSED)
class UnitOption(TypedDict):
    """One recommended unit with its ETA (clearing delay + driving) and reasons."""

    unit_id: str
    eta_s: float
    drive_s: float
    distance_m: float
    capability: Capability
    reasons: list[str]
    # Its position is older than `JIJIU_UNIT_STALE_S`: the ETA is from where it was then.
    stale_position: bool
    position_age_s: float | None  # None: the position's time is not known


@with_config(CLOSED)
class IncidentRecommended(TypedDict):
    """A new or changed recommendation, best first."""

    type: Literal["incident.recommended"]
    incident_id: str
    options: list[UnitOption]


@with_config(CLOSED)
class OfferSent(TypedDict):
    """A unit was offered the job, on all its devices at once, until `deadline_s`."""

    type: Literal["offer.sent"]
    incident_id: str
    unit_id: str
    devices: list[str]
    deadline_s: float | None
    by: str  # dispatcher, auto, escalation, mci


@with_config(CLOSED)
class OfferAcknowledged(TypedDict):
    """One more crew device acknowledged the job; `devices`: all that have so far, sorted."""

    type: Literal["offer.acknowledged"]
    incident_id: str
    unit_id: str
    device: str  # the name its token was given ("default": the unit's shared token)
    devices: list[str]


@with_config(CLOSED)
class OfferEscalated(TypedDict):
    """No acknowledgement in time: the offer moves on to the next unit (if any)."""

    type: Literal["offer.escalated"]
    incident_id: str
    unit_id: str
    next_unit_id: str | None


@with_config(CLOSED)
class UnitsMoved(TypedDict):
    """The units that moved since the last flush: `[unit_id, lat, lon]` rows."""

    type: Literal["units.moved"]
    units: list[tuple[str, float, float]]


@with_config(CLOSED)
class Swap(TypedDict):
    """A free unit that would reach the incident clearly sooner than the one on its way."""

    incident_id: str
    current_unit: str
    better_unit: str
    current_eta_s: float
    better_eta_s: float


@with_config(CLOSED)
class SwapSuggested(TypedDict):
    """A clearly closer unit became free."""

    type: Literal["swap.suggested"]
    swap: Swap


@with_config(CLOSED)
class UnitWithdrawn(TypedDict):
    """A dispatcher took a unit off an incident (unassigned, or reassigned or diverted to
    `to_incident_id`), with the reason; `requeued`: it was its last unit, back in the queue."""

    type: Literal["unit.withdrawn"]
    incident_id: str
    unit_id: str
    reason: str
    to_incident_id: str | None
    requeued: bool


@with_config(CLOSED)
class DivertSuggested(TypedDict):
    """An unassigned P1 with no free unit within the target: divert `unit_id` from its
    lower-priority incident, `gain_s` sooner than the best free unit (None: none free)."""

    type: Literal["divert.suggested"]
    incident_id: str
    unit_id: str
    from_incident_id: str
    from_priority: int
    eta_s: float
    free_eta_s: float | None
    gain_s: float | None


@with_config(CLOSED)
class DuplicateSuggested(TypedDict):
    """A call near open incidents: maybe the same emergency."""

    type: Literal["duplicate.suggested"]
    incident_id: str
    candidates: list[str]


@with_config(CLOSED)
class IncidentNote(TypedDict):
    """A note was added to an incident."""

    type: Literal["incident.note"]
    incident_id: str
    at_s: float
    person: str | None
    text: str


@with_config(CLOSED)
class IncidentLinked(TypedDict):
    """A duplicate (`incident_id`, now closed) was linked into `primary_id`; `linked`: every
    incident linked into the primary so far (their callers follow its unit)."""

    type: Literal["incident.linked"]
    incident_id: str
    primary_id: str
    linked: list[str]
    person: str | None


@with_config(CLOSED)
class DuplicateKeptApart(TypedDict):
    """A possible duplicate was judged a separate emergency: the suggestion is settled."""

    type: Literal["duplicate.kept_apart"]
    incident_id: str
    other_id: str
    person: str | None


@with_config(CLOSED)
class NearbyAed(TypedDict):
    """An open AED on foot from the incident, with directions to read to a bystander."""

    aed_id: str
    lat: float
    lon: float
    distance_m: int
    walk_s: int
    round_trip_s: int
    state: Literal["open", "unknown"]
    directions: str
    indoor: bool | None
    level: str
    location: str
    description: str
    operator: str
    source: str


@with_config(CLOSED)
class IncidentAeds(TypedDict):
    """A cardiac arrest: the nearest open AEDs, once per incident."""

    type: Literal["incident.aeds"]
    incident_id: str
    aeds: list[NearbyAed]


@with_config(CLOSED)
class DestinationChosen(TypedDict):
    """A hospital was chosen for the patient (an override is on record with its reason)."""

    type: Literal["destination.chosen"]
    incident_id: str
    hospital_id: str
    by: str  # dispatcher, crew, auto
    reason: str


@with_config(CLOSED)
class HospitalStatus(TypedDict):
    """A hospital's status now: its live report, or the defaults once it expired."""

    type: Literal["hospital.status"]
    hospital_id: str
    diverted: list[HospitalCapability]
    ed_occupancy: float | None
    offload_wait_min: float
    offload_assumed: bool
    freshness: Freshness
    reported_at_s: float | None


@with_config(CLOSED)
class HospitalAcknowledged(TypedDict):
    """The receiving hospital acknowledged its notice, `after_s` after it was routed there."""

    type: Literal["hospital.acknowledged"]
    incident_id: str
    hospital_id: str
    after_s: float


@with_config(CLOSED)
class HospitalAckOverdue(TypedDict):
    """No acknowledgement within `hospital_ack_s`: call the hospital."""

    type: Literal["hospital.ack_overdue"]
    incident_id: str
    hospital_id: str
    waited_s: float


@with_config(CLOSED)
class IncidentLocated(TypedDict):
    """The place changed (a caller's fix, the dispatcher's words or pin)."""

    type: Literal["incident.located"]
    incident_id: str
    estimate: Estimate
    by: Literal["caller", "dispatcher"]


@with_config(CLOSED)
class StoreDegraded(TypedDict):
    """The event log stopped acknowledging writes: a banner; reads go on from memory."""

    type: Literal["store.degraded"]
    reason: Literal["store_unavailable", "store_diverged", "standby"]
    retry_after_s: int  # what a refused write is told to wait


@with_config(CLOSED)
class StoreRestored(TypedDict):
    """The event log is back and checked: writes are acknowledged again."""

    type: Literal["store.restored"]
    outage_s: float
    refused_calls: int  # calls answered 503 during this outage


ConsoleFrame = (
    CallReceived
    | CallRepeated
    | PhoneQuarantined
    | PhoneReleased
    | PositionsThrottled
    | CallFloodSuspected
    | IncidentTriaged
    | IncidentStepped
    | IncidentRecommended
    | OfferSent
    | OfferAcknowledged
    | OfferEscalated
    | UnitChanged
    | UnitsMoved
    | SwapSuggested
    | UnitWithdrawn
    | DivertSuggested
    | DuplicateSuggested
    | IncidentNote
    | IncidentLinked
    | DuplicateKeptApart
    | IncidentAeds
    | DestinationChosen
    | HospitalStatus
    | HospitalAcknowledged
    | HospitalAckOverdue
    | IncidentLocated
    | VolunteersStatus
    | AgencyFlagged
    | AgencyUnflagged
    | AgencyNote
    | MciPlan
    | MciDispatched
    | MciBoard
    | StoreDegraded
    | StoreRestored
)

__all__ = ["ConsoleFrame", "ConsoleSnapshot"]
