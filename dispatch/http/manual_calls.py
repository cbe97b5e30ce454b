"""Voice calls: `POST /api/v1/calls/manual`, a phone call typed in by a call-taker (dispatchers).

The caller's number (the ANI the phone shows, normalised), where they are in words and/or a point
picked on the map, the complaint, whether they may be called back and optional notes. It goes
the way of the app's one-tap call (`dispatch.service.calls`): the same fusion (the words through
the gazetteer, the picked point as a fix with its radius), the same never-refuse rule (an
unlocated or off-road call still opens an incident, flagged for placing), the same idempotency
per number and key, the same repeat and quarantine rules per number. The incident's source is
"voice"; the number and notes are logged only sealed (`dispatch.service.personal`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from dispatch.core.model import Complaint, IncidentId
from dispatch.http.common import ERRORS, Svc, checked_idempotency_key, dispatcher_only
from dispatch.http.wire import EstimateOut, strict
from dispatch.service.phone_numbers import normalise
from location_fusion.fixes import DeviceFix, device_fix
from location_fusion.locate import CallEvidence

router = APIRouter(prefix="/api/v1", tags=["calls"])

MAX_NOTES = 500  # characters: a line or two the call-taker types while listening
PICK_CONFIDENCE = 0.95  # a picked point's radius is a 95 % radius


class PointIn(BaseModel):
    """A point the call-taker picked on the map, with how far off it may be."""

    model_config = strict({"lat": 30.2803, "lon": 120.1465, "radius_m": 50})
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(50.0, gt=0, le=100_000, description="95 % radius of the pick")


class ManualCallIn(BaseModel):
    model_config = strict(
        {
            "phone": "138 0013 8000",
            "spoken": "文三路学院路口",
            "complaint": "chest_pain",
            "callback_allowed": True,
        },
        {
            "phone": "0571-87654321",
            "point": {"lat": 30.2803, "lon": 120.1465, "radius_m": 30},
            "complaint": "cardiac_arrest",
            "callback_allowed": False,
            "notes": "caller is a neighbour; door code 1234",
        },
    )
    phone: str = Field(
        min_length=3,
        max_length=32,
        pattern=r"^[0-9+ ()\-.]+$",
        description="the caller's number (ANI): a Chinese mobile, a landline with its area "
        "code, or +country; spaces, hyphens, dots and brackets are ignored; kept as E.164",
    )
    spoken: str | None = Field(
        None, max_length=200, description="where, in the caller's words (the gazetteer's)"
    )
    point: PointIn | None = Field(None, description="a point picked on the map")
    complaint: Complaint | None = None
    callback_allowed: bool = Field(True, description="the caller may be called back")
    notes: str | None = Field(
        None, max_length=MAX_NOTES, description="free text, sealed with the number"
    )

    @field_validator("phone")
    @classmethod
    def _normalised(cls, phone: str) -> str:
        return normalise(phone)  # InvalidPhone is a ValueError: a 422 that never echoes it


class ManualCallOut(BaseModel):
    incident_id: str | None = Field(description="None only for a quarantined number's call")
    estimate: EstimateOut
    location_status: Literal["located", "off_road", "unlocated"] = "located"
    located: bool = True
    source: Literal["app", "voice"] = Field(
        "voice", description="the incident's: an open incident a repeat joined may be an app's"
    )
    quarantined: bool = False


def voice_evidence(body: ManualCallIn, now_s: float) -> CallEvidence:
    """The call's location evidence: the picked point as a fix (taken now), the words."""
    fixes: tuple[DeviceFix, ...] = ()
    if body.point is not None:
        p = body.point
        fix = device_fix(
            p.lat,
            p.lon,
            p.radius_m,
            confidence=PICK_CONFIDENCE,
            source="fused",
            observed_at_s=now_s,
        )
        fixes = (fix,) if fix is not None else ()
    spoken = body.spoken.strip() if body.spoken else None
    return CallEvidence(fixes, None, spoken or None)


@router.post(
    "/calls/manual",
    status_code=201,
    response_model=ManualCallOut,
    dependencies=[Depends(dispatcher_only)],
    responses={
        200: {"model": ManualCallOut, "description": "a retry, or the number's open incident"},
        202: {"model": ManualCallOut, "description": "the number is quarantined"},
        **ERRORS,
    },
)
async def create_manual_call(
    body: ManualCallIn,
    svc: Svc,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """A phone call typed in: located by the words and/or the picked point, opened as an
    incident with source "voice", answered once it is in the event log (201). A retry with the
    same key and number gets the first answer (200); so does the number calling again while its
    incident is open. Unlocated or off the roads, the incident still opens, flagged."""
    key = "voice:" + checked_idempotency_key(idempotency_key)
    evidence = voice_evidence(body, svc.now())
    located = await svc.calls.locate(body.phone, evidence)
    voice = (body.callback_allowed, body.notes or "")
    answer, created = svc.calls.create(body.phone, evidence, body.complaint, key, located, voice)
    await svc.settled()
    await svc.personal.saved()
    out: dict[str, Any] = {k: v for k, v in answer.items() if k != "caller_token"}
    incident_id = answer.get("incident_id")
    inc = svc.engine.incidents.get(IncidentId(incident_id)) if incident_id else None
    out["source"] = inc.source if inc is not None else "voice"
    status = 202 if answer.get("quarantined") else 201 if created else 200
    return JSONResponse(out, status_code=status)
