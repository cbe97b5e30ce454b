"""The caller's tracking link: a page that follows the coming ambulance (`/track#token=...`).

    POST /api/v1/incidents/{id}/tracking-link   the link for the incident's caller, to send by
                                                SMS to a phoned-in caller (dispatchers; audited)
    GET  /api/v1/tracking                       what the page needs, for the caller's own token:
                                                its incident, where the websockets are, the
                                                "what to do now" card and nearby AEDs

The link carries the caller token (derived from the incident id, `dispatch.tokens`) in the
URL fragment, which browsers never send, so it reaches no access log. It lives while the
incident is open: once it closes both this route (410 `link_expired`) and the caller's socket
(4404) refuse, and the page shows no data.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dispatch.core.model import Complaint, IncidentId
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, error_response, ws_base
from dispatch.http.wire import ErrorOut, strict
from dispatch.tokens import Forbidden, Role

router = APIRouter(prefix="/api/v1", tags=["tracking"], responses=ERRORS)
GONE: dict[int | str, dict[str, Any]] = {410: {"model": ErrorOut, "description": "closed"}}
AED_COUNT = 2  # the nearest AEDs shown with the CPR card
AED_MAX_WALK_S = 300.0  # a bystander's fetch worth making while someone does CPR


class TrackingLinkOut(BaseModel):
    model_config = strict({"incident_id": "I3f2a9c01b4", "link": "https://h/track#token=..."})
    incident_id: str
    link: str = Field(description="the caller's tracking page, the token in its fragment")


class AedOut(BaseModel):
    model_config = strict()
    lat: float
    lon: float
    walk_s: float = Field(ge=0)
    directions: str = Field(description="the walk to read out, in the city's language")
    location: str = Field(description="where in the building (OSM defibrillator:location)")
    description: str


class TrackingOut(BaseModel):
    model_config = strict()
    incident_id: str
    websocket: str = Field(description="the websockets' base URL; open /ws/calls/{id}?token=")
    advice: Literal["cpr", "general"] = Field(description="which 'what to do now' card")
    aeds: list[AedOut] = Field(description="the nearest open AEDs on foot (with the CPR card)")


def link_expired() -> JSONResponse:
    return error_response(
        410, "link_expired", "the incident is closed: this link is no longer valid"
    )


@router.post(
    "/incidents/{incident_id}/tracking-link",
    response_model=TrackingLinkOut,
    dependencies=[Depends(dispatcher_only)],
    responses=GONE,
)
async def tracking_link(
    incident_id: str, request: Request, svc: Svc, who: Who
) -> dict[str, str] | JSONResponse:
    """The caller's tracking link for this incident (to send by SMS); every issue audited."""
    inc = svc.engine.incident(IncidentId(incident_id))  # 404 if there is none
    if not inc.open:
        return link_expired()
    token = svc.tokens.caller_token(incident_id)
    svc.feeds.audit(who[0].value, who[1], "tracking_link.issued", [incident_id])
    return {"incident_id": incident_id, "link": f"{request.base_url}track#token={token}"}


@router.get("/tracking", response_model=TrackingOut, responses=GONE)
async def tracking(request: Request, svc: Svc, who: Who) -> dict[str, Any] | JSONResponse:
    """For the caller's tracking page: its incident, the websockets' base, the card to show
    (CPR for a cardiac arrest, with the nearest open AEDs) and nothing about the crew."""
    if who[0] is not Role.CALLER:
        raise Forbidden("a caller's token only")
    incident_id = who[1]
    inc = svc.engine.incident(IncidentId(incident_id))
    if not inc.open:
        return link_expired()
    cpr = inc.complaint is Complaint.CARDIAC_ARREST
    nearby = svc.aeds.nearby(incident_id, AED_COUNT, AED_MAX_WALK_S) if cpr else []
    aeds = [{k: a.get(k) for k in AedOut.model_fields} for a in nearby]
    return {
        "incident_id": incident_id,
        "websocket": ws_base(request),
        "advice": "cpr" if cpr else "general",
        "aeds": aeds,
    }
