"""The CPR volunteers' routes: registration, verification, duty, position, their socket.

`attach` builds the desk (`dispatch.desks.volunteer`) from the log before the service starts,
hooks its watcher and token resolver into the service and returns its socket; the
`router` is included by `create_app`. Like `dispatch.http.traffic` it reuses the app's
dependencies and strict wire models, and holds no try/except.

- `POST /api/v1/volunteers` (anyone, `Idempotency-Key` required): register a phone once.
- `POST /api/v1/volunteers/{id}/verify` (dispatcher): the CPR certificate was checked.
- `GET /api/v1/volunteers/me`, `POST .../me/duty`, `POST .../me/location` (that volunteer).
- `GET /api/v1/incidents/{id}/volunteers` (dispatcher): the incident's call-out.
- `/ws/volunteers/{id}?token=&since=` (that volunteer): alerts, answers, duty, position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator
from websockets.asyncio.server import ServerConnection

from dispatch.desks.volunteer import (
    ANSWERS,
    CONFIG,
    MAX_CONSENT_S,
    NAME,
    DeskConfig,
    VolunteerDesk,
)
from dispatch.errors import InvalidEvent
from dispatch.http.common import (
    ERRORS,
    Svc,
    Who,
    checked_idempotency_key,
    dispatcher_only,
    ws_base,
)
from dispatch.http.wire import broken, strict
from dispatch.service.service import DispatchService
from dispatch.tokens import Forbidden, Role
from dispatch.ws.guards import since_of
from dispatch.ws.server import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    WsRoute,
    stream_topic,
)

router = APIRouter(prefix="/api/v1")


def attach(svc: DispatchService) -> dict[str, WsRoute]:
    """Rebuild the registry and open call-outs from the log; hook the desk into the service."""
    config = svc.extensions.get(CONFIG)
    desk = VolunteerDesk(svc, config if isinstance(config, DeskConfig) else DeskConfig())
    desk.rebuild()
    svc.extensions[NAME] = desk
    svc.watchers.append(desk.watch)
    svc.token_resolvers.append(desk.resolve)
    return {"volunteers": volunteer_socket}


def desk_of(svc: DispatchService) -> VolunteerDesk:
    desk = svc.extensions.get(NAME)
    assert isinstance(desk, VolunteerDesk), "the volunteer desk is not attached"
    return desk


async def _desk(svc: Svc) -> VolunteerDesk:
    return desk_of(svc)


async def _volunteer(who: Who) -> str:
    if who[0] is not Role.VOLUNTEER:
        raise Forbidden("volunteers only")
    return who[1]


Desk = Annotated[VolunteerDesk, Depends(_desk)]
Me = Annotated[str, Depends(_volunteer)]


# --- bodies -------------------------------------------------------------------------------------
class VolunteerIn(BaseModel):
    model_config = strict({"phone": "+8613900000000", "display_name": "小王"})
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")
    display_name: str | None = Field(None, min_length=1, max_length=32)

    @field_validator("display_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not (value.isprintable() and value.strip()):
            raise ValueError("a display name is printable and not blank")
        return value.strip() if value is not None else None


class RegisteredOut(BaseModel):
    volunteer_id: str
    token: str = Field(description="the volunteer's bearer token; the same on every retry")
    display_name: str
    cpr_verified: bool
    stream_url: str


class VerifyIn(BaseModel):
    model_config = strict({"cpr_verified": True})
    cpr_verified: bool = Field(True, strict=True)


class VerifiedOut(BaseModel):
    volunteer_id: str
    display_name: str
    cpr_verified: bool


class DutyIn(BaseModel):
    """On duty with a consent that expires; off duty without one (`consent_without_duty`)."""

    model_config = strict({"on_duty": True, "consent_expires_in_s": 14_400}, {"on_duty": False})
    on_duty: bool = Field(strict=True)
    consent_expires_in_s: float | None = Field(
        None, ge=1, le=MAX_CONSENT_S, description="how long the position may be used; on duty"
    )

    @model_validator(mode="after")
    def _consent_with_duty(self) -> DutyIn:
        if self.on_duty and self.consent_expires_in_s is None:
            raise ValueError("going on duty needs consent_expires_in_s")
        if not self.on_duty and self.consent_expires_in_s is not None:
            raise broken("consent_without_duty", "consent_expires_in_s is for going on duty")
        return self


class PositionIn(BaseModel):
    model_config = strict({"lat": 30.2803, "lon": 120.1465})
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


# --- routes -------------------------------------------------------------------------------------
@router.post(
    "/volunteers",
    tags=["volunteers"],
    status_code=201,
    response_model=RegisteredOut,
    responses={200: {"model": RegisteredOut, "description": "a retry: the first answer"}, **ERRORS},
)
async def register(
    body: VolunteerIn,
    desk: Desk,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Register as a CPR volunteer: answered with an id and a token once it is logged. A retry
    with the same key and phone gets the same answer (200); another key is another unverified
    registration (201), for a known phone too, so the answer never tells whether a phone
    volunteers already. Only a keyed hash of the phone is kept."""
    key = checked_idempotency_key(idempotency_key)
    answer, created = await desk.register(body.phone, body.display_name or "", key)
    answer["stream_url"] = f"{ws_base(request)}/ws/volunteers/{answer['volunteer_id']}"
    return JSONResponse(answer, status_code=201 if created else 200)


