"""The HTTP shell: `create_app(settings)` builds the FastAPI app around a dispatch service.

Routes parse, authorise, call `DispatchService` and answer once what they changed is durable
(`await svc.settled()`). Every route runs on the event loop (`async def`), so the service sees
one request at a time between awaits. The bodies are in `dispatch.http.wire`, the errors and the
role checks in `dispatch.http.common`, the live-data routes (traffic, caller fixes, the
dispatcher's location) in `dispatch.http.traffic`, and the websockets, which the lifespan
starts on their own port, in `dispatch.ws.server`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId
from dispatch.core.probe_speeds import DRIVING, Learned, ProbeLearner, ProbeParams
from dispatch.desks import agency as agency_desk
from dispatch.desks import mci as mci_desk
from dispatch.errors import (
    DispatchError,
)
from dispatch.http.agencies import router as agency_routes
from dispatch.http.cockpit import router as cockpit_routes
from dispatch.http.common import (
    ERRORS,
    BodyLimit,
    Svc,
    Who,
    checked_idempotency_key,
    dispatcher_only,
    dispatcher_or_caller,
    error_response,
    install_handlers,
    redact_server_logs,
    same_unit,
    ws_base,
)
from dispatch.http.console import router as console_routes
from dispatch.http.map import router as map_routes
from dispatch.http.mci import router as mci_routes
from dispatch.http.pages import mount_pages
from dispatch.http.schemas import router as schema_routes
from dispatch.http.volunteers import attach as attach_volunteers
from dispatch.http.volunteers import router as volunteers_router
from dispatch.http.wire import (
    AckIn,
    AssignmentIn,
    AssignmentOut,
    CallIn,
    CallOut,
    CancelIn,
    DestinationIn,
    EndpointsOut,
    ErrorOut,
    HospitalStatusIn,
    PatientIn,
    StatusIn,
    TriageIn,
    evidence_of,
)
from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from dispatch.tokens import Forbidden, Role
from dispatch.ws import video
from dispatch.ws.server import WsRoute, serve_websockets
from routing.snap import RoadPosition, Snapper

logger = logging.getLogger("jijiu.dispatch")
PROBE_EXPIRES_IN_S = ProbeParams().expires_in_s  # a learned factor's life without a refresh


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


# --- the app ----------------------------------------------------------------------------------
def create_app(
    settings: Settings, openservice_of: Callable[..., DispatchService] | None = None
) -> FastAPI:
    """The app for `settings`; the service starts and stops with the app's lifespan."""
    from dispatch.http.traffic import router as live_data  # it imports this module's parts

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
            asyncio.create_task(_run_clock(svc, settings.tick_s)),
            asyncio.create_task(_run_positions(svc, settings.position_flush_s)),
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
    install_handlers(app)
    _http_routes(app)
    app.include_router(live_data)
    app.include_router(volunteers_router)
    app.include_router(agency_routes)
    app.include_router(mci_routes)
    app.include_router(map_routes)
    app.include_router(console_routes)
    app.include_router(cockpit_routes)
    app.include_router(schema_routes)
    mount_pages(app)
    return app


def _on_the_job(svc: DispatchService, who: tuple[Role, str], incident_id: str) -> bool:
    """True for the token of the unit holding this incident."""
    unit = svc.engine.units.get(UnitId(who[1])) if who[0] is Role.UNIT else None
    return unit is not None and unit.incident_id == incident_id


async def _run_clock(svc: DispatchService, period_s: float) -> None:
    """Tick the engine every period (offer escalations); a failing store is logged once."""
    while True:
        await asyncio.sleep(period_s)
        if svc.poisoned:
            continue
        try:
            svc.tick()
        except DispatchError as exc:
            logger.error("clock tick refused: %s", exc.reason)


async def _run_positions(svc: DispatchService, period_s: float) -> None:
    """Every period: snap the units that moved onto the road on a worker thread (a batch of
    1000 takes ~13 ms of STRtree queries, which release the GIL: the loop keeps serving) and
    learn the speeds they drive there (dispatch.core.probe_speeds, on the same thread), then send
    the movements to consoles and callers and write the learned factors into the router."""
    learner: ProbeLearner | None = ProbeLearner(svc.router.net)
    while True:
        await asyncio.sleep(period_s)
        ids, lats, lons = svc.engine.take_moved()
        if ids:
            units = svc.engine.units
            driving = [(u := units.get(i)) is not None and u.status in DRIVING for i in ids]
            now_s = svc.now()
            found, learned = await asyncio.to_thread(
                _snap_and_learn, svc.router.snapper, learner, ids, lats, lons, driving, now_s
            )
            svc.engine.apply_road_positions(ids, lats, lons, found)
            if learned is None:
                learner = None  # it failed (logged once): positions go on, learning stops
            elif learned.edges.size:
                writes = svc.inputs.traffic.set_probe(
                    learned.edges, learned.factors, now_s, PROBE_EXPIRES_IN_S
                )
                for write in writes:
                    svc.router.set_congestion(write.edges, write.factor)
        svc.fanout.flush_positions()


