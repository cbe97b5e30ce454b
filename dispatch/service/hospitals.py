"""The receiving hospitals: where a patient goes, who chose it, and what each hospital reports.

`svc.hospitals` holds the registry and each hospital's door on the road network. It ranks the
hospitals for a patient by road ETA from the unit (or the incident) to every door
(`hospital_link.destination`), routes a patient to one (by a dispatcher, the crew, or, when
transport starts and nobody chose, by the auto rule of `dispatch.core.destination`), records a
hospital's acknowledgement and takes its own status reports (live data like traffic: not logged).
What a hospital is told of its patient is `dispatch.service.notices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.destination import auto_destination
from dispatch.core.engine import Incident
from dispatch.core.model import IncidentId
from dispatch.errors import UnknownHospital, UnknownIncident
from dispatch.service.city import city_of, hospital_registry
from dispatch.service.views import WITH_PATIENT, Frame, plain
from hospital_link.destination import rank_destinations
from hospital_link.registry import HospitalId, HospitalStatus, Registry, parse_capability
from routing.router import Router
from routing.snap import Positions, RoadPosition

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService


def _snap_hospitals(router: Router, hospitals: Registry) -> dict[HospitalId, RoadPosition]:
    """Each hospital's door on the road network; one farther than the snap limit (outside the
    loaded network) is left out, so it counts as unreachable."""
    found = router.snapper.road_positions(
        [h.lat for h in hospitals.hospitals], [h.lon for h in hospitals.hospitals]
    )
    return {h.id: p for h, p in zip(hospitals.hospitals, found, strict=True) if p is not None}


class Hospitals:
    """The hospital registry, its doors, destination choice, acknowledgements and status."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.registry = hospital_registry(city_of(svc.settings))  # may be empty: see why_none
        self._doors = _snap_hospitals(svc.router, self.registry)

    def door(self, hospital_id: str) -> RoadPosition | None:
        """A hospital's door on the road network; None when off the loaded network."""
        return self._doors.get(HospitalId(hospital_id))

    def travel_s(self, inc: Incident) -> dict[HospitalId, float]:
        """Road ETA to every door: from the unit once it is with the patient (on scene,
        transporting), else from the incident; one search per origin."""
        engine = self.svc.engine
        origin = inc.position
        if inc.unit_id is not None and inc.step in WITH_PATIENT:
            engine.refresh_positions(engine.settings.position_refresh_s)
            origin = engine.units[inc.unit_id].position
        ids = list(self._doors)
        if not ids:  # no hospital, or none on the network: nothing to time (see why_none)
            return {}
        doors = Positions.of([self._doors[h] for h in ids])
        eta = self.svc.router.matrix(Positions.of([origin]), doors).eta_s[0]
        return dict(zip(ids, eta.tolist(), strict=True))

    def destinations(self, incident_id: str) -> list[dict[str, Any]]:
        """Hospitals for this patient, best first, with the reasons (hospital_link.destination)."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        choices = rank_destinations(
            self.registry,
            self.travel_s(inc),
            inc.complaint.value,
            int(inc.priority),
            self.svc.now(),
        )
        return [{**plain(c), "summary": c.summary} for c in choices]

    def why_none(self) -> str | None:
        """Why no destination can ever be offered in this city, or None when some can:
        "no_hospitals_configured" (the city has no hospitals layer, docs/city.md) or
        "no_hospital_on_network" (none lies on the loaded road network)."""
        if not self.registry.hospitals:
            return "no_hospitals_configured"
        if not self._doors:
            return "no_hospital_on_network"
        return None

    def choose(self, incident_id: str, hospital_id: str, by: str, reason: str) -> None:
        """Route the patient to a hospital: it hears `patient.inbound`, and a hospital chosen
        before hears `patient.diverted` and nothing more of this patient."""
        if hospital_id not in self.registry:
            raise UnknownHospital(f"no hospital {hospital_id}")
        svc = self.svc
        inc = svc.engine.incident(IncidentId(incident_id))
        before = inc.destination
        event = ev.DestinationChosen(inc.incident_id, hospital_id, by, reason)
        chosen = {
            "type": "destination.chosen",
            "incident_id": inc.incident_id,
            "hospital_id": hospital_id,
            "by": by,
            "reason": reason,
        }
        inbound = {"type": "patient.inbound", **svc.notices.inbound_view(inc, hospital_id)}
        then: list[Frame] = [(f"hospital:{hospital_id}", inbound, None)]
        if inc.unit_id is not None:  # the crew drives there: where, and why
            place = self.registry.hospital(hospital_id)
            crew = {
                **chosen,
                "name": place.name_zh,
                "name_en": place.name_en,
                "address": place.address,
                "lat": place.lat,
                "lon": place.lon,
            }
            then.append((f"unit:{inc.unit_id}", crew, None))
        if before is not None and before != hospital_id:
            diverted = svc.notices.diverted_message(inc.incident_id, before)
            then.append((f"hospital:{before}", diverted, None))
        svc.submit(event, first=[("console", chosen, None)], then=then)

    def choose_auto(self, incident_id: IncidentId) -> None:
        """Transport started and nobody chose: the auto rule's hospital, logged as "auto" with
        its reasons, so the hospital hears `patient.inbound` as the patient boards."""
        inc = self.svc.engine.incidents[incident_id]
        if inc.destination is not None:
            return
        event = auto_destination(inc, self.registry, self.travel_s(inc), self.svc.now())
        if event is not None:
            self.choose(incident_id, event.hospital_id, event.by, event.reason)

    def routed_to(self, incident_id: str) -> str | None:
        """The hospital the incident's patient is routed to, if any (None for no incident)."""
        inc = self.svc.engine.incidents.get(IncidentId(incident_id))
        return inc.destination if inc is not None else None

    def describe_patient(self, incident_id: str, age_band: str | None, sex: str | None) -> None:
        """The patient's age band and sex for the receiving hospital's notice (logged)."""
        self.svc.submit(ev.PatientDescribed(IncidentId(incident_id), age_band, sex))

    def ack(self, hospital_id: str, incident_id: Any) -> bool:
        """The hospital acknowledged its pre-arrival notice; False when it had already.
        A patient not routed to this hospital is "unknown" to it, whatever exists."""
        found = isinstance(incident_id, str)
        inc = self.svc.engine.incidents.get(IncidentId(incident_id)) if found else None
        if inc is None or not inc.open or inc.destination != hospital_id:
            raise UnknownIncident("no such patient is routed to this hospital")
        if inc.hospital_ack_at_s is not None:
            return False
        self.svc.submit(ev.HospitalAcknowledged(inc.incident_id, hospital_id))
        return True

    def report_status(
        self,
        hospital_id: str,
        diverted: list[str],
        ed_occupancy: float | None,
        offload_wait_min: float | None,
        expires_in_s: float,
    ) -> dict[str, Any]:
        """A hospital's own report (diversion per capability, ED load, offload wait), trusted
        until it expires (hospital_link.registry). Live data like traffic: not logged, so a
        restart forgets it and the hospital's next report restores it."""
        if hospital_id not in self.registry:
            raise UnknownHospital(f"no hospital {hospital_id}")
        now = self.svc.now()
        status = HospitalStatus(
            now,
            now + expires_in_s,
            frozenset(parse_capability(c) for c in diverted),
            ed_occupancy,
            offload_wait_min,
        )
        self.registry.update_status(hospital_id, status, now)
        view = self.status_view(hospital_id)
        self.svc.hub.publish("console", {"type": "hospital.status", **view})
        return view

    def status_view(self, hospital_id: str) -> dict[str, Any]:
        current = self.registry.status(hospital_id, self.svc.now())
        return {"hospital_id": hospital_id, **plain(current)}
