"""Incidents (dispatchers, and a caller reading their own): list, read, the ranked units, send
a unit, triage, cancel, and the nearest AEDs. Each change answers once it is durable.

Every incident has a `version` (one more for every change; also its ETag). An edit may send
the version it was made on (`If-Match: "7"` or `?version=7`); if the incident changed since,
the answer is 409 `stale_version` with the incident as it is now in `current`, and nothing is
changed. An edit by a named person carries their name into its event (`person`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.errors import IllegalTransition
from dispatch.http.common import (
    ERRORS,
    InvalidVersion,
    StaleVersion,
    Svc,
    Who,
    dispatcher_only,
    dispatcher_or_caller,
    person_of,
)
from dispatch.http.wire import AssignmentIn, AssignmentOut, CancelIn, KeepApartIn, LinkIn, TriageIn
from dispatch.service.service import DispatchService

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)
dispatcher = [Depends(dispatcher_only)]
ETAG = re.compile(r'(?:W/)?"?([0-9]{1,12})"?')
IfMatch = Annotated[
    str | None, Header(max_length=32, description='the version edited, as its ETag ("7")')
]
Version = Annotated[int | None, Query(ge=0, le=10**12, description="the version edited")]


class LocationConflictUnconfirmed(IllegalTransition):
    """409: the incident's location sources disagree and the assignment did not say
    `confirm_conflict: true` (the dispatcher has not confirmed where to send the unit)."""

    reason = "location_conflict_unconfirmed"


def versioned(svc: DispatchService, incident_id: str) -> dict[str, Any]:
    """The incident's full view with its version."""
    view = svc.views.incident(incident_id)
    view["version"] = svc.engine.incident(IncidentId(incident_id)).version
    return view


def check_version(
    svc: DispatchService, incident_id: str, if_match: str | None, version: int | None
) -> None:
    """Refuse (409 stale_version, with the incident as it is) an edit made on an older
    version; no version sent, or `If-Match: *`, edits whatever is current."""
    expected = version
    if if_match is not None and if_match.strip() != "*":
        found = ETAG.fullmatch(if_match.strip())
        if found is None:
            raise InvalidVersion('If-Match takes an incident version, as "7"')
        expected = int(found.group(1))
    current = svc.engine.incident(IncidentId(incident_id)).version  # 404 if there is none
    if expected is not None and expected != current:
        raise StaleVersion(
            f"the incident is at version {current}, not {expected}: it changed meanwhile",
            versioned(svc, incident_id),
        )


@router.get("", dependencies=dispatcher)
async def list_incidents(svc: Svc, open_only: bool = True) -> list[dict[str, Any]]:
    """Every open incident (or all with open_only=false), newest state, with its version."""
    views = svc.views.incidents(open_only)
    for view in views:
        view["version"] = svc.engine.incident(IncidentId(view["incident_id"])).version
    return views


@router.get("/{incident_id}")
async def get_incident(incident_id: str, svc: Svc, who: Who, response: Response) -> dict[str, Any]:
    """The incident with its version (also the ETag); its caller sees the timeline and the
    coming unit, not who it is."""
    full = dispatcher_or_caller(who, incident_id)
    if not full:
        return svc.views.incident(incident_id, for_caller=True)
    view = versioned(svc, incident_id)
    response.headers["ETag"] = f'"{view["version"]}"'
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
async def assign(
    incident_id: str,
    body: AssignmentIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Send a unit: the offer goes to all its crew devices; 409 if it was taken meanwhile,
    if the incident changed since the version sent, or (`location_conflict_unconfirmed`) if
    its location sources disagree and `confirm_conflict` is not true."""
    check_version(svc, incident_id, if_match, version)
    inc = svc.engine.incident(IncidentId(incident_id))
    if not body.confirm_conflict and svc.locations.conflict_of(inc) is not None:
        raise LocationConflictUnconfirmed(
            f"incident {incident_id}'s location sources disagree: confirm the place first "
            "(send confirm_conflict: true, or place it by words or pin)"
        )
    person = person_of(who)
    svc.submit(ev.UnitAssigned(IncidentId(incident_id), UnitId(body.unit_id), person=person))
    deadline_s = svc.engine.incident(IncidentId(incident_id)).offer_deadline_s
    await svc.settled()
    return {"incident_id": incident_id, "unit_id": body.unit_id, "deadline_s": deadline_s}


@router.post("/{incident_id}/triage", dependencies=dispatcher)
async def triage(
    incident_id: str,
    body: TriageIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Set priority, complaint and an opaque determinant code; 409 `stale_version` (and
    nothing changed) if the incident changed since the version sent."""
    check_version(svc, incident_id, if_match, version)
    iid, person = IncidentId(incident_id), person_of(who)
    svc.submit(ev.IncidentTriaged(iid, body.priority, body.complaint, body.determinant, person))
    await svc.settled()
    return versioned(svc, incident_id)


@router.post("/{incident_id}/cancel", dependencies=dispatcher)
async def cancel(
    incident_id: str,
    body: CancelIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Cancel before transport; the unit (if any) becomes available on the road."""
    check_version(svc, incident_id, if_match, version)
    svc.submit(ev.IncidentCancelled(IncidentId(incident_id), body.reason, person_of(who)))
    await svc.settled()
    return versioned(svc, incident_id)


@router.post("/{incident_id}/link", dependencies=dispatcher)
async def link(
    incident_id: str,
    body: LinkIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> dict[str, Any]:
    """Link this incident (a possible duplicate) into `primary_id`: one incident, several
    callers. It closes as linked and its callers follow the primary's unit; the answer is the
    primary. 409 if either is closed or this one has a unit (take it off first)."""
    check_version(svc, incident_id, if_match, version)
    primary = IncidentId(body.primary_id)
    svc.engine.incident(primary)  # 404 if there is none
    svc.submit(ev.IncidentLinked(IncidentId(incident_id), primary, person_of(who)))
    await svc.settled()
    return versioned(svc, primary)


@router.post("/{incident_id}/keep-apart", dependencies=dispatcher)
async def keep_apart(incident_id: str, body: KeepApartIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Keep this incident apart from `other_id`, which it was suggested to duplicate: two
    emergencies, both stay open; the log says who judged so."""
    other = IncidentId(body.other_id)
    svc.submit(ev.DuplicateKeptApart(IncidentId(incident_id), other, person_of(who)))
    await svc.settled()
    return versioned(svc, incident_id)


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
