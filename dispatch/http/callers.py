"""A caller's number, for a dispatcher to call back, and its purge after retention.

    GET  /api/v1/incidents/{id}/caller   the number (and a voice call's notes), dispatchers only,
                                         every read audited (`caller.read`); 410 once purged
    POST /api/v1/retention/purge         purge what retention says is due now (or a dry run)

The number is opened from its sealed copy with the incident's data key (`dispatch.service.
personal`), off the event loop; the answer is marked `Cache-Control: no-store`. Nothing else
the server answers, publishes or logs carries a number.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dispatch.core.model import IncidentId
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, error_response
from dispatch.http.wire import ErrorOut, strict
from dispatch.service import retention

router = APIRouter(prefix="/api/v1", tags=["callers"], dependencies=[Depends(dispatcher_only)])

#: Why there is no number to give, by the incident's state (`Personal.state`).
GONE = {
    "purged": (410, "purged", "the caller's number was purged after the retention period"),
    "lost": (410, "key_lost", "the caller's number cannot be opened: its key was not kept"),
    "none": (404, "no_caller_number", "this incident has no caller number kept"),
}


class CallerOut(BaseModel):
    incident_id: str
    phone: str = Field(description="E.164 (a voice call's normalised ANI, an app's as sent)")
    callback_allowed: bool
    source: Literal["app", "voice"]
    notes: str | None = Field(description="what the call-taker typed, if anything")


class PurgeIn(BaseModel):
    model_config = strict({"dry_run": True})
    dry_run: bool = Field(False, description="only list what is due")


class PurgeOut(BaseModel):
    retention_days: float
    dry_run: bool
    due: list[str] = Field(description="closed incidents whose personal fields are due")
    purged: list[str] = Field(description="those purged now (none on a dry run)")


@router.get(
    "/incidents/{incident_id}/caller",
    response_model=CallerOut,
    responses={
        **ERRORS,
        404: {"model": ErrorOut, "description": "no such incident, or no number kept"},
        410: {"model": ErrorOut, "description": "purged (`purged`) or its key lost"},
    },
)
async def caller(incident_id: str, svc: Svc, who: Who) -> JSONResponse:
    """The caller's number for a call-back, with the callback flag and a voice call's notes.
    Every read is audited (`caller.read`, with its outcome); 410 `purged` after retention."""
    inc = svc.engine.incident(IncidentId(incident_id))  # 404 for an unknown id
    fields = await asyncio.to_thread(svc.personal.read, inc)
    state = "kept" if fields is not None else await asyncio.to_thread(svc.personal.state, inc)
    svc.feeds.audit(who[0].value, who[1], "caller.read", [inc.incident_id], outcome=state)
    headers = {"Cache-Control": "no-store"}
    if fields is None:
        status, reason, detail = GONE.get(state, GONE["lost"])
        return error_response(status, reason, detail, headers)
    body: dict[str, Any] = {
        "incident_id": inc.incident_id,
        "phone": fields["phone"],
        "callback_allowed": inc.callback_allowed,
        "source": inc.source,
        "notes": fields.get("notes"),
    }
    return JSONResponse(body, headers=headers)


@router.post("/retention/purge", response_model=PurgeOut, responses=ERRORS)
async def purge(body: PurgeIn, svc: Svc) -> dict[str, Any]:
    """Purge the personal fields of incidents closed `JIJIU_RETENTION_DAYS` or more ago:
    a tombstone each in the log, then their data keys shredded (what `jijiu purge` asks)."""
    return await retention.purge(svc, body.dry_run)