def _snap_and_learn(
    snapper: Snapper,
    learner: ProbeLearner | None,
    ids: list[UnitId],
    lats: list[float],
    lons: list[float],
    driving: list[bool],
    now_s: float,
) -> tuple[list[RoadPosition | None], Learned | None]:
    """The worker thread's part: road positions, and the probe factors they teach (None when
    the learner is off or failed: a bug there must not stop positions reaching consoles)."""
    found = snapper.road_positions(lats, lons)
    if learner is None:
        return found, None
    edges = [p.edge if p is not None else -1 for p in found]
    fractions = [p.fraction if p is not None else 0.0 for p in found]
    try:
        return found, learner.observe(ids, edges, fractions, driving, now_s)
    except Exception:  # logged once, here; the loop then stops learning
        logger.exception("probe speeds failed; learning from positions stops")
        return found, None


def _http_routes(app: FastAPI) -> None:
    api = "/api/v1"
    dispatcher = [Depends(dispatcher_only)]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorOut}})
    async def readyz(svc: Svc) -> JSONResponse:
        """Ready when the event log answers and no append has failed since the start."""
        if svc.poisoned:
            return error_response(503, "restart_required", "an event log append failed; restart")
        if not await asyncio.to_thread(svc.log.ping):  # never block the loop on the store
            return error_response(503, "store_unavailable")
        return JSONResponse({"status": "ready"})

    @app.post(
        f"{api}/calls",
        tags=["calls"],
        status_code=201,
        response_model=CallOut,
        responses={200: {"model": CallOut, "description": "a retry: the first answer"}, **ERRORS},
    )
    async def create_call(
        body: CallIn,
        svc: Svc,
        request: Request,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """One tap: locate, open an incident, answer with its estimate and a caller token.

        Answered once the call is in the event log; a retry with the same key (and phone)
        gets the first answer with 200, never a second incident.
        """
        key = checked_idempotency_key(idempotency_key)
        answer, created = svc.calls.create(
            body.phone, evidence_of(body, svc.now()), body.complaint, key
        )
        await svc.settled()
        answer["stream_url"] = f"{ws_base(request)}/ws/calls/{answer['incident_id']}"
        return JSONResponse(answer, status_code=201 if created else 200)

    @app.get(f"{api}/endpoints", tags=["health"], response_model=EndpointsOut)
    async def endpoints(request: Request) -> dict[str, str]:
        """Where the websockets listen (their own port, beside this API)."""
        return {"websocket": ws_base(request)}

    @app.get(f"{api}/incidents", tags=["incidents"], dependencies=dispatcher, responses=ERRORS)
    async def list_incidents(svc: Svc, open_only: bool = True) -> list[dict[str, Any]]:
        """Every open incident (or all with open_only=false), newest state."""
        return svc.views.incidents(open_only)

    @app.get(f"{api}/incidents/{{incident_id}}", tags=["incidents"], responses=ERRORS)
    async def get_incident(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
        """The incident; its caller sees the timeline and the coming unit, not who it is."""
        full = dispatcher_or_caller(who, incident_id)
        view = svc.views.incident(incident_id, for_caller=not full)
        if full:
            svc.feeds.audit(who[0].value, who[1], "incident.read", [incident_id])
        return view

    @app.get(
        f"{api}/incidents/{{incident_id}}/recommendations",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def recommendations(incident_id: str, svc: Svc) -> list[dict[str, Any]]:
        """Units ranked by effective ETA, with the reasons."""
        return svc.views.recommendations(incident_id)

    @app.get(f"{api}/incidents/{{incident_id}}/destinations", tags=["incidents"], responses=ERRORS)
    async def destinations(incident_id: str, svc: Svc, who: Who) -> list[dict[str, Any]]:
        """Hospitals for the patient, best first: capable, not on diversion, by road ETA plus
        expected offload delay, each with its reasons. Dispatchers and the unit on the job."""
        if who[0] is not Role.DISPATCHER and not _on_the_job(svc, who, incident_id):
            raise Forbidden("dispatchers and the unit on this incident only")
        ranked = svc.hospitals.destinations(incident_id)
        svc.feeds.audit(who[0].value, who[1], "incident.destinations", [incident_id])
        return ranked

    @app.post(f"{api}/incidents/{{incident_id}}/destination", tags=["incidents"], responses=ERRORS)
    async def destination(
        incident_id: str, body: DestinationIn, svc: Svc, who: Who
    ) -> dict[str, Any]:
        """Route the patient to a hospital (the crew or a dispatcher; logged, with the reason
        when it overrides the ranking). The hospital hears `patient.inbound`; one chosen
        before hears `patient.diverted`."""
        by = "dispatcher" if who[0] is Role.DISPATCHER else "crew"
        if by == "crew" and not _on_the_job(svc, who, incident_id):
            raise Forbidden("dispatchers and the unit on this incident only")
        svc.hospitals.choose(incident_id, body.hospital_id, by, body.reason)
        await svc.settled()
        return svc.views.incident(incident_id)

    @app.post(f"{api}/incidents/{{incident_id}}/handover", tags=["incidents"], responses=ERRORS)
    async def handover(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
        """Transfer of care at the destination (NEMSIS eTimes.12): by the receiving hospital,
        the crew or a dispatcher. The hospital hears `patient.closed`."""
        receiving = who[0] is Role.HOSPITAL and svc.hospitals.routed_to(incident_id) == who[1]
        if (
            who[0] is not Role.DISPATCHER
            and not receiving
            and not _on_the_job(svc, who, incident_id)
        ):
            raise Forbidden("the receiving hospital, the crew or a dispatcher only")
        svc.submit(ev.HandoverCompleted(IncidentId(incident_id)))
        await svc.settled()
        view = svc.views.incident(incident_id)
        if who[0] is Role.HOSPITAL:  # never the address or the crew's details
            return {k: view[k] for k in ("incident_id", "step", "timeline")}
        return view

    @app.post(f"{api}/incidents/{{incident_id}}/patient", tags=["incidents"], responses=ERRORS)
    async def patient(incident_id: str, body: PatientIn, svc: Svc, who: Who) -> dict[str, Any]:
        """The patient's age band and sex, for the receiving hospital's notice (logged; a
        hospital already chosen hears `patient.inbound` again). Dispatchers and the crew."""
        if who[0] is not Role.DISPATCHER and not _on_the_job(svc, who, incident_id):
            raise Forbidden("dispatchers and the unit on this incident only")
        svc.hospitals.describe_patient(incident_id, body.age_band, body.sex)
        await svc.settled()
        return svc.views.incident(incident_id)

    @app.get(
        f"{api}/incidents/{{incident_id}}/aeds",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def aeds(
        incident_id: str,
        svc: Svc,
        k: Annotated[int, Query(ge=1, le=10)] = 3,
        max_walk_s: Annotated[float, Query(gt=0, le=1800)] = 600.0,
    ) -> list[dict[str, Any]]:
        """The nearest public AEDs on foot, open now, with directions to read to a bystander."""
        return svc.aeds.nearby(incident_id, k, max_walk_s)

    @app.get(f"{api}/audit", tags=["audit"], dependencies=dispatcher, responses=ERRORS)
    async def audit(
        svc: Svc,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Who read which patient's data, and when: one record per read (a hospital's
        snapshot or replay, a dispatcher's or crew's read of an incident), oldest first
        after `after`. Page with the last `seq` seen."""
        await svc.feeds.written()
        return await asyncio.to_thread(svc.feeds.read_audit, after, limit)

    @app.post(f"{api}/hospitals/{{hospital_id}}/status", tags=["hospitals"], responses=ERRORS)
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

    @app.post(
        f"{api}/incidents/{{incident_id}}/assignment",
        tags=["incidents"],
        status_code=201,
        response_model=AssignmentOut,
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def assign(incident_id: str, body: AssignmentIn, svc: Svc) -> dict[str, Any]:
        """Send a unit: the offer goes to all its crew devices; 409 if it was taken meanwhile."""
        svc.submit(ev.UnitAssigned(IncidentId(incident_id), UnitId(body.unit_id)))
        deadline_s = svc.engine.incident(IncidentId(incident_id)).offer_deadline_s
        await svc.settled()
        return {"incident_id": incident_id, "unit_id": body.unit_id, "deadline_s": deadline_s}

    @app.post(
        f"{api}/incidents/{{incident_id}}/triage",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def triage(incident_id: str, body: TriageIn, svc: Svc) -> dict[str, Any]:
        """Set priority, complaint and an opaque determinant code."""
        svc.submit(
            ev.IncidentTriaged(
                IncidentId(incident_id), body.priority, body.complaint, body.determinant
            )
        )
        await svc.settled()
        return svc.views.incident(incident_id)

    @app.post(
        f"{api}/incidents/{{incident_id}}/cancel",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def cancel(incident_id: str, body: CancelIn, svc: Svc) -> dict[str, Any]:
        """Cancel before transport; the unit (if any) becomes available on the road."""
        svc.submit(ev.IncidentCancelled(IncidentId(incident_id), body.reason))
        await svc.settled()
        return svc.views.incident(incident_id)

    @app.post(f"{api}/units/{{unit_id}}/status", tags=["units"], responses=ERRORS)
    async def unit_status(unit_id: str, body: StatusIn, svc: Svc, who: Who) -> dict[str, Any]:
        """The crew pressed a status button (this unit's token only)."""
        same_unit(who, unit_id)
        svc.submit(ev.UnitStatusReported(UnitId(unit_id), body.status))
        await svc.settled()
        return svc.views.unit(svc.engine.unit(UnitId(unit_id)))

    @app.post(f"{api}/units/{{unit_id}}/ack", tags=["units"], responses=ERRORS)
    async def unit_ack(unit_id: str, body: AckIn, svc: Svc, who: Who) -> dict[str, Any]:
        """One crew device confirms the offer (this unit's token only)."""
        same_unit(who, unit_id)
        svc.submit(ev.OfferAcknowledged(IncidentId(body.incident_id), UnitId(unit_id), body.device))
        await svc.settled()
        return svc.views.job_of(unit_id) or {}
