"""Calls: `POST /api/v1/calls`, the one-tap call from a phone. Located by fusion, opened as an
incident, answered once it is in the event log, idempotent per phone and key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from dispatch.http.common import ERRORS, Svc, checked_idempotency_key, ws_base
from dispatch.http.wire import CallIn, CallOut, evidence_of

router = APIRouter(prefix="/api/v1", tags=["calls"])


@router.post(
    "/calls",
    status_code=201,
    response_model=CallOut,
    responses={
        200: {
            "model": CallOut,
            "description": "a retry, or the phone's open incident called again",
        },
        202: {"description": "the phone is quarantined: logged, `quarantined: true`"},
        **ERRORS,
    },
)
async def create_call(
    body: CallIn,
    svc: Svc,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """One tap: locate, open an incident, answer with its estimate and a caller token.

    Answered once the call is in the event log; a retry with the same key (and phone)
    gets the first answer with 200, never a second incident; so does the phone calling again
    while its incident is open. A phone in quarantine is answered 202 (docs/wire-protocol.md).
    """
    key = checked_idempotency_key(idempotency_key)
    evidence = evidence_of(body, svc.now())
    located = await svc.calls.locate(body.phone, evidence)  # in a worker process when up
    answer, created = svc.calls.create(body.phone, evidence, body.complaint, key, located)
    await svc.settled()
    incident_id = answer["incident_id"]
    answer["stream_url"] = f"{ws_base(request)}/ws/calls/{incident_id}" if incident_id else None
    status = 202 if answer.get("quarantined") else 201 if created else 200
    return JSONResponse(answer, status_code=status)
