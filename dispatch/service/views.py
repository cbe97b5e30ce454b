"""What clients are shown: incidents, units, jobs and snapshots, built from the engine's state.

Read-only (`svc.views`); each view is built in one loop step, so a snapshot and the `last_seq`
stamped on it agree with the live frames that follow. A caller's view holds the coming unit's
position and ETA and nothing that identifies the crew. Here too: `plain` (a decision or view as
JSON-safe values), the wire names of the decisions and the `Frame` every part hands the hub.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.cockpit import Row as CockpitRow
from dispatch.core.engine import Incident, Unit
from dispatch.core.model import IncidentId, Step, UnitId
from dispatch.core.queue import (
    OverdueLimits,
    is_overdue,
    overdue_at_s,
    queue_key,
    queue_order,
    waiting,
)
from routing.snap import RoadPosition

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

Frame = tuple[str, dict[str, Any] | None, str | None]  # (topic, message or None: end, coalesce)

#: Steps while a unit is coming: the caller sees its position and ETA.
COMING = frozenset({Step.UNIT_NOTIFIED, Step.UNIT_ACKNOWLEDGED, Step.EN_ROUTE})
#: Steps while the unit is with the patient: destinations are timed from the unit.
WITH_PATIENT = frozenset({Step.ON_SCENE, Step.LEFT_SCENE})
#: A route to draw: to the incident while a unit is coming, to the hospital while transporting.
ROUTE_TO_HOSPITAL = frozenset({Step.LEFT_SCENE})
#: Steps that end the caller's socket: help has arrived, or the incident is over.
CALLER_DONE = frozenset({Step.ON_SCENE, Step.CANCELLED, Step.CLOSED})


def plain(value: Any) -> Any:
    """A decision or view as JSON-safe values: enums by value, tuples as lists, inf as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: Wire names of the decisions (dotted lower case, docs/wire-protocol.md).
WIRE_TYPE = {
    ev.IncidentStepped: "incident.stepped",
    ev.UnitChanged: "unit.changed",
    ev.Recommended: "incident.recommended",
    ev.OfferSent: "offer.sent",
    ev.OfferEscalated: "offer.escalated",
    ev.SwapSuggested: "swap.suggested",
    ev.DuplicateSuggested: "duplicate.suggested",
    ev.HospitalAcked: "hospital.acknowledged",
    ev.HospitalAckOverdue: "hospital.ack_overdue",
    ev.DeviceAcked: "offer.acknowledged",
    ev.UnitWithdrawn: "unit.withdrawn",
    ev.DivertSuggested: "divert.suggested",
    ev.NotePosted: "incident.note",
    ev.CallersLinked: "incident.linked",
    ev.DuplicateSetApart: "duplicate.kept_apart",
}

#: No crew device acknowledged an offer this long after it was sent: the console prompts the
#: dispatcher to phone the crew (the engine's own ack timeout may move the offer on as well).
CALL_CREW_AFTER_S = 30.0


