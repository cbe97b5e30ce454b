"""Hospitals: `POST /api/v1/hospitals/{id}/status`, the hospital's own report of diversion, ED
load and offload wait, which destination choice uses until it expires; `GET
/api/v1/hospitals/{id}`, its names, for its wall screen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dispatch.errors import UnknownHospital
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


@router.get("/{hospital_id}")
async def hospital_names(hospital_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """The hospital's names in Chinese and English (this hospital's token, or a dispatcher):
    the wall screen's title."""
    if who != (Role.HOSPITAL, hospital_id) and who[0] is not Role.DISPATCHER:
        raise Forbidden("this hospital's token only")
    if hospital_id not in svc.hospitals.registry:
        raise UnknownHospital(hospital_id)
    h = svc.hospitals.registry.hospital(hospital_id)
    return {"hospital_id": h.id, "name": h.name_zh, "name_en": h.name_en}
