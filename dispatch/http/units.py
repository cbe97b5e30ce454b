"""Units (each unit's own token): the crew's status buttons and one device's acknowledgement of
an offer, over HTTP for tablets that are not on their websocket."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.http.common import ERRORS, Svc, Who, same_unit
from dispatch.http.wire import AckIn, StatusIn

router = APIRouter(prefix="/api/v1/units", tags=["units"], responses=ERRORS)


@router.post("/{unit_id}/status")
async def unit_status(unit_id: str, body: StatusIn, svc: Svc, who: Who) -> dict[str, Any]:
    """The crew pressed a status button (this unit's token only)."""
    same_unit(who, unit_id)
    svc.submit(ev.UnitStatusReported(UnitId(unit_id), body.status))
    await svc.settled()
    return svc.views.unit(svc.engine.unit(UnitId(unit_id)))


@router.post("/{unit_id}/ack")
async def unit_ack(unit_id: str, body: AckIn, svc: Svc, who: Who) -> dict[str, Any]:
    """One crew device confirms the offer (this unit's token only)."""
    same_unit(who, unit_id)
    svc.submit(ev.OfferAcknowledged(IncidentId(body.incident_id), UnitId(unit_id), body.device))
    await svc.settled()
    return svc.views.job_of(unit_id) or {}
