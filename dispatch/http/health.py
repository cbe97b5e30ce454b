"""Health and discovery: `/healthz` (liveness: the process answers), `/readyz` (calls are being
acknowledged now, else 503 with a reason code and no internals), and `GET /api/v1/endpoints`
(where the websockets listen), `GET /api/v1/city` (the city served, and which of its data
layers are not configured: docs/city.md).

/readyz reasons: `store_unavailable` (the event log cannot be reached or refuses writes; the
server retries by itself), `store_recovering` (it answers again; the server is checking its
position before it writes), `store_diverged` (the log moved on without this server: writes
stop until a person looks), `standby` (another process holds the event log's writer lease;
this one takes over when it stops renewing it). The same reasons come with every 503 of a
write, with Retry-After.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dispatch.http.common import Svc, store_refusal, ws_base
from dispatch.http.wire import EndpointsOut, ErrorOut
from dispatch.service.city import city_of
from routing.city import LAYERS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorOut}})
async def readyz(svc: Svc) -> JSONResponse:
    """Ready when calls are acknowledged now: no store outage and the event log answers."""
    state = svc.outage.state
    if state is None and not await asyncio.to_thread(svc.log.ping):  # never block the loop
        state = "store_unavailable"
    if state is not None:
        return store_refusal(state)
    return JSONResponse({"status": "ready"})


@router.get("/api/v1/endpoints", response_model=EndpointsOut)
async def endpoints(request: Request) -> dict[str, str]:
    """Where the websockets listen (their own port, beside this API)."""
    return {"websocket": ws_base(request)}


@router.get("/api/v1/city")
async def city(svc: Svc) -> dict[str, object]:
    """The city served: its name, read-back locale, timezone and, per data layer, whether it
    is configured; a feature needing a missing layer answers "not configured" (docs/city.md)."""
    served = city_of(svc.settings)
    missing = served.missing()
    return {
        "name": served.name,
        "locale": served.locale,
        "timezone": served.timezone,
        "layers": {name: name not in missing for name in LAYERS},  # True: configured
        "not_configured": list(missing),
    }
