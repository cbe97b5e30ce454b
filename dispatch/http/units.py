"""Units (each unit's own token, or one of its devices' tokens): the crew's status buttons, one
device's acknowledgement of an offer over HTTP for tablets that are not on their websocket, and
a dispatcher giving a unit's device its own token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.errors import InvalidEvent
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, same_unit
from dispatch.http.wire import AckIn, DeviceIn, StatusIn
from dispatch.tokens import DEFAULT_DEVICE, ack_device

router = APIRouter(prefix="/api/v1/units", tags=["units"], responses=ERRORS)


@router.post("/{unit_id}/status")
async def unit_status(unit_id: str, body: StatusIn, svc: Svc, who: Who) -> dict[str, Any]:
    """The crew pressed a status button (this unit's token only); the status the unit already
    has, sent again (a tablet's offline queue resending), succeeds and changes nothing."""
    same_unit(who, unit_id)
    svc.submit(ev.UnitStatusReported(UnitId(unit_id), body.status))
    await svc.settled()
    return svc.views.unit(svc.engine.unit(UnitId(unit_id)))


@router.post("/{unit_id}/ack")
async def unit_ack(
    unit_id: str, body: AckIn, svc: Svc, who: Who, request: Request
) -> dict[str, Any]:
    """One crew device confirms the offer (this unit's tokens only): a device token acks as its
    own device; the unit's shared token as the device named, or "default"."""
    same_unit(who, unit_id)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    device = ack_device(
        svc.tokens.device_of(token) or DEFAULT_DEVICE,
        body.device,
        svc.engine.unit(UnitId(unit_id)).devices,
    )
    svc.submit(ev.OfferAcknowledged(IncidentId(body.incident_id), UnitId(unit_id), device))
    await svc.settled()
    return svc.views.job_of(unit_id) or {}


@router.get("/{unit_id}/route")
async def unit_route(unit_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """The unit's own road route and ETA (this unit's tokens only): to its incident while it
    is coming, to the hospital's door while it transports; `route: null` otherwise."""
    same_unit(who, unit_id)
    incident_id = svc.engine.unit(UnitId(unit_id)).incident_id
    if incident_id is None:
        return {"incident_id": None, "unit_id": unit_id, "to": None, "hospital_id": None,
                "route": None}  # fmt: skip
    return svc.views.unit_route(incident_id)


@router.post("/{unit_id}/devices", status_code=201)
async def unit_device(unit_id: str, body: DeviceIn, svc: Svc, who: Who) -> dict[str, Any]:
    """A dispatcher gives one of the unit's devices its own token, shown this once (a new one
    replaces the device's old token); the server keeps only its SHA-256."""
    await dispatcher_only(who)
    svc.engine.unit(UnitId(unit_id))  # 404 for a unit this server does not know
    if body.name == DEFAULT_DEVICE:
        raise InvalidEvent(f"{DEFAULT_DEVICE!r} is the unit's shared token, not a device")
    token = svc.tokens.add_device(unit_id, body.name)
    return {"unit_id": unit_id, "device": body.name, "token": token}
