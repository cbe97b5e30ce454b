"""Incidents (dispatchers, and a caller reading their own): list, read, the ranked units, send
a unit, triage, cancel, and the nearest AEDs. Each change answers once it is durable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, dispatcher_or_caller
from dispatch.http.wire import AssignmentIn, AssignmentOut, CancelIn, TriageIn

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)
dispatcher = [Depends(dispatcher_only)]


@router.get("", dependencies=dispatcher)
async def list_incidents(svc: Svc, open_only: bool = True) -> list[dict[str, Any]]:
    """Every open incident (or all with open_only=false), newest state."""
    return svc.views.incidents(open_only)


@router.get("/{incident_id}")
async def get_incident(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """The incident; its caller sees the timeline and the coming unit, not who it is."""
    full = dispatcher_or_caller(who, incident_id)
    view = svc.views.incident(incident_id, for_caller=not full)
    if full:
        svc.feeds.audit(who[0].value, who[1], "incident.read", [incident_id])
    return view


@router.get("/{incident_id}/recommendations", dependencies=dispatcher)
async def recommendations(incident_id: str, svc: Svc) -> list[dict[str, Any]]:
    """Units ranked by effective ETA, with the reasons."""
    return svc.views.recommendations(incident_id)


@router.post(
    "/{incident_id}/assignment",
    status_code=201,
    response_model=AssignmentOut,
    dependencies=dispatcher,
)
async def assign(incident_id: str, body: AssignmentIn, svc: Svc) -> dict[str, Any]:
    """Send a unit: the offer goes to all its crew devices; 409 if it was taken meanwhile."""
    svc.submit(ev.UnitAssigned(IncidentId(incident_id), UnitId(body.unit_id)))
    deadline_s = svc.engine.incident(IncidentId(incident_id)).offer_deadline_s
    await svc.settled()
    return {"incident_id": incident_id, "unit_id": body.unit_id, "deadline_s": deadline_s}


@router.post("/{incident_id}/triage", dependencies=dispatcher)
async def triage(incident_id: str, body: TriageIn, svc: Svc) -> dict[str, Any]:
    """Set priority, complaint and an opaque determinant code."""
    svc.submit(
        ev.IncidentTriaged(IncidentId(incident_id), body.priority, body.complaint, body.determinant)
    )
    await svc.settled()
    return svc.views.incident(incident_id)


@router.post("/{incident_id}/cancel", dependencies=dispatcher)
async def cancel(incident_id: str, body: CancelIn, svc: Svc) -> dict[str, Any]:
    """Cancel before transport; the unit (if any) becomes available on the road."""
    svc.submit(ev.IncidentCancelled(IncidentId(incident_id), body.reason))
    await svc.settled()
    return svc.views.incident(incident_id)


@router.get("/{incident_id}/aeds", dependencies=dispatcher)
async def aeds(
    incident_id: str,
    svc: Svc,
    response: Response,
    k: Annotated[int, Query(ge=1, le=10)] = 3,
    max_walk_s: Annotated[float, Query(gt=0, le=1800)] = 600.0,
) -> list[dict[str, Any]]:
    """The nearest public AEDs on foot, open now, with directions to read to a bystander.
    A city without AEDs answers [] with the header `Jijiu-Reason: no_aeds_configured`."""
    found = svc.aeds.nearby(incident_id, k, max_walk_s)
    reason = svc.aeds.why_none()
    if reason is not None:
        response.headers["Jijiu-Reason"] = reason
    return found
