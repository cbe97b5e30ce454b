"""What a receiving hospital is told of its patient, with FHIR R4 in every message.

`svc.notices` builds `patient.inbound` (triage, the unit's ETA to the door, the team to
pre-alert from the latest vitals), `patient.diverted`, `patient.closed` and the periodic
`patient.eta`, and a hospital's snapshot of its inbound patients. A patient is named in FHIR by a
per-incident pseudonym, never the caller or the address. The latest vitals and the last vitals
seq logged per unit are kept here, in memory (a restart loses a second at most).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.engine import Incident
from dispatch.core.model import IncidentId, Step
from dispatch.service.views import Frame
from hospital_link.activation import suggest_activation
from hospital_link.fhir import StreamContext, patient_pseudonym
from hospital_link.notice import closed_bundle, diverted_bundle, eta_bundle, inbound_bundle
from hospital_link.vitals import Numerics

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

UTC_OFFSET_MIN = 480  # FHIR times are written in the city's own time, China Standard Time


class Notices:
    """The receiving hospital's messages about its patients."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.latest_vitals: dict[IncidentId, Numerics] = {}  # in memory: the next second has it
        # The last vitals seq logged per patient and unit: a tablet's retry is not sent twice.
        # In memory: after a restart a retry of the very last second may repeat (the hospital
        # tells by (unit, sample_seq)).
        self.vitals_seq: dict[IncidentId, dict[str, int]] = {}
        self._eta_sent: dict[IncidentId, float] = {}  # when patient.eta was last sent

    def forget(self, incident_id: IncidentId) -> None:
        """The incident closed: nothing more is sent about it."""
        self._eta_sent.pop(incident_id, None)
        self.latest_vitals.pop(incident_id, None)
        self.vitals_seq.pop(incident_id, None)

    def stream_context(self, incident_id: str) -> StreamContext:
        """How a patient is named and timed in FHIR: a per-incident pseudonym, China time."""
        secret = self.svc.tokens.secret.encode()
        return StreamContext(patient_pseudonym(incident_id, secret), utc_offset_min=UTC_OFFSET_MIN)

    def inbound_view(self, inc: Incident, hospital_id: str) -> dict[str, Any]:
        """What a receiving hospital is told of a patient: triage, condition, the unit and its
        ETA to the door, and the team to pre-alert. Never the caller or the address."""
        svc = self.svc
        eta_s: float | None = None
        door = svc.hospitals.door(hospital_id)
        if inc.unit_id is not None and door is not None:
            eta_s = svc.views.eta_to(svc.engine.units[inc.unit_id], door)
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

    def diverted_message(self, incident_id: str, hospital_id: str) -> dict[str, Any]:
        """`patient.diverted` for the hospital the patient is no longer coming to."""
        fhir = diverted_bundle(
            self.stream_context(incident_id),
            incident_id=incident_id,
            hospital_id=hospital_id,
            at_s=time.time(),
        )
        return {"type": "patient.diverted", "incident_id": incident_id, "fhir": fhir}

    def inbound_to(self, hospital_id: str) -> list[dict[str, Any]]:
        """The open incidents routed to this hospital and not yet handed over."""
        return [
            self.inbound_view(inc, hospital_id)
            for inc in self.svc.engine.incidents.values()
            if inc.destination == hospital_id
            and inc.open
            and Step.TRANSFER_OF_CARE not in inc.timeline
        ]

    def snapshot(self, hospital_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq(f"hospital:{hospital_id}"),
            "inbound": self.inbound_to(hospital_id),
        }

    # --- frames made as events are applied ----------------------------------------------------
    def inbound_update(self, incident_id: IncidentId) -> list[Frame]:
        """The patient's notice again, when triage or the patient's description changed."""
        inc = self.svc.engine.incidents[incident_id]
        if inc.destination is None or Step.TRANSFER_OF_CARE in inc.timeline:
            return []
        inbound = {"type": "patient.inbound", **self.inbound_view(inc, inc.destination)}
        return [(f"hospital:{inc.destination}", inbound, None)]

    def closed(self, d: ev.IncidentStepped) -> list[Frame]:
        """`patient.closed` to the receiving hospital once the patient is no longer coming:
        handed over, or the incident closed before that (cancelled before transport)."""
        inc = self.svc.engine.incidents[d.incident_id]
        if inc.destination is None:
            return []
        if d.step is Step.TRANSFER_OF_CARE:
            reason = "handed_over"
        elif d.step is Step.CLOSED and Step.TRANSFER_OF_CARE not in inc.timeline:
            reason = "cancelled" if Step.CANCELLED in inc.timeline else "closed"
        else:
            return []
        fhir = closed_bundle(
            self.stream_context(d.incident_id),
            incident_id=d.incident_id,
            hospital_id=inc.destination,
            at_s=time.time(),
            handed_over=reason == "handed_over",
        )
        closed = {
            "type": "patient.closed",
            "incident_id": d.incident_id,
            "reason": reason,
            "fhir": fhir,
        }
        return [(f"hospital:{inc.destination}", closed, None)]

    def send_eta(self, incident_id: IncidentId) -> None:
        """A transporting unit's road ETA to its hospital's door, as `patient.eta`, every
        `hospital_eta_every_s` while it moves (the vitals bundles carry it every second too)."""
        svc = self.svc
        inc = svc.engine.incidents.get(incident_id)
        if inc is None or inc.destination is None or inc.unit_id is None:
            return
        if inc.step is not Step.LEFT_SCENE:
            return
        now = svc.now()
        if now - self._eta_sent.get(incident_id, -1e18) < svc.settings.hospital_eta_every_s:
            return
        unit = svc.engine.units[inc.unit_id]
        door = svc.hospitals.door(inc.destination)
        eta_s = svc.views.eta_to(unit, door) if door is not None else None
        if eta_s is None:
            return
        self._eta_sent[incident_id] = now
        fhir = eta_bundle(
            self.stream_context(incident_id),
            incident_id=incident_id,
            hospital_id=inc.destination,
            unit_id=unit.unit_id,
            at_s=time.time(),
            eta_s=eta_s,
            lat=unit.lat,
            lon=unit.lon,
        )
        message = {
            "type": "patient.eta",
            "incident_id": incident_id,
            "unit_id": unit.unit_id,
            "eta_s": round(eta_s),
            "lat": unit.lat,
            "lon": unit.lon,
            "fhir": fhir,
        }
        svc.feeds.feed(f"hospital:{inc.destination}", message, lazy=True)
