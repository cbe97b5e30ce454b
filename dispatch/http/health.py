"""Health and discovery: `/healthz` (the process is up), `/readyz` (the event log answers and no
append has failed), and `GET /api/v1/endpoints` (where the websockets listen)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dispatch.http.common import Svc, error_response, ws_base
from dispatch.http.wire import EndpointsOut, ErrorOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorOut}})
async def readyz(svc: Svc) -> JSONResponse:
    """Ready when the event log answers and no append has failed since the start."""
    if svc.poisoned:
        return error_response(503, "restart_required", "an event log append failed; restart")
    if not await asyncio.to_thread(svc.log.ping):  # never block the loop on the store
        return error_response(503, "store_unavailable")
    return JSONResponse({"status": "ready"})


@router.get("/api/v1/endpoints", response_model=EndpointsOut)
async def endpoints(request: Request) -> dict[str, str]:
    """Where the websockets listen (their own port, beside this API)."""
    return {"websocket": ws_base(request)}
