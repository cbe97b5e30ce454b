"""What the console draws for the selected call beyond its place (dispatchers only): the call's
location sources, `GET /api/v1/incidents/{id}/sources`, and a unit's road route with its ETA,
`GET /api/v1/incidents/{id}/route`.

Both are reads of the service's state (`dispatch.service.views`); the sources are patient data (the
caller's handset position and words) and every read of them is audited. A route shows no more
than the incident's place and a unit's position, which the console's frames carry anyway:
it is not audited, as recommendations are not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only

router = APIRouter(
    prefix="/api/v1/incidents", tags=["console"], dependencies=[Depends(dispatcher_only)]
)

#: A unit id as the fleet names them (ALS01, SIM0042): letters, digits, - _ . only.
UNIT_ID = r"^[A-Za-z0-9_.-]{1,32}$"


@router.get("/{incident_id}/sources", responses=ERRORS)
async def location_sources(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """The call's location evidence beside the estimate: each handset fix (point, accuracy,
    95 % radius), the serving cell's wedge, the places the caller's words matched with their
    scores, the fused estimate with each source's share, and the conflict alarm naming the
    sources that disagree. `kept: false` when the server no longer holds the evidence (a
    restart, or an incident made without a call). Audited as `incident.sources`."""
    view = svc.locations.sources(incident_id)
    svc.feeds.audit(who[0].value, who[1], "incident.sources", [incident_id])
    return view


@router.get("/{incident_id}/route", responses=ERRORS)
async def unit_route(
    incident_id: str,
    svc: Svc,
    unit_id: Annotated[str | None, Query(pattern=UNIT_ID)] = None,
) -> dict[str, Any]:
    """The road route of the incident's unit, with its ETA: to the incident while it is
    coming, to the hospital's door while it transports; `route: null` when no unit drives
    (none yet, on scene, done). With `unit_id`: that unit's route to the incident, to preview
    a recommendation."""
    return svc.views.unit_route(incident_id, unit_id)
