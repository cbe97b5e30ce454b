"""The patient's way to hospital (dispatchers, the crew on the job, the receiving hospital):
the ranked destinations, the choice of one, the patient's age band and sex, and the handover.
Reads of patient data are audited; the hospital never sees the address or the crew."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.http.common import ERRORS, Svc, Who
from dispatch.http.wire import DestinationIn, PatientIn
from dispatch.service.service import DispatchService
from dispatch.tokens import Forbidden, Role

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)


def on_the_job(svc: DispatchService, who: tuple[Role, str], incident_id: str) -> bool:
    """True for the token of the unit holding this incident."""
    unit = svc.engine.units.get(UnitId(who[1])) if who[0] is Role.UNIT else None
    return unit is not None and unit.incident_id == incident_id


def _dispatcher_or_crew(svc: DispatchService, who: tuple[Role, str], incident_id: str) -> None:
    if who[0] is not Role.DISPATCHER and not on_the_job(svc, who, incident_id):
        raise Forbidden("dispatchers and the unit on this incident only")


@router.get("/{incident_id}/destinations")
async def destinations(
    incident_id: str, svc: Svc, who: Who, response: Response
) -> list[dict[str, Any]]:
    """Hospitals for the patient, best first: capable, not on diversion, by road ETA plus
    expected offload delay, each with its reasons. Dispatchers and the unit on the job.
    A city without hospitals answers [] with `Jijiu-Reason: no_hospitals_configured`."""
    _dispatcher_or_crew(svc, who, incident_id)
    ranked = svc.hospitals.destinations(incident_id)
    reason = svc.hospitals.why_none()
    if reason is not None:
        response.headers["Jijiu-Reason"] = reason
    svc.feeds.audit(who[0].value, who[1], "incident.destinations", [incident_id])
    return ranked


@router.post("/{incident_id}/destination")
async def destination(incident_id: str, body: DestinationIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Route the patient to a hospital (the crew or a dispatcher; logged, with the reason
    when it overrides the ranking). The hospital hears `patient.inbound`; one chosen
    before hears `patient.diverted`."""
    _dispatcher_or_crew(svc, who, incident_id)
    by = "dispatcher" if who[0] is Role.DISPATCHER else "crew"
    svc.hospitals.choose(incident_id, body.hospital_id, by, body.reason)
    await svc.settled()
    return svc.views.incident(incident_id)


@router.post("/{incident_id}/handover")
async def handover(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """Transfer of care at the destination (NEMSIS eTimes.12): by the receiving hospital,
    the crew or a dispatcher. The hospital hears `patient.closed`."""
    receiving = who[0] is Role.HOSPITAL and svc.hospitals.routed_to(incident_id) == who[1]
    if who[0] is not Role.DISPATCHER and not receiving and not on_the_job(svc, who, incident_id):
        raise Forbidden("the receiving hospital, the crew or a dispatcher only")
    svc.submit(ev.HandoverCompleted(IncidentId(incident_id)))
    await svc.settled()
    view = svc.views.incident(incident_id)
    if who[0] is Role.HOSPITAL:  # never the address or the crew's details
        return {k: view[k] for k in ("incident_id", "step", "timeline")}
    return view


@router.post("/{incident_id}/patient")
async def patient(incident_id: str, body: PatientIn, svc: Svc, who: Who) -> dict[str, Any]:
    """The patient's age band and sex, for the receiving hospital's notice (logged; a
    hospital already chosen hears `patient.inbound` again). Dispatchers and the crew."""
    _dispatcher_or_crew(svc, who, incident_id)
    svc.hospitals.describe_patient(incident_id, body.age_band, body.sex)
    await svc.settled()
    return svc.views.incident(incident_id)
