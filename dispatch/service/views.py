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
}

#: No crew device acknowledged an offer this long after it was sent: the console prompts the
#: dispatcher to phone the crew (the engine's own ack timeout may move the offer on as well).
CALL_CREW_AFTER_S = 30.0


class Views:
    """The read side of the dispatch service."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc

    def incident(self, incident_id: str, *, for_caller: bool = False) -> dict[str, Any]:
        svc = self.svc
        inc = svc.engine.incident(IncidentId(incident_id))
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
        )
        return view

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
        return [
            self.incident(i)
            for i, inc in self.svc.engine.incidents.items()
            if inc.open or not open_only
        ]

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
        }

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
            "deadline_s": inc.offer_deadline_s,
            "step": inc.step.value,
            "destination": self.destination_of(inc),
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
        return bool(CALLER_DONE & inc.timeline.keys())

    def call_snapshot(self, incident_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq(f"call:{incident_id}"),
            "incident": self.incident(incident_id, for_caller=True),
        }
