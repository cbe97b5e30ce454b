"""Hospitals: `POST /api/v1/hospitals/{id}/status`, the hospital's own report of diversion, ED
load and offload wait, which destination choice uses until it expires."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dispatch.http.common import ERRORS, Svc, Who
from dispatch.http.wire import HospitalStatusIn
from dispatch.tokens import Forbidden, Role

router = APIRouter(prefix="/api/v1/hospitals", tags=["hospitals"], responses=ERRORS)


@router.post("/{hospital_id}/status")
async def hospital_status(
    hospital_id: str, body: HospitalStatusIn, svc: Svc, who: Who
) -> dict[str, Any]:
    """The hospital reports diversion per capability, ED load and offload wait, valid for
    expires_in_s (at most 4 h); destination choice uses it until then (this hospital's
    token, or a dispatcher relaying a phone call)."""
    if who != (Role.HOSPITAL, hospital_id) and who[0] is not Role.DISPATCHER:
        raise Forbidden("this hospital's token only")
    return svc.hospitals.report_status(
        hospital_id, body.diverted, body.ed_occupancy, body.offload_wait_min, body.expires_in_s
    )