@router.post(
    "/volunteers/{volunteer_id}/verify",
    tags=["volunteers"],
    response_model=VerifiedOut,
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def verify(
    volunteer_id: str, desk: Desk, body: Annotated[VerifyIn | None, Body()] = None
) -> dict[str, Any]:
    """The operator checked the volunteer's CPR certificate (logged); `cpr_verified: false`
    withdraws it and takes the volunteer off duty."""
    return await desk.verify(volunteer_id, body.cpr_verified if body is not None else True)


@router.get("/volunteers/me", tags=["volunteers"], responses=ERRORS)
async def me(desk: Desk, vid: Me) -> dict[str, Any]:
    """The volunteer's own state: certificate, duty, consent left, position, live alerts."""
    return desk.state(vid)


@router.post("/volunteers/me/duty", tags=["volunteers"], responses=ERRORS)
async def duty(body: DutyIn, desk: Desk, vid: Me) -> dict[str, Any]:
    """On duty, consenting to share a position for consent_expires_in_s (at most 12 h); off
    duty forgets the position. Not logged: a restart forgets duty and positions."""
    return desk.set_duty(vid, body.on_duty, body.consent_expires_in_s)


@router.post("/volunteers/me/location", tags=["volunteers"], responses=ERRORS)
async def location(body: PositionIn, desk: Desk, vid: Me) -> dict[str, Any]:
    """The volunteer's position, while on duty and consenting (else 409 `off_duty` or
    `consent_expired`). Kept in memory only, the last one."""
    return desk.report_location(vid, body.lat, body.lon)


@router.get(
    "/incidents/{incident_id}/volunteers",
    tags=["incidents"],
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def incident_volunteers(incident_id: str, desk: Desk) -> dict[str, Any]:
    """The incident's call-out: radius, the ETA it assumed, counts by status, and each alerted
    volunteer's status, role and distance (never their phone or name)."""
    return desk.case_view(incident_id)


# --- the volunteer's socket ---------------------------------------------------------------------
async def volunteer_socket(
    svc: DispatchService,
    conn: ServerConnection,
    who: tuple[Role, str] | None,
    rest: list[str],
    query: dict[str, str],
) -> None:
    """/ws/volunteers/{id}: that volunteer only. A resume with `since` is always replayed from
    the log (the topic's hub history is dropped first), so every replayed frame passes
    `VolunteerDesk.redacted`: no address of an alert that has ended."""
    if len(rest) != 1:
        return await conn.close(CLOSE_NOT_FOUND, "no such socket")
    volunteer_id = rest[0]
    if who is None:
        return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
    if who != (Role.VOLUNTEER, volunteer_id):
        return await conn.close(CLOSE_FORBIDDEN, "this volunteer's token only")
    try:
        seen = since_of(query)  # 1-18 ASCII digits
    except ValueError:
        return await conn.close(CLOSE_BAD_REQUEST, "since is a sequence number")
    desk = desk_of(svc)
    topic = f"volunteer:{volunteer_id}"
    svc.feeds.open_feed(topic)
    if seen is not None:
        svc.hub.start_at(topic, svc.hub.last_seq(topic))

    async def on_frame(frame: dict[str, Any]) -> dict[str, Any] | None:
        return await _volunteer_frame(desk, volunteer_id, frame)

    def missed(after: int) -> AsyncIterator[dict[str, Any]]:
        return desk.missed(volunteer_id, after)

    snapshot = partial(desk.snapshot, volunteer_id)
    return await stream_topic(conn, svc, topic, seen, snapshot, on_frame, missed)


async def _volunteer_frame(
    desk: VolunteerDesk, volunteer_id: str, frame: dict[str, Any]
) -> dict[str, Any]:
    """A frame from the volunteer's phone: an answer to an alert, duty, or a position; the
    reply once it is durable (duty and positions are in memory: at once)."""
    kind = frame.get("type")
    if isinstance(kind, str) and kind in ANSWERS:
        return await desk.answer(volunteer_id, frame.get("incident_id"), kind)
    if kind == "duty":
        state = desk.set_duty(volunteer_id, frame.get("on_duty"), frame.get("consent_expires_in_s"))
        return {
            "type": "accepted",
            "frame": "duty",
            "on_duty": state["on_duty"],
            "consent_expires_in_s": state["consent_expires_in_s"],
        }
    if kind == "location":
        desk.report_location(volunteer_id, frame.get("lat"), frame.get("lon"))
        return {"type": "accepted", "frame": "location"}
    expected = ", ".join((*ANSWERS, "duty", "location"))
    raise InvalidEvent(f"unknown frame type {kind!r}; expected {expected}")
