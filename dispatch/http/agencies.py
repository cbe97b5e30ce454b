"""The partner-agency routes: a dispatcher flags an incident for police, fire or traffic police;
an agency reads its incidents and posts notes back.

- `POST /api/v1/incidents/{incident_id}/agencies` (dispatcher): flag for agencies, with the
  incident type they are told and an optional note; `DELETE .../agencies/{agency_id}` unflags;
  `GET .../agencies` shows the flags and notes.
- `POST /api/v1/agencies/{agency_id}/notes` (that agency): a status note on one of its
  incidents (the websocket's `note` frame does the same).
- `GET /api/v1/agencies/{agency_id}/incidents` (that agency): its active incidents, as the
  socket's snapshot.

The desk (`dispatch.desks.agency`) does the work; every answer waits until it is durable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from dispatch.core.eido import IncidentType
from dispatch.desks.agency import MAX_NOTE_CHARS, desk_of
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only
from dispatch.http.wire import broken, strict
from dispatch.tokens import Forbidden, Role

router = APIRouter(prefix="/api/v1")

AgencyId = Literal["police", "fire", "traffic_police"]  # dispatch.core.eido.AGENCIES


class FlagIn(BaseModel):
    """The agencies to tell (each once: `duplicate_entries`), what it is, and a note."""

    model_config = strict(
        {
            "agencies": ["police", "traffic_police"],
            "incident_type": "traffic_collision",
            "note": "two cars, one on its side, lane 2 blocked",
        }
    )
    agencies: Annotated[list[AgencyId], Field(min_length=1, max_length=3)]
    incident_type: IncidentType | None = Field(
        None, description="what the agencies are told it is (default: as before, else medical)"
    )
    note: str | None = Field(None, min_length=1, max_length=MAX_NOTE_CHARS)

    @model_validator(mode="after")
    def _each_once(self) -> FlagIn:
        if len(set(self.agencies)) != len(self.agencies):
            raise broken("duplicate_entries", "an agency is listed twice")
        return self


class NoteOut(BaseModel):
    author: str = Field(description="an agency id, or jijiu.ems for the dispatcher")
    text: str
    at: str = Field(description="ISO 8601 time it was posted")


class FlagsOut(BaseModel):
    incident_id: str
    incident_type: IncidentType | None
    agencies: list[str]
    notes: list[NoteOut]


class AgencyNoteIn(BaseModel):
    model_config = strict({"incident_id": "I3f2a9c01b4", "text": "road closed at 文三路"})
    incident_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class AgencyNoteOut(BaseModel):
    incident_id: str
    agency_id: str
    text: str
    at_s: float


async def _that_agency(agency_id: str, who: Who) -> None:
    if who != (Role.AGENCY, agency_id):
        raise Forbidden("this agency's token only")


@router.post(
    "/incidents/{incident_id}/agencies",
    tags=["agencies"],
    response_model=FlagsOut,
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def flag_incident(incident_id: str, body: FlagIn, svc: Svc) -> dict[str, Any]:
    """Share the incident with partner agencies: each gets it on its feed at once and every
    update after, never a medical detail. 409 once the incident is closed."""
    return await desk_of(svc).flag(incident_id, body.agencies, body.incident_type, body.note)


@router.delete(
    "/incidents/{incident_id}/agencies/{agency_id}",
    tags=["agencies"],
    response_model=FlagsOut,
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def unflag_incident(incident_id: str, agency_id: str, svc: Svc) -> dict[str, Any]:
    """Stop sharing with one agency: it hears `incident.unflagged` and nothing more of it."""
    return await desk_of(svc).unflag(incident_id, agency_id)


@router.get(
    "/incidents/{incident_id}/agencies",
    tags=["agencies"],
    response_model=FlagsOut,
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def incident_flags(incident_id: str, svc: Svc) -> dict[str, Any]:
    """The agencies the incident is shared with, and every note on it."""
    return desk_of(svc).flags_view(incident_id)


@router.post(
    "/agencies/{agency_id}/notes",
    tags=["agencies"],
    status_code=201,
    response_model=AgencyNoteOut,
    dependencies=[Depends(_that_agency)],
    responses=ERRORS,
)
async def post_note(agency_id: str, body: AgencyNoteIn, svc: Svc) -> dict[str, Any]:
    """A status note from the agency on an incident flagged for it (any other incident:
    404 unknown_incident); the console hears `agency.note`, the flagged agencies the update."""
    return await desk_of(svc).note(agency_id, body.incident_id, body.text)


@router.get(
    "/agencies/{agency_id}/incidents",
    tags=["agencies"],
    dependencies=[Depends(_that_agency)],
    responses=ERRORS,
)
async def agency_incidents(agency_id: str, svc: Svc) -> list[dict[str, Any]]:
    """The agency's active incidents as EIDO-style documents (the socket's snapshot)."""
    return list(desk_of(svc).snapshot(agency_id)["incidents"])
