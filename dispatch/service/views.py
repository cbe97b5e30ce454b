"""What clients are shown: incidents, units, jobs and snapshots, built from the engine's state.

Read-only. `DispatchService` inherits these; each view is built in one loop step, so a snapshot
and the `last_seq` stamped on it agree with the live frames that follow. A caller's view holds
the coming unit's position and ETA and nothing that identifies the crew.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Callable
from typing import Any

from dispatch.core import events as ev
from dispatch.core.engine import Engine, Incident, Unit
from dispatch.core.model import IncidentId, Step, UnitId
from dispatch.live.hub import Hub
from dispatch.service.location_view import conflict_body, evidence_time_s, sources_view
from dispatch.tokens import TokenBook
from hospital_link.activation import suggest_activation
from hospital_link.destination import rank_destinations
from hospital_link.fhir import StreamContext, patient_pseudonym
from hospital_link.notice import diverted_bundle, inbound_bundle
from hospital_link.registry import HospitalId, Registry
from hospital_link.vitals import Numerics
from location_fusion.cells import sector_for
from location_fusion.locate import CallEvidence, Estimate, Locator
from routing.router import Router
from routing.snap import Positions, RoadPosition

UTC_OFFSET_MIN = 480  # FHIR times are written in the city's own time, China Standard Time
Frame = tuple[str, dict[str, Any] | None, str | None]  # (topic, message or None: end, coalesce)

#: Steps while a unit is coming: the caller sees its position and ETA.
COMING = frozenset({Step.UNIT_NOTIFIED, Step.UNIT_ACKNOWLEDGED, Step.EN_ROUTE})
#: Steps while the unit is with the patient: destinations are timed from the unit.
WITH_PATIENT = frozenset({Step.ON_SCENE, Step.LEFT_SCENE})
#: A route to draw: to the incident while a unit is coming, to the hospital while transporting.
ROUTE_TO_HOSPITAL = frozenset({Step.LEFT_SCENE})
#: The conflict of a call whose evidence a restart dropped: the logged flag, no details.
CONFLICT_AT_CALL: dict[str, Any] = {
    "sources": [],
    "distance_m": None,
    "message": "the call's location sources disagreed: confirm location",
}

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
}


class Views:
    """The read side of the dispatch service (mixed into `DispatchService`)."""

    engine: Engine
    hub: Hub
    router: Router
    locator: Locator
    now: Callable[[], float]
    hospitals: Registry
    _hospital_roads: dict[HospitalId, RoadPosition]
    _descriptions: dict[IncidentId, str]
    latest_vitals: dict[IncidentId, Numerics]  # the last numerics a tablet sent, per patient
    tokens: TokenBook
    _evidence: dict[IncidentId, CallEvidence]
    _placed_by_dispatcher: set[IncidentId]
    _fused: dict[IncidentId, tuple[CallEvidence, Estimate | None]]  # evidence -> its estimate

    def description(self, incident_id: IncidentId, lat: float, lon: float) -> str:
        text = self._descriptions.get(incident_id)
        if text is None:
            text = self._descriptions[incident_id] = self.locator.describe(lon, lat)
        return text

    def place(self, inc: Incident) -> dict[str, Any]:
        return {
            "lat": inc.lat,
            "lon": inc.lon,
            "radius95_m": inc.radius95_m,
            "description": self.description(inc.incident_id, inc.lat, inc.lon),
        }

    def incident_view(self, incident_id: str, *, for_caller: bool = False) -> dict[str, Any]:
        inc = self.engine.incident(IncidentId(incident_id))
        timeline = [
            {"step": s.value, "name": s.name.lower(), "at_s": t}
            for s, t in sorted(inc.timeline.items(), key=lambda kv: kv[1])
        ]
        view: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "step": inc.step.value,
            "open": inc.open,
            "place": self.place(inc),
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
            conflict=self.conflict_of(inc),
        )
        return view

    # --- a call's location sources (the console draws them beside the estimate) -------------
    def fused_evidence(
        self, incident_id: IncidentId
    ) -> tuple[CallEvidence, Estimate | None] | None:
        """The call's evidence kept in memory and the estimate fused from it as of its newest
        part (kept until the evidence changes); None once a restart or the close dropped it."""
        evidence = self._evidence.get(incident_id)
        if evidence is None:
            self._fused.pop(incident_id, None)
            return None
        found = self._fused.get(incident_id)
        if found is None or found[0] is not evidence:
            at_s = evidence_time_s(evidence, self.now())
            found = self._fused[incident_id] = (evidence, self.locator.locate(evidence, at_s))
        return found

    def conflict_of(self, inc: Incident) -> dict[str, Any] | None:
        """The conflict alarm the console shows: the evidence's, none once a dispatcher placed
        the incident, the call's logged flag (without details) when a restart lost the rest."""
        if inc.incident_id in self._placed_by_dispatcher:
            return None
        found = self.fused_evidence(inc.incident_id)
        if found is not None:
            return conflict_body(found[1].conflict) if found[1] is not None else None
        return dict(CONFLICT_AT_CALL) if inc.conflict else None

    def location_sources(self, incident_id: str) -> dict[str, Any]:
        """Each source of the call's location (fixes, the serving cell's wedge, the places its
        words matched) beside the fused estimate and the incident's own place."""
        inc = self.engine.incident(IncidentId(incident_id))
        body: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "place": self.place(inc),
            "placed_by_dispatcher": inc.incident_id in self._placed_by_dispatcher,
            "conflict": self.conflict_of(inc),
            "kept": False,
            "fixes": [],
            "cell": None,
            "spoken": None,
            "fused": None,
        }
        found = self.fused_evidence(inc.incident_id)
        if found is None:  # closed, made without a call (MCI), or a restart dropped it
            return body
        evidence, estimate = found
        sector = None
        if evidence.cell is not None and self.locator.cells is not None:
            cell = self.locator.cells.lookup(evidence.cell)
            sector = sector_for(cell, evidence.cell) if cell is not None else None
        at_s = evidence_time_s(evidence, self.now())
        view = sources_view(evidence, estimate, sector, self.now())
        view.pop("conflict")  # the incident's (above): none once a dispatcher placed it
        body.update(view, kept=True, evidence_at_s=round(at_s, 3))
        return body

    # --- a unit's road route (the console draws it with the ETA) ----------------------------
    def unit_route(self, incident_id: str, unit_id: str | None = None) -> dict[str, Any]:
        """The road route of the incident's unit: to the incident while it is coming, to the
        hospital's door while it transports. With `unit_id`, that unit's route to the incident
        (a recommendation previewed). `route` is None when there is nothing to drive."""
        inc = self.engine.incident(IncidentId(incident_id))
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
        unit = self.engine.unit(UnitId(chosen))
        target = None
        if unit_id is not None or (inc.unit_id is not None and inc.step in COMING):
            target, body["to"] = inc.position, "incident"
        elif inc.step in ROUTE_TO_HOSPITAL and inc.destination is not None:
            target = self.hospital_door(inc.destination)
            body.update(to="hospital", hospital_id=inc.destination)
        if target is None:
            return body
        self.engine.refresh_positions(self.engine.settings.position_refresh_s)
        route = self.router.route(unit.position, target)
        if route is None or not math.isfinite(route.eta_s):
            return body
        body["route"] = {
            "eta_s": round(route.eta_s, 1),
            "length_m": round(route.length_m, 1),
            "lonlat": [[round(x, 6), round(y, 6)] for x, y in route.lonlat.tolist()],
            "directions": route.directions(),
        }
        return body

    def incidents(self, open_only: bool = True) -> list[dict[str, Any]]:
        return [
            self.incident_view(i)
            for i, inc in self.engine.incidents.items()
            if inc.open or not open_only
        ]

    def unit_view(self, unit: Unit) -> dict[str, Any]:
        return {
            "unit_id": unit.unit_id,
            "capability": unit.capability.value,
            "status": unit.status.value,
            "lat": unit.lat,
            "lon": unit.lon,
            "incident_id": unit.incident_id,
        }

    def recommendations(self, incident_id: str) -> list[dict[str, Any]]:
        options = self.engine.recommend(IncidentId(incident_id), self.now())
        return [plain(o) for o in options]

    def approach(self, inc: Incident) -> dict[str, Any] | None:
        """Where the coming unit is and its driving ETA; None when no unit is coming."""
        if inc.unit_id is None or inc.step not in COMING:
            return None
        unit = self.engine.units[inc.unit_id]
        return {"lat": unit.lat, "lon": unit.lon, "eta_s": self.eta_to(unit, inc.position)}

    def eta_to(self, unit: Unit, place: RoadPosition) -> float | None:
        """The unit's driving ETA to a place from its latest road position; None if none."""
        self.engine.refresh_positions(self.engine.settings.position_refresh_s)
        route = self.router.route(unit.position, place)
        return route.eta_s if route is not None and math.isfinite(route.eta_s) else None

    def destinations(self, incident_id: str) -> list[dict[str, Any]]:
        """Hospitals for this patient, best first, with the reasons (hospital_link.destination).

        Road ETAs run from the unit once it is with the patient (on scene, transporting),
        else from the incident, to every hospital's door in one search per origin.
        """
        inc = self.engine.incident(IncidentId(incident_id))
        origin = inc.position
        if inc.unit_id is not None and inc.step in WITH_PATIENT:
            self.engine.refresh_positions(self.engine.settings.position_refresh_s)
            origin = self.engine.units[inc.unit_id].position
        ids = list(self._hospital_roads)
        doors = Positions.of([self._hospital_roads[h] for h in ids])
        eta = self.router.matrix(Positions.of([origin]), doors).eta_s[0]
        travel = dict(zip(ids, eta.tolist(), strict=True))
        choices = rank_destinations(
            self.hospitals, travel, inc.complaint.value, int(inc.priority), self.now()
        )
        return [{**plain(c), "summary": c.summary} for c in choices]

    def inbound_view(self, inc: Incident, hospital_id: str) -> dict[str, Any]:
        """What a receiving hospital is told of a patient: triage, condition, the unit and its
        ETA to the door, and the team to pre-alert. Never the caller or the address."""
        eta_s: float | None = None
        door = self._hospital_roads.get(HospitalId(hospital_id))
        if inc.unit_id is not None and door is not None:
            eta_s = self.eta_to(self.engine.units[inc.unit_id], door)
        team = suggest_activation(inc.complaint.value, self.latest_vitals.get(inc.incident_id))
        fhir = inbound_bundle(
            self.stream_context(inc.incident_id),
            incident_id=inc.incident_id,
            hospital_id=hospital_id,
            unit_id=inc.unit_id,
            at_s=time.time(),
            priority=int(inc.priority),
            complaint=inc.complaint.value,
            eta_s=eta_s,
            age_band=inc.age_band,
            sex=inc.sex,
            activation_team=team.team.value,
            activation_reasons=team.reasons,
        )
        return {
            "incident_id": inc.incident_id,
            "priority": int(inc.priority),
            "complaint": inc.complaint.value,
            "unit_id": inc.unit_id,
            "eta_s": eta_s,
            "age_band": inc.age_band,
            "sex": inc.sex,
            "activation": {"team": team.team.value, "reasons": list(team.reasons)},
            "acknowledged_at_s": inc.hospital_ack_at_s,
            "fhir": fhir,
        }

    def stream_context(self, incident_id: str) -> StreamContext:
        """How a patient is named and timed in FHIR: a per-incident pseudonym, China time."""
        secret = self.tokens.secret.encode()
        return StreamContext(patient_pseudonym(incident_id, secret), utc_offset_min=UTC_OFFSET_MIN)

    def diverted_message(self, incident_id: str, hospital_id: str) -> dict[str, Any]:
        """`patient.diverted` for the hospital the patient is no longer coming to."""
        fhir = diverted_bundle(
            self.stream_context(incident_id),
            incident_id=incident_id,
            hospital_id=hospital_id,
            at_s=time.time(),
        )
        return {"type": "patient.diverted", "incident_id": incident_id, "fhir": fhir}

    def hospital_door(self, hospital_id: str) -> RoadPosition | None:
        """A hospital's door on the road network; None when off the loaded network."""
        return self._hospital_roads.get(HospitalId(hospital_id))

    def inbound_to(self, hospital_id: str) -> list[dict[str, Any]]:
        """The open incidents routed to this hospital and not yet handed over."""
        return [
            self.inbound_view(inc, hospital_id)
            for inc in self.engine.incidents.values()
            if inc.destination == hospital_id
            and inc.open
            and Step.TRANSFER_OF_CARE not in inc.timeline
        ]

    def hospital_snapshot(self, hospital_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq(f"hospital:{hospital_id}"),
            "inbound": self.inbound_to(hospital_id),
        }

    def job_of(self, unit_id: str) -> dict[str, Any] | None:
        """The offer or order a unit holds: its incident's place, read-back and triage."""
        unit = self.engine.unit(unit_id)  # type: ignore[arg-type]
        if unit.incident_id is None:
            return None
        inc = self.engine.incidents[unit.incident_id]
        return {
            "incident_id": inc.incident_id,
            "place": self.place(inc),
            "priority": int(inc.priority),
            "complaint": inc.complaint.value,
            "determinant": inc.determinant,
            "deadline_s": inc.offer_deadline_s,
            "step": inc.step.value,
        }

    # --- snapshots (built with no await before the live frames that follow) -------------------
    def console_snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq("console"),
            "incidents": self.incidents(),
            "units": [self.unit_view(u) for u in self.engine.units.values()],
        }

    def unit_snapshot(self, unit_id: str) -> dict[str, Any]:
        unit = self.engine.unit(unit_id)  # type: ignore[arg-type]
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq(f"unit:{unit_id}"),
            "unit": self.unit_view(unit),
            "job": self.job_of(unit_id),
        }

    def caller_done(self, incident_id: str) -> bool:
        """True once the caller's socket has nothing more to say (the unit is on scene)."""
        inc = self.engine.incident(IncidentId(incident_id))
        return bool(CALLER_DONE & inc.timeline.keys())

    def call_snapshot(self, incident_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq(f"call:{incident_id}"),
            "incident": self.incident_view(incident_id, for_caller=True),
        }