class Views:
    """The read side of the dispatch service."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc

    @property
    def overdue_limits(self) -> OverdueLimits:
        """How long each priority may wait for a unit (`JIJIU_OVERDUE_P1_S` and the like)."""
        s = self.svc.settings
        return OverdueLimits(s.overdue_p1_s, s.overdue_p2_s, s.overdue_p3_s)

    def incident(self, incident_id: str, *, for_caller: bool = False) -> dict[str, Any]:
        svc = self.svc
        inc = svc.engine.incident(IncidentId(incident_id))
        if for_caller and inc.linked_to is not None:  # linked as a duplicate: its caller
            return {**self.incident(inc.linked_to, for_caller=True), "incident_id": incident_id}
        timeline = [
            {"step": s.value, "name": s.name.lower(), "at_s": t}
            for s, t in sorted(inc.timeline.items(), key=lambda kv: kv[1])
        ]
        view: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "step": inc.step.value,
            "open": inc.open,
            "place": svc.locations.place(inc),
            "timeline": timeline,
        }
        if for_caller:  # the caller sees the coming unit's position and ETA, never who it is
            view["unit"] = self.approach(inc)
            return view
        view.update(
            priority=int(inc.priority),
            complaint=inc.complaint.value,
            determinant=inc.determinant,
            unit_id=inc.unit_id,
            offer_deadline_s=inc.offer_deadline_s,
            acked_devices=sorted(inc.acked_devices),
            **self.crew_ack(inc, svc.now()),
            conflict=svc.locations.conflict_of(inc),
            repeat_count=svc.engine.repeats.get(inc.incident_id, 0),  # calls again from its phone
            location_status=inc.location_status,  # not "located": a dispatcher must place it
            source=inc.source,  # "voice": a phone call typed in by a call-taker
            notes=self.notes_of(inc),
            linked_to=inc.linked_to,  # closed as a duplicate of this incident
            linked=list(inc.linked),  # duplicates linked into this one: their callers
            kept_apart=list(inc.kept_apart),
            # waiting for a unit longer than its priority allows (engine time; None once it
            # has a unit), and whether it is now
            **self.overdue(inc, svc.now()),
            units=self.crews_of(inc),
        )
        return view

    def crews_of(self, inc: Incident) -> list[dict[str, Any]]:
        """Every unit on the incident (and back in service from it), with its own steps."""
        return [
            {
                "unit_id": unit_id,
                "step": inc.crew_step(unit_id).value,
                "timeline": [
                    {"step": s.value, "name": s.name.lower(), "at_s": t}
                    for s, t in sorted(track.items(), key=lambda kv: kv[1])
                ],
            }
            for unit_id, track in inc.crews.items()
        ]

    def overdue(self, inc: Incident, now_s: float) -> dict[str, Any]:
        """When the incident is overdue waiting for a unit (None once it has one) and whether
        it is at `now_s` (the service's clock: `svc.now()`)."""
        limits = self.overdue_limits
        return {
            "overdue_at_s": overdue_at_s(inc, limits),
            "overdue": is_overdue(inc, now_s, limits),
        }

    def queue(self) -> list[dict[str, Any]]:
        """The incidents waiting for a unit in the order to take them (P1 first, then the
        oldest call), each with how long it has waited and whether that is too long, by the
        service's clock."""
        now_s = self.svc.now()
        return [
            {
                "incident_id": inc.incident_id,
                "priority": int(inc.priority),
                "waited_s": now_s - inc.timeline[Step.CALL_RECEIVED],
                **self.overdue(inc, now_s),
            }
            for inc in queue_order(self.svc.engine.incidents.values())
        ]

    def notes_of(self, inc: Incident) -> list[dict[str, Any]]:
        """The incident's notes, oldest first: when (engine time), who and what."""
        return [
            {"at_s": at_s, "person": person, "text": text} for at_s, person, text, _ in inc.notes
        ]

    def notes_text(self, inc: Incident) -> str:
        """The notes as the crew's tablet shows them: one line each, "+m:ss who: text", the
        time counted from the call."""
        received_s = inc.timeline[Step.CALL_RECEIVED]
        lines = []
        for at_s, person, text, _ in inc.notes:
            after_s = max(0, int(at_s - received_s))
            who = f"{person}: " if person else ""
            lines.append(f"+{after_s // 60}:{after_s % 60:02d} {who}{text}")
        return "\n".join(lines)

    def crew_ack(self, inc: Incident, now_s: float) -> dict[str, Any]:
        """When the pending offer was sent (None: none pending, or a device acknowledged) and
        whether to phone the crew: no device acknowledged within `CALL_CREW_AFTER_S`."""
        deadline_s = inc.offer_deadline_s  # set while an offer waits, None once acknowledged
        if deadline_s is None or inc.acked_devices:
            return {"offered_at_s": None, "call_crew": False}
        offered_at_s = deadline_s - self.svc.engine.settings.ack_timeout_s
        return {
            "offered_at_s": offered_at_s,
            "call_crew": now_s - offered_at_s >= CALL_CREW_AFTER_S,
        }

    def incidents(self, open_only: bool = True) -> list[dict[str, Any]]:
        """Those waiting for a unit first, in queue order (P1 first, then the oldest call:
        dispatch.core.queue), then the others as they came."""
        chosen = [inc for inc in self.svc.engine.incidents.values() if inc.open or not open_only]
        queue = sorted((inc for inc in chosen if waiting(inc)), key=queue_key)
        rest = [inc for inc in chosen if not waiting(inc)]
        return [self.incident(inc.incident_id) for inc in queue + rest]

    # --- a unit's road route (the console draws it with the ETA) ----------------------------
    def unit_route(self, incident_id: str, unit_id: str | None = None) -> dict[str, Any]:
        """The road route of the incident's unit: to the incident while it is coming, to the
        hospital's door while it transports. With `unit_id`, that unit's route to the incident
        (a recommendation previewed). `route` is None when there is nothing to drive."""
        engine = self.svc.engine
        inc = engine.incident(IncidentId(incident_id))
        chosen = unit_id if unit_id is not None else inc.unit_id
        body: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "unit_id": chosen,
            "to": None,
            "hospital_id": None,
            "route": None,
        }
        if chosen is None:
            return body
        unit = engine.unit(UnitId(chosen))
        target = None
        if unit_id is not None or (inc.unit_id is not None and inc.step in COMING):
            target, body["to"] = inc.position, "incident"
        elif inc.step in ROUTE_TO_HOSPITAL and inc.destination is not None:
            target = self.svc.hospitals.door(inc.destination)
            body.update(to="hospital", hospital_id=inc.destination)
        if target is None:
            return body
        engine.refresh_positions(engine.settings.position_refresh_s)
        route = self.svc.router.route(unit.position, target)
        if route is None or not math.isfinite(route.eta_s):
            return body
        body["route"] = {
            "eta_s": round(route.eta_s, 1),
            "length_m": round(route.length_m, 1),
            "lonlat": [[round(x, 6), round(y, 6)] for x, y in route.lonlat.tolist()],
            "directions": route.directions(),
        }
        return body

    def unit(self, unit: Unit) -> dict[str, Any]:
        return {
            "unit_id": unit.unit_id,
            "capability": unit.capability.value,
            "status": unit.status.value,
            "lat": unit.lat,
            "lon": unit.lon,
            "incident_id": unit.incident_id,
            "position_at_s": unit.position_at_s,
            "accuracy_m": unit.accuracy_m,
            "stale": self.stale(unit),
        }

    def stale(self, unit: Unit) -> bool:
        """Its position is older than the threshold (`JIJIU_UNIT_STALE_S`) now."""
        at_s = unit.position_at_s
        limit_s = self.svc.engine.settings.recommend.stale_after_s
        return at_s is not None and self.svc.now() - at_s > limit_s

    def recommendations(self, incident_id: str) -> list[dict[str, Any]]:
        options = self.svc.engine.recommend(IncidentId(incident_id), self.svc.now())
        return [plain(o) for o in options]

    def approach(self, inc: Incident) -> dict[str, Any] | None:
        """Where the coming unit is and its driving ETA; None when no unit is coming."""
        if inc.unit_id is None or inc.step not in COMING:
            return None
        unit = self.svc.engine.units[inc.unit_id]
        return {"lat": unit.lat, "lon": unit.lon, "eta_s": self.eta_to(unit, inc.position)}

    def eta_to(self, unit: Unit, place: RoadPosition) -> float | None:
        """The unit's driving ETA to a place from its latest road position; None if none."""
        engine = self.svc.engine
        engine.refresh_positions(engine.settings.position_refresh_s)
        route = self.svc.router.route(unit.position, place)
        return route.eta_s if route is not None and math.isfinite(route.eta_s) else None

    def job_of(self, unit_id: str) -> dict[str, Any] | None:
        """The offer or order a unit holds: its incident's place, read-back and triage."""
        engine = self.svc.engine
        unit = engine.unit(unit_id)  # type: ignore[arg-type]
        if unit.incident_id is None:
            return None
        inc = engine.incidents[unit.incident_id]
        return {
            "incident_id": inc.incident_id,
            "place": self.svc.locations.place(inc),
            "priority": int(inc.priority),
            "complaint": inc.complaint.value,
            "determinant": inc.determinant,
            "deadline_s": inc.offer_deadline_s if inc.unit_id == unit.unit_id else None,
            "step": (inc.crew_step(unit.unit_id) if unit.unit_id in inc.crews else inc.step).value,
            "destination": self.destination_of(inc),
            "notes": self.notes_text(inc),
        }

    def destination_of(self, inc: Incident) -> dict[str, Any] | None:
        """The hospital the patient is routed to, named for the crew; None before a choice."""
        if inc.destination is None or inc.destination not in self.svc.hospitals.registry:
            return None
        place = self.svc.hospitals.registry.hospital(inc.destination)
        return {
            "hospital_id": inc.destination,
            "name": place.name_zh,
            "name_en": place.name_en,
            "address": place.address,
        }

    def cockpit_rows(self) -> list[CockpitRow]:
        """Every incident as the cockpit reads it, on the wall clock."""
        wall_of = self.svc.clock.wall_of
        rows = []
        for inc in self.svc.engine.incidents.values():
            steps = {s: wall_of(t) for s, t in inc.timeline.items()}
            rows.append(
                CockpitRow(
                    inc.incident_id,
                    steps[Step.CALL_RECEIVED],
                    steps,
                    inc.priority,
                    inc.complaint.value,
                    inc.lat,
                    inc.lon,
                    inc.call_radius95_m,
                    inc.conflict,
                )
            )
        return rows

    # --- snapshots (built with no await before the live frames that follow) -------------------
    def console_snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq("console"),
            "incidents": self.incidents(),
            "units": [self.unit(u) for u in self.svc.engine.units.values()],
            # how long each priority may wait for a unit before the console alarms
            "overdue_s": {str(int(p)): s for p, s in self.overdue_limits.by_priority().items()},
            "now_s": self.svc.now(),  # engine time as sent: the console's ages count from it
        }

    def unit_snapshot(self, unit_id: str) -> dict[str, Any]:
        unit = self.svc.engine.unit(unit_id)  # type: ignore[arg-type]
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq(f"unit:{unit_id}"),
            "unit": self.unit(unit),
            "job": self.job_of(unit_id),
        }

    def caller_done(self, incident_id: str) -> bool:
        """True once the caller's socket has nothing more to say (the unit is on scene)."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        if inc.linked_to is not None:  # linked as a duplicate: its caller follows the primary
            inc = self.svc.engine.incident(inc.linked_to)
        return bool(CALLER_DONE & inc.timeline.keys())

    def call_snapshot(self, incident_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq(f"call:{incident_id}"),
            "incident": self.incident(incident_id, for_caller=True),
        }
