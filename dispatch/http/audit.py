"""The audit trail (dispatchers): `GET /api/v1/audit`, who read which patient's data and when,
one record per read, oldest first, paged by `seq`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dispatch.http.common import ERRORS, Seq, Svc, dispatcher_only

router = APIRouter(
    prefix="/api/v1", tags=["audit"], dependencies=[Depends(dispatcher_only)], responses=ERRORS
)


@router.get("/audit")
async def audit(
    svc: Svc,
    after: Seq = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Who read which patient's data, and when: one record per read (a hospital's
    snapshot or replay, a dispatcher's or crew's read of an incident), oldest first
    after `after`. Page with the last `seq` seen."""
    await svc.feeds.written()
    return await asyncio.to_thread(svc.feeds.read_audit, after, limit)
