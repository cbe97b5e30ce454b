"""The units of an incident (dispatchers): send one more, take one off, reassign or divert it.

An incident may have several units (ALS + BLS, a volunteer and an ambulance); `unit_id` in its
view stays the first, `units` lists them all with their own steps. Taking a unit off needs a
reason; with `to_incident` it is a reassignment (off this one, onto that one, one event); a
divert sends a unit on its way to a higher-priority incident. Each is one event in the log
with its reason and the person; the crew's tablet gets `offer.withdrawn` then, for a
reassignment, the new `offer.sent`. An incident left without a unit is back in the queue.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, person_of
from dispatch.http.incidents import (
    IfMatch,
    LocationConflictUnconfirmed,
    Version,
    check_version,
    versioned,
)
from dispatch.http.wire import AssignmentOut, DivertIn, UnassignIn, UnitAddIn
from dispatch.service.service import DispatchService

router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["incidents"],
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)


@router.post("/{incident_id}/units", status_code=201, response_model=AssignmentOut)
async def add_unit(
    incident_id: str,
    body: UnitAddIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Send one more unit (the first if it has none): its offer goes to its crew devices;
    409 if the unit is taken or on it already, or the incident changed since `version`."""
    check_version(svc, incident_id, if_match, version)
    iid = IncidentId(incident_id)
    if not body.confirm_conflict and svc.locations.conflict_of(svc.engine.incident(iid)):
        raise LocationConflictUnconfirmed(
            f"incident {incident_id}'s location sources disagree: confirm the place first "
            "(send confirm_conflict: true, or place it by words or pin)"
        )
    event = ev.UnitAssigned(iid, UnitId(body.unit_id), person=person_of(who), additional=True)
    svc.submit(event)
    inc = svc.engine.incident(iid)
    deadline_s = inc.offer_deadline_s if inc.unit_id == body.unit_id else None
    await svc.settled()
    return {"incident_id": incident_id, "unit_id": body.unit_id, "deadline_s": deadline_s}


@router.post("/{incident_id}/units/{unit_id}/unassign")
async def unassign(
    incident_id: str,
    unit_id: str,
    body: UnassignIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Take the unit off with a reason (409 once it has the patient aboard); with
    `to_incident`, send it there in the same step. Answers both incidents as they are now."""
    check_version(svc, incident_id, if_match, version)
    iid, uid, person = IncidentId(incident_id), UnitId(unit_id), person_of(who)
    if body.to_incident is None:
        svc.submit(ev.UnitUnassigned(iid, uid, body.reason, person=person))
    else:
        to = IncidentId(body.to_incident)
        svc.engine.incident(to)  # 404 if there is none
        svc.submit(ev.UnitReassigned(iid, uid, to, body.reason, person=person))
    await svc.settled()
    return _both(svc, incident_id, body.to_incident)


@router.post("/{incident_id}/units/{unit_id}/divert")
async def divert(
    incident_id: str,
    unit_id: str,
    body: DivertIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Divert the unit on its way to `to_incident`, which must be of a higher priority (409
    otherwise, or once the unit is on scene); this incident goes back to the queue if it
    was its last unit."""
    check_version(svc, incident_id, if_match, version)
    to = IncidentId(body.to_incident)
    svc.engine.incident(to)  # 404 if there is none
    event = ev.UnitReassigned(
        IncidentId(incident_id), UnitId(unit_id), to, body.reason, True, person=person_of(who)
    )
    svc.submit(event)
    await svc.settled()
    return _both(svc, incident_id, body.to_incident)


def _both(svc: DispatchService, incident_id: str, to: str | None) -> dict[str, Any]:
    """The incident the unit left and the one it went to (None for a plain unassign)."""
    return {
        "incident": versioned(svc, incident_id),
        "to_incident": versioned(svc, to) if to is not None else None,
    }
