"""Notes on an incident: `POST /api/v1/incidents/{id}/notes` (call-takers and dispatchers).

A note is a line of free text (at most 1000 characters) with its time and the person who wrote
it, logged as `NoteAdded` and answered once durable. It shows in the incident's view, on every
console and on the crew's tablet; never in a partner agency's feed (it is personal data, like
the rest of the incident's text). The Idempotency-Key is kept with the note in the log, so a
retry (even after a restart) answers the first note and adds none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from dispatch.core import events as ev
from dispatch.core.model import IncidentId
from dispatch.http.common import (
    ERRORS,
    Svc,
    Who,
    checked_idempotency_key,
    dispatcher_only,
    person_of,
)
from dispatch.http.wire import NoteIn, NoteOut

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)


@router.post(
    "/{incident_id}/notes",
    status_code=201,
    response_model=NoteOut,
    dependencies=[Depends(dispatcher_only)],
    responses={200: {"model": NoteOut, "description": "a retry: the note the key added"}},
)
async def add_note(
    incident_id: str,
    body: NoteIn,
    svc: Svc,
    who: Who,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Add a note to an open incident (201); a retry with the same key answers the note it
    added (200). 404 for no such incident, 409 once it is closed."""
    key = checked_idempotency_key(idempotency_key)
    inc = svc.engine.incident(IncidentId(incident_id))
    status = 200
    if not any(n[3] == key for n in inc.notes):
        status = 201
        svc.submit(ev.NoteAdded(inc.incident_id, body.text, key, person_of(who)))
    await svc.settled()
    at_s, person, text, _ = next(n for n in inc.notes if n[3] == key)
    out: dict[str, Any] = {"incident_id": inc.incident_id, "at_s": at_s, "person": person}
    out["text"] = text
    return JSONResponse(out, status_code=status)
