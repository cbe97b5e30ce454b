"""Quarantine (dispatchers): `GET /api/v1/quarantine`, the phones that call faster than a person
can, and `POST /api/v1/quarantine/{phone_hash}/release`, logged with who released it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only

router = APIRouter(
    prefix="/api/v1", tags=["quarantine"], dependencies=[Depends(dispatcher_only)], responses=ERRORS
)


@router.get("/quarantine")
async def quarantine(svc: Svc) -> list[dict[str, Any]]:
    """The quarantined phones, by keyed hash (never the number), oldest first: their calls
    are logged but open no incident and cost no console frame."""
    return svc.calls.quarantine()


@router.post("/quarantine/{phone_hash}/release")
async def release(phone_hash: str, svc: Svc, who: Who) -> dict[str, Any]:
    """Release a phone: its next call is an ordinary call again. 409 if it is not quarantined,
    422 for a malformed hash."""
    answer = svc.calls.release(phone_hash, who[1] or who[0].value)  # the dispatcher's name
    await svc.settled()
    return answer
