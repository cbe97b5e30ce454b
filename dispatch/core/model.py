"""The dispatch vocabulary: ids, triage, unit and incident states, and the NEMSIS timeline.

Plain values only. The engine (`dispatch.core.engine`) owns the state machine over them; the shell
serialises them. Timeline steps carry the NEMSIS v3.5 eTimes element they mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import NewType, Protocol

from routing.snap import RoadPosition

IncidentId = NewType("IncidentId", str)
UnitId = NewType("UnitId", str)
CallId = NewType("CallId", str)


class Priority(IntEnum):
    """P1 immediately life-threatening (cardiac arrest), P2 urgent, P3 non-urgent."""

    P1 = 1
    P2 = 2
    P3 = 3


class Complaint(StrEnum):
    CARDIAC_ARREST = "cardiac_arrest"
    CHEST_PAIN = "chest_pain"
    STROKE = "stroke"
    TRAUMA = "trauma"
    BREATHING = "breathing"
    OBSTETRIC = "obstetric"
    PAEDIATRIC = "paediatric"
    OTHER = "other"


class Capability(StrEnum):
    ALS = "als"  # advanced life support: a doctor or paramedic, drugs, defibrillator, airway
    BLS = "bls"  # basic life support


class UnitStatus(StrEnum):
    AVAILABLE_AT_STATION = "available_at_station"
    AVAILABLE_ON_ROAD = "available_on_road"
    ASSIGNED = "assigned"  # offered or acknowledged, not yet moving
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"  # clearing: can take a new job, a little later
    OUT_OF_SERVICE = "out_of_service"


#: Statuses in which a unit may be recommended for a new incident.
DISPATCHABLE = frozenset(
    {UnitStatus.AVAILABLE_AT_STATION, UnitStatus.AVAILABLE_ON_ROAD, UnitStatus.AT_HOSPITAL}
)


class Step(StrEnum):
    """Incident timeline steps, in order; the value is the NEMSIS eTimes element they mean."""

    CALL_RECEIVED = "eTimes.01"  # PSAP call date/time
    LOCATED = "jijiu.located"  # first location estimate (no NEMSIS element)
    TRIAGED = "jijiu.triaged"  # priority and complaint set (no NEMSIS element)
    UNIT_NOTIFIED = "eTimes.03"  # unit notified by dispatch
    UNIT_ACKNOWLEDGED = "eTimes.04"  # dispatch acknowledged
    EN_ROUTE = "eTimes.05"  # unit en route
    ON_SCENE = "eTimes.06"  # unit arrived on scene
    LEFT_SCENE = "eTimes.09"  # unit left scene (transporting)
    AT_DESTINATION = "eTimes.11"  # patient arrived at destination
    TRANSFER_OF_CARE = "eTimes.12"  # destination patient transfer of care
    BACK_IN_SERVICE = "eTimes.13"  # unit back in service
    CANCELLED = "jijiu.cancelled"
    CLOSED = "jijiu.closed"


#: The order of the active steps; an incident moves forward along it (skips allowed where the
#: engine says so), never back.
ORDER: tuple[Step, ...] = (
    Step.CALL_RECEIVED,
    Step.LOCATED,
    Step.TRIAGED,
    Step.UNIT_NOTIFIED,
    Step.UNIT_ACKNOWLEDGED,
    Step.EN_ROUTE,
    Step.ON_SCENE,
    Step.LEFT_SCENE,
    Step.AT_DESTINATION,
    Step.TRANSFER_OF_CARE,
    Step.BACK_IN_SERVICE,
    Step.CLOSED,
)


@dataclass(frozen=True)
class Place:
    """Where an incident is (or a unit stands): WGS-84 point and a 95 % radius in metres."""

    lat: float
    lon: float
    radius95_m: float = 0.0


class UnitLike(Protocol):
    """What recommendation reads of a unit; the engine's own units qualify (no copy per call)."""

    @property
    def unit_id(self) -> UnitId: ...
    @property
    def capability(self) -> Capability: ...
    @property
    def status(self) -> UnitStatus: ...
    @property
    def position(self) -> RoadPosition: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def free_at_s(self) -> float: ...


@dataclass(frozen=True)
class UnitView:
    """What recommendation needs to know of a unit: who, what it can do, where, how busy."""

    unit_id: UnitId
    capability: Capability
    status: UnitStatus
    position: RoadPosition  # snapped onto the road network
    lat: float
    lon: float
    free_at_s: float = 0.0  # a unit clearing at hospital: when it expects to be free (absolute)
    position_at_s: float | None = None  # when its position was observed; None: not known


@dataclass(frozen=True)
class IncidentView:
    """What recommendation needs to know of an incident."""

    incident_id: IncidentId
    priority: Priority
    complaint: Complaint
    position: RoadPosition
    lat: float
    lon: float
    received_at_s: float
