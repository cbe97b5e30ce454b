"""A mass-casualty incident's plan inputs and board: which hospital may take which triage colour
and how many, the distribution (`aed_map.mci.plan`), and how many patients each has been sent.

Pure: handed the hospitals with their live status and road ETA; no clock, no I/O.

Capability per colour. A red (immediate) patient needs a trauma centre: only hospitals with
trauma care, not diverted for trauma, are considered for reds, even over capacity. Yellow and
green need an emergency department: every hospital with an ED not on ED diversion. A hospital
lacking what a colour needs is never sent that colour; a diverted one counts as lacking it.

Capacity. In a declared major incident an ED takes patients up to `surge_occupancy` (120 %)
of its staffed beds, so a hospital has `floor(ed_beds * (surge_occupancy - occupancy))` places,
where occupancy is its live report (patients per staffed bed) or, with none that is current,
`assumed_occupancy` (a normally full ED). Of those, a trauma centre keeps `red_share` of its
ED beds (its resuscitation bays) for reds. Reds are planned first over the trauma centres;
what they take is subtracted before yellows and greens are planned over every ED, so a red
never loses a place to a green. Over capacity is planned only when every capable place is
taken, and each such line is flagged (`overflow`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aed_map.mci import TRANSPORTED, MciHospital, MciParams, MciPlan, PlanLine, Triage, plan
from dispatch.core.model import Priority, Step
from hospital_link.registry import Capability, CurrentStatus, Hospital

#: A patient's colour is the priority of its incident, and back.
COLOUR_PRIORITY: Mapping[Triage, Priority] = {
    Triage.RED: Priority.P1,
    Triage.YELLOW: Priority.P2,
    Triage.GREEN: Priority.P3,
}
PRIORITY_COLOUR: Mapping[Priority, Triage] = {p: c for c, p in COLOUR_PRIORITY.items()}


@dataclass(frozen=True)
class CapacityParams:
    surge_occupancy: float = 1.2  # patients per staffed ED bed a hospital takes in an MCI
    assumed_occupancy: float = 1.0  # no current report: a normally full ED
    red_share: float = 0.1  # of staffed ED beds, for reds at a trauma centre (resus bays)

    def __post_init__(self) -> None:
        for name in ("surge_occupancy", "assumed_occupancy", "red_share"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 5):
                raise ValueError(f"{name} must be a number in 0..5, got {v!r}")


@dataclass(frozen=True)
class Receiving:
    """A hospital as the plan sees it: what it is, what it reports, how far by road."""

    hospital: Hospital
    status: CurrentStatus
    eta_s: float  # from the scene to its door; inf when off the network


@dataclass(frozen=True)
class Capacity:
    hospital_id: str
    name: str
    eta_s: float
    ed: bool  # takes yellows and greens (an ED, not diverted)
    trauma: bool  # takes reds (trauma care, not diverted for it or for the ED)
    red: int  # places for reds (0 unless trauma)
    total: int  # places for all colours together
    occupancy: float  # the reported one, or the assumed one
    reported: bool


def _places(beds: float) -> int:
    """Whole places; 40 x (1.2 - 1.0) is 7.999... in floating point and means 8."""
    return math.floor(beds + 1e-6)


def capacity(r: Receiving, params: CapacityParams = CapacityParams()) -> Capacity:
    """What one hospital may take (see the module docstring)."""
    h, s = r.hospital, r.status
    ed = Capability.ED in h.capabilities and not s.diverts(Capability.ED)
    trauma = ed and Capability.TRAUMA in h.capabilities and not s.diverts(Capability.TRAUMA)
    reported = s.ed_occupancy is not None
    occupancy = s.ed_occupancy if s.ed_occupancy is not None else params.assumed_occupancy
    total = _places(h.ed_beds * max(0.0, params.surge_occupancy - occupancy)) if ed else 0
    red = min(total, _places(h.ed_beds * params.red_share)) if trauma else 0
    return Capacity(h.id, h.name_zh, r.eta_s, ed, trauma, red, total, occupancy, reported)


def distribute(
    counts: Mapping[Triage, int],
    receiving: Sequence[Receiving],
    params: CapacityParams = CapacityParams(),
    weights: MciParams | None = None,
) -> tuple[MciPlan, list[Capacity]]:
    """The plan (reds over trauma centres first, then the rest over EDs) and the capacities
    it was made with."""
    caps = [capacity(r, params) for r in receiving]
    empty = MciPlan((), 0, False, {}, 0)
    red_n = counts.get(Triage.RED, 0)
    red_at = [
        MciHospital(c.hospital_id, c.name, True, c.eta_s, c.red, 0, 0, c.total)
        for c in caps
        if c.trauma
    ]
    reds = plan({Triage.RED: red_n}, red_at, weights) if red_n else empty
    taken = {line.hospital_id: line.count for line in reds.lines}
    rest = {c: counts.get(c, 0) for c in (Triage.YELLOW, Triage.GREEN)}
    left = {c.hospital_id: max(0, c.total - taken.get(c.hospital_id, 0)) for c in caps}
    rest_at = [
        MciHospital(
            c.hospital_id,
            c.name,
            c.trauma,
            c.eta_s,
            0,
            left[c.hospital_id],
            left[c.hospital_id],
            left[c.hospital_id],
        )
        for c in caps
        if c.ed
    ]
    others = plan(rest, rest_at, weights) if any(rest.values()) else empty
    unplaced = {**reds.unplaced, **others.unplaced}
    black = counts.get(Triage.BLACK, 0)
    both = MciPlan(
        reds.lines + others.lines,
        reds.cost + others.cost,
        reds.overflow or others.overflow,
        unplaced,
        black,
    )
    return both, caps


# --- the board ---------------------------------------------------------------------------------
class Stage(StrEnum):
    DISPATCHED = "dispatched"  # a unit is on its way or with the patient
    TRANSPORTING = "transporting"
    ARRIVED = "arrived"  # at the hospital (handed over or not)
    NOT_TRANSPORTED = "not_transported"  # closed on scene
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Line:
    """One line of a plan: `count` patients of `colour` to `hospital_id`."""

    colour: Triage
    hospital_id: str
    count: int

    @classmethod
    def of(cls, line: PlanLine | Mapping[str, Any]) -> Line:
        if isinstance(line, PlanLine):
            return cls(line.colour, line.hospital_id, line.count)
        return cls(Triage(line["colour"]), str(line["hospital_id"]), int(line["count"]))


@dataclass(frozen=True)
class Child:
    """One transported patient of the MCI: its own incident."""

    incident_id: str
    colour: Triage | None  # from its priority
    destination: str | None
    stage: Stage


def stage_of(timeline: Mapping[Step, float] | set[Step]) -> Stage:
    if Step.CANCELLED in timeline:
        return Stage.CANCELLED
    if Step.AT_DESTINATION in timeline:
        return Stage.ARRIVED
    if Step.LEFT_SCENE in timeline:
        return Stage.TRANSPORTING
    if Step.CLOSED in timeline:
        return Stage.NOT_TRANSPORTED
    return Stage.DISPATCHED


def open_slots(lines: Sequence[Line], children: Sequence[Child]) -> list[tuple[Triage, str]]:
    """The planned patients no child has been made for yet, reds first, each line in plan
    order. A child counts for its colour, and for the hospital it is now routed to (a patient
    re-routed from A to B leaves A's place open and takes B's)."""
    active = [c for c in children if c.stage is not Stage.CANCELLED]
    out: list[tuple[Triage, str]] = []
    for colour in TRANSPORTED:
        mine = [line for line in lines if line.colour is colour]
        todo = sum(line.count for line in mine) - sum(c.colour is colour for c in active)
        for line in mine:
            at = sum(c.colour is colour and c.destination == line.hospital_id for c in active)
            free = min(max(0, line.count - at), todo)
            out.extend([(colour, line.hospital_id)] * free)
            todo -= free
    return out


def _colours() -> dict[str, int]:
    return {c.value: 0 for c in TRANSPORTED}


def board(lines: Sequence[Line], children: Sequence[Child]) -> dict[str, Any]:
    """Per hospital and colour: planned, dispatched, transporting, arrived; the patients not
    yet given a unit; how many were closed on scene or cancelled."""
    rows: dict[str, dict[str, dict[str, int]]] = {}

    def row(hospital_id: str) -> dict[str, dict[str, int]]:
        return rows.setdefault(
            hospital_id,
            {k: _colours() for k in ("planned", "dispatched", "transporting", "arrived")},
        )

    for line in lines:
        row(line.hospital_id)["planned"][line.colour.value] += line.count
    ended = {Stage.NOT_TRANSPORTED.value: 0, Stage.CANCELLED.value: 0}
    for c in children:
        if c.stage.value in ended:
            ended[c.stage.value] += 1
        elif c.destination is not None and c.colour is not None:
            row(c.destination)[c.stage.value][c.colour.value] += 1
    pending = _colours()
    for colour, _ in open_slots(lines, children):
        pending[colour.value] += 1
    hospitals: list[dict[str, Any]] = [
        {
            "hospital_id": h,
            **counts,
            "transported": sum(counts["transporting"].values()) + sum(counts["arrived"].values()),
        }
        for h, counts in rows.items()
    ]
    return {"hospitals": hospitals, "pending": pending, "children": len(children), **ended}
