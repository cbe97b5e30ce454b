"""The HTTP shell: `create_app(settings)` builds the FastAPI app around a dispatch service.

This module only assembles: the lifespan (open the service, attach the desks, start the
websockets on their own port and the background loops of `dispatch.http.loops`) and one router
per resource (`health`, `auth`, `calls`, `manual_calls`, `incidents`, `callers`, `patients`,
`units`, `hospitals`, `audit`, `traffic`, `volunteers`, `agencies`, `mci`, `map`, `console`,
`cockpit`, `schemas`), then the pages. Routes parse, authorise, call `DispatchService` and
answer once what they changed is durable (`await svc.settled()`). Every route runs on the event
loop (`async def`), so the service sees one request at a time between awaits. The bodies are
in `dispatch.http.wire`, the errors and the role checks in `dispatch.http.common`.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from dispatch.desks import agency as agency_desk
from dispatch.desks import mci as mci_desk
from dispatch.http import (
    agencies,
    assignments,
    audit,
    auth,
    callers,
    calls,
    cockpit,
    console,
    exports,
    health,
    hospitals,
    incidents,
    manual_calls,
    map,
    mci,
    notes,
    patients,
    protocol,
    quarantine,
    schemas,
    tracking,
    traffic,
    units,
    volunteers,
)
from dispatch.http.common import (
    BodyLimit,
    install_handlers,
    redact_server_logs,
)
from dispatch.http.loops import run_clock, run_positions
from dispatch.http.pages import mount_pages
from dispatch.http.ratelimit import ExpensiveReads, document_rate_limits
from dispatch.http.volunteers import attach as attach_volunteers
from dispatch.live.hub import Hub
from dispatch.service.retention import run_retention
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from dispatch.ws import video
from dispatch.ws.server import WsRoute, serve_websockets

# Desks (volunteers, agencies, ...) attach to the service before it starts: each reads its own
# state from the log's feeds, registers its watchers and token resolvers (dispatch.service.service)
# and keeps itself in `svc.extensions`; it returns its websockets by kind, which the app keeps
# in `app.state.ws_routes` and serves beside the built-in ones (dispatch.ws.server).
ATTACH: tuple[Callable[[DispatchService], dict[str, WsRoute]], ...] = (
    attach_volunteers,
    agency_desk.attach,
    mci_desk.attach,  # after the agency desk: it lists an MCI's units there
    video.attach,
)


# One router module per resource, in the order OpenAPI lists them.
ROUTERS = (
    health,
    auth,
    calls,
    manual_calls,
    incidents,
    assignments,  # several units per incident, unassign, reassign, divert
    protocol,  # the call-taking questions and telephone CPR
    notes,
    callers,
    exports,  # an incident as NEMSIS XML or a FHIR Bundle
    patients,
    units,
    hospitals,
    audit,
    traffic,
    volunteers,
    agencies,
    mci,
    map,
    quarantine,
    console,
    cockpit,
    schemas,
    tracking,
)


# --- the app ----------------------------------------------------------------------------------
def create_app(
    settings: Settings, openservice_of: Callable[..., DispatchService] | None = None
) -> FastAPI:
    """The app for `settings`; the service starts and stops with the app's lifespan."""

    opener = openservice_of or DispatchService.open
    redact_server_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub()
        svc = await asyncio.to_thread(opener, settings, hub)  # loads the city: seconds, not ms
        ws_routes: dict[str, WsRoute] = {}
        for attach in ATTACH:
            ws_routes.update(await asyncio.to_thread(attach, svc))
        app.state.ws_routes = ws_routes
        auth.attach_people(svc, settings)  # people's accounts and sessions (dispatch.users)
        svc.watchers.append(audit.audit_actions(svc))  # what each named person did
        svc.start(asyncio.get_running_loop())
        app.state.service = svc
        sockets = await serve_websockets(svc, settings, ws_routes)
        app.state.ws_port = next(iter(sockets.sockets)).getsockname()[1]
        # The city, its indexes and the replayed state are ~400k long-lived objects; a full
        # garbage collection over them stalls the loop for ~100 ms (measured in the server
        # benchmark). Freezing them leaves collections with only the objects made since.
        gc.freeze()
        # The writer and snapping threads hand results to the loop; by default a thread that
        # wants the GIL waits up to 5 ms for the holder to switch, which a call then waits for.
        sys.setswitchinterval(0.0005)
        clocks = [
            asyncio.create_task(run_clock(svc, settings.tick_s)),
            asyncio.create_task(run_positions(svc, settings.position_flush_s)),
            asyncio.create_task(run_retention(svc)),  # personal fields past retention
        ]
        try:
            yield
        finally:
            sockets.close()
            for task in clocks:
                task.cancel()
            await asyncio.gather(*clocks, return_exceptions=True)
            await sockets.wait_closed()
            svc.close()

    app = FastAPI(
        title="jijiu dispatch",
        version="1",
        lifespan=lifespan,
        description="Real-time emergency medical dispatch. Errors: "
        '`{"reason": "...", "detail": ...}`.',
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ExpensiveReads, per_min=settings.reads_per_min, burst=settings.reads_burst)
    install_handlers(app)
    for resource in ROUTERS:
        app.include_router(resource.router)
    mount_pages(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_rate_limits(require_idempotency_keys(plain_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def require_idempotency_keys(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document says `Idempotency-Key` is required, as it is: the routes declare it
    optional only so that its absence is our 400 `idempotency_key_required`, not a 422."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter["name"] == "Idempotency-Key":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 64}
                    parameter["description"] = (
                        "1-64 printable characters; a retry sends the same key and body"
                    )
    return spec
