"""The HTTP and websocket shell: `create_app(settings)` builds the FastAPI app around a service.

Routes parse, authorise, call `DispatchService` and answer; they hold no try/except: the
exception handlers below turn the typed errors into machine-readable bodies
`{"reason": ..., "detail": ...}` (401 unauthenticated, 403 forbidden, 404 unknown, 409 conflict,
413 too large, 422 invalid, 429 too many, 503 store down). Every route runs on the event loop
(`async def`), so the service sees one request at a time between awaits. The live-data routes
(traffic, caller fixes, the dispatcher's location) are in `dispatch.routes_traffic`.

Websockets authenticate in the handshake from `?token=`; the connection is accepted and then
closed with 4401 (no or unknown token), 4403 (a role or unit that may not open this socket),
4404 (a caller token for another incident, or no such incident: the same answer) or 4400
(a malformed `since`). After a snapshot frame, hub frames follow; a malformed frame from the
client gets `{"type": "error", "reason": ...}` and the connection stays open.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch import events as ev
from dispatch.errors import (
    DispatchError,
    IllegalTransition,
    InvalidEvent,
    StoreError,
    UnitUnavailable,
    UnknownIncident,
    UnknownUnit,
)
from dispatch.hub import Hub, pump
from dispatch.model import Complaint, IncidentId, Priority, UnitId, UnitStatus
from dispatch.service import DispatchService, NoLocation, NoMatch
from dispatch.settings import Settings
from dispatch.tokens import Forbidden, Role, Unauthenticated
from dispatch.traffic import InvalidArea, TooManyEntries, UnknownEdge, UnknownStreet
from location_fusion.cells import CellObservation
from location_fusion.errors import FusionError
from location_fusion.fixes import DeviceFix, device_fix
from location_fusion.locate import CallEvidence

logger = logging.getLogger("jijiu.dispatch")


# --- wire models (OpenAPI) --------------------------------------------------------------------
def _strict(*examples: dict[str, Any]) -> ConfigDict:
    """Unknown fields refused, NaN and infinity refused, and the examples OpenAPI shows."""
    return ConfigDict(
        extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": list(examples)}
    )


class FixIn(BaseModel):
    model_config = _strict({"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12, "source": "gnss"})
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(gt=0, le=100_000, description="radius holding `confidence`")
    confidence: float | None = Field(None, gt=0, lt=100, description="0.68, or 68 (percent)")
    source: Literal["gnss", "wifi", "cell", "fused"] = "gnss"

    def to_fix(self, observed_at_s: float) -> DeviceFix | None:
        """The validated device fix (None for "no fix": a report at 0,0)."""
        return device_fix(
            self.lat,
            self.lon,
            self.accuracy_m,
            confidence=self.confidence,
            source=self.source,
            observed_at_s=observed_at_s,
        )


class CellIn(BaseModel):
    model_config = _strict({"mcc": 460, "mnc": 0, "area": 22547, "cell": 123456789})
    mcc: int = Field(ge=100, le=999)
    mnc: int = Field(ge=0, le=999)
    area: int = Field(ge=0, le=2**32)
    cell: int = Field(ge=0, lt=2**36)
    radio: Literal["GSM", "UMTS", "LTE", "NR", "CDMA"] = "LTE"
    timing_advance: int | None = Field(None, ge=0, le=1282)


class CallIn(BaseModel):
    model_config = _strict(
        {
            "phone": "+8613800000000",
            "consent_location": True,
            "complaint": "chest_pain",
            "fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12},
            "spoken": "文三路学院路口",
        }
    )
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")
    fix: FixIn | None = None
    cell: CellIn | None = None
    spoken: str | None = Field(None, max_length=200)
    complaint: Complaint | None = None
    consent_location: bool = Field(description="without it the device fix is not used")


class ConflictOut(BaseModel):
    sources: list[str]
    distance_m: float
    message: str


class EstimateOut(BaseModel):
    lat: float
    lon: float
    radius95_m: float
    description: str
    conflict: ConflictOut | None


class CallOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "incident_id": "I3f2a9c01b4",
                    "estimate": {
                        "lat": 30.2803,
                        "lon": 120.1465,
                        "radius95_m": 23.5,
                        "description": "文三路与学院路交叉口附近，约 20 米",
                        "conflict": None,
                    },
                    "caller_token": "4kq0mJ2n8rCk1c3mXg7W9A",
                }
            ]
        }
    )
    incident_id: str
    estimate: EstimateOut
    caller_token: str = Field(description="bearer token for this incident only (128-bit)")


class AssignmentIn(BaseModel):
    model_config = _strict({"unit_id": "ALS01"})
    unit_id: str = Field(min_length=1, max_length=64)


class AssignmentOut(BaseModel):
    incident_id: str
    unit_id: str
    deadline_s: float | None = Field(description="engine time by which the crew must ack")


class TriageIn(BaseModel):
    model_config = _strict({"priority": 1, "complaint": "cardiac_arrest", "determinant": "09E01"})
    priority: Priority
    complaint: Complaint
    determinant: str = Field("", max_length=16)


class CancelIn(BaseModel):
    model_config = _strict({"reason": "duplicate"})
    reason: str = Field("", max_length=200)


class StatusIn(BaseModel):
    model_config = _strict({"status": "en_route"})
    status: UnitStatus


class AckIn(BaseModel):
    model_config = _strict({"incident_id": "I3f2a9c01b4", "device": "tablet"})
    incident_id: str = Field(min_length=1, max_length=64)
    device: str = Field(min_length=1, max_length=64)


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "unit_unavailable", "detail": "unit ALS01 is en_route"}]
        }
    )
    reason: str
    detail: Any = None


def evidence_of(body: CallIn, now_s: float) -> CallEvidence:
    """The call's location evidence; the device fix only with the caller's consent."""
    fix = None
    if body.fix is not None and body.consent_location:
        fix = body.fix.to_fix(now_s)
    cell = None
    if body.cell is not None:
        c = body.cell
        cell = CellObservation(c.mcc, c.mnc, c.area, c.cell, c.radio, c.timing_advance, now_s)
    return CallEvidence((fix,) if fix is not None else (), cell, body.spoken)


class IdempotencyKeyRequired(DispatchError, ValueError):
    reason = "idempotency_key_required"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (UnknownIncident, 404),
    (UnknownUnit, 404),
    (UnknownEdge, 404),
    (UnknownStreet, 404),
    (IllegalTransition, 409),
    (UnitUnavailable, 409),
    (InvalidEvent, 422),
    (NoLocation, 422),
    (NoMatch, 422),
    (InvalidArea, 422),
    (TooManyEntries, 429),
    (IdempotencyKeyRequired, 400),
    (StoreError, 503),
)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
CLOSE_BAD_REQUEST, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4400, 4401, 4403, 4404


def _error(status: int, reason: str, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"reason": reason}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is answered 413 before the app runs.

    A declared Content-Length over the limit is refused unread; a streamed (chunked) body is
    buffered up to the limit, then handed on.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        buffered: list[Message] = []
        total = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(
            413, "body_too_large", f"request bodies are at most {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class RedactTokens(logging.Filter):
    """Rewrites `token=...` in log lines: uvicorn logs websocket paths with their query."""

    PATTERN = re.compile(r"token=[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub("token=***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub("token=***", record.msg)
        return True


def redact_server_logs() -> None:
    """Install RedactTokens on uvicorn's loggers (once)."""
    for name in ("uvicorn.error", "uvicorn.access"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


# --- who is asking ----------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="a role token from the tokens file")


async def _service(request: Request) -> DispatchService:
    svc: DispatchService = request.app.state.service
    return svc


Svc = Annotated[DispatchService, Depends(_service)]


async def _who(
    svc: Svc, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> tuple[Role, str]:
    who = svc.identify(creds.credentials) if creds is not None else None
    if who is None:
        raise Unauthenticated("a valid bearer token is required")
    return who


Who = Annotated[tuple[Role, str], Depends(_who)]


async def _dispatcher(who: Who) -> None:
    if who[0] is not Role.DISPATCHER:
        raise Forbidden("dispatchers only")


def _same_unit(who: tuple[Role, str], unit_id: str) -> None:
    if who != (Role.UNIT, unit_id):
        raise Forbidden("this unit's token only")


def _dispatcher_or_caller(who: tuple[Role, str], incident_id: str) -> bool:
    """True for the dispatcher, False for this incident's caller; else 404 or 403."""
    if who[0] is Role.DISPATCHER:
        return True
    if who[0] is Role.CALLER:
        if who[1] != incident_id:
            raise UnknownIncident(f"no incident {incident_id}")  # uniform: as if it did not exist
        return False
    raise Forbidden("dispatchers and this incident's caller only")


def _idempotency_key(key: str | None) -> str:
    if key is None or not (0 < len(key) <= 64 and key.isprintable()):
        raise IdempotencyKeyRequired("send an Idempotency-Key header of 1-64 printable characters")
    return key


# --- the app ----------------------------------------------------------------------------------
def create_app(
    settings: Settings, open_service: Callable[..., DispatchService] | None = None
) -> FastAPI:
    """The app for `settings`; the service starts and stops with the app's lifespan."""
    from dispatch.routes_traffic import router as live_data  # it imports this module's parts

    opener = open_service or DispatchService.open
    redact_server_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub()
        svc = await asyncio.to_thread(opener, settings, hub)  # loads the city: seconds, not ms
        app.state.service = svc
        # The city, its indexes and the replayed state are ~400k long-lived objects; a full
        # garbage collection over them stalls the loop for ~100 ms (measured in the server
        # benchmark). Freezing them leaves collections with only the objects made since.
        gc.freeze()
        clock = asyncio.create_task(_run_clock(svc, settings.tick_s))
        try:
            yield
        finally:
            clock.cancel()
            await asyncio.gather(clock, return_exceptions=True)
            svc.close()

    app = FastAPI(
        title="jijiu dispatch",
        version="1",
        lifespan=lifespan,
        description="Real-time emergency medical dispatch. Errors: "
        '`{"reason": "...", "detail": ...}`.',
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    _install_handlers(app)
    _http_routes(app)
    app.include_router(live_data)
    _ws_routes(app)
    return app


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


def _install_handlers(app: FastAPI) -> None:
    async def dispatch_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DispatchError)
        status = next((code for cls, code in STATUS if isinstance(exc, cls)), 400)
        if status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, exc.reason)
        return _error(status, exc.reason, str(exc))

    async def fusion_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FusionError)
        return _error(422, exc.reason, str(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # loc, msg and type only: pydantic's `input` would echo phone numbers and free text.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return _error(422, "invalid_request", detail)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return _error(500, "internal_error")

    app.add_exception_handler(DispatchError, dispatch_error)
    app.add_exception_handler(FusionError, fusion_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


def _http_routes(app: FastAPI) -> None:
    api = "/api/v1"
    dispatcher = [Depends(_dispatcher)]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorOut}})
    async def readyz(svc: Svc) -> JSONResponse:
        """Ready when the event log answers and no append has failed since the start."""
        if svc.poisoned:
            return _error(503, "restart_required", "an event log append failed; restart")
        if not svc.log.ping():
            return _error(503, "store_unavailable")
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
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """One tap: locate, open an incident, answer with its estimate and a caller token."""
        key = _idempotency_key(idempotency_key)
        answer, created = svc.create_call(
            body.phone, evidence_of(body, svc.now()), body.complaint, key
        )
        return JSONResponse(answer, status_code=201 if created else 200)

    @app.get(f"{api}/incidents", tags=["incidents"], dependencies=dispatcher, responses=ERRORS)
    async def list_incidents(svc: Svc, open_only: bool = True) -> list[dict[str, Any]]:
        """Every open incident (or all with open_only=false), newest state."""
        return svc.incidents(open_only)

    @app.get(f"{api}/incidents/{{incident_id}}", tags=["incidents"], responses=ERRORS)
    async def get_incident(incident_id: str, svc: Svc, who: Who) -> dict[str, Any]:
        """The incident; its caller sees the timeline and the coming unit, not who it is."""
        full = _dispatcher_or_caller(who, incident_id)
        return svc.incident_view(incident_id, for_caller=not full)

    @app.get(
        f"{api}/incidents/{{incident_id}}/recommendations",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def recommendations(incident_id: str, svc: Svc) -> list[dict[str, Any]]:
        """Units ranked by effective ETA, with the reasons."""
        return svc.recommendations(incident_id)

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
        inc = svc.engine.incident(IncidentId(incident_id))
        return {
            "incident_id": incident_id,
            "unit_id": body.unit_id,
            "deadline_s": inc.offer_deadline_s,
        }

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
        return svc.incident_view(incident_id)

    @app.post(
        f"{api}/incidents/{{incident_id}}/cancel",
        tags=["incidents"],
        dependencies=dispatcher,
        responses=ERRORS,
    )
    async def cancel(incident_id: str, body: CancelIn, svc: Svc) -> dict[str, Any]:
        """Cancel before transport; the unit (if any) becomes available on the road."""
        svc.submit(ev.IncidentCancelled(IncidentId(incident_id), body.reason))
        return svc.incident_view(incident_id)

    @app.post(f"{api}/units/{{unit_id}}/status", tags=["units"], responses=ERRORS)
    async def unit_status(unit_id: str, body: StatusIn, svc: Svc, who: Who) -> dict[str, Any]:
        """The crew pressed a status button (this unit's token only)."""
        _same_unit(who, unit_id)
        svc.submit(ev.UnitStatusReported(UnitId(unit_id), body.status))
        return svc.unit_view(svc.engine.unit(UnitId(unit_id)))

    @app.post(f"{api}/units/{{unit_id}}/ack", tags=["units"], responses=ERRORS)
    async def unit_ack(unit_id: str, body: AckIn, svc: Svc, who: Who) -> dict[str, Any]:
        """One crew device confirms the offer (this unit's token only)."""
        _same_unit(who, unit_id)
        svc.submit(ev.OfferAcknowledged(IncidentId(body.incident_id), UnitId(unit_id), body.device))
        return svc.job_of(unit_id) or {}


# --- websockets -------------------------------------------------------------------------------
def _ws_routes(app: FastAPI) -> None:
    @app.websocket("/ws/console")
    async def console(websocket: WebSocket) -> None:
        svc: DispatchService = websocket.app.state.service
        await websocket.accept()
        who = _ws_who(svc, websocket)
        if who is None:
            return await websocket.close(CLOSE_UNAUTHENTICATED)
        if who[0] is not Role.DISPATCHER:
            return await websocket.close(CLOSE_FORBIDDEN)
        since = websocket.query_params.get("since")
        if since is not None and not since.isdigit():
            return await websocket.close(CLOSE_BAD_REQUEST)
        await _stream(
            websocket,
            svc,
            "console",
            int(since) if since is not None else None,
            svc.console_snapshot,
        )

    @app.websocket("/ws/units/{unit_id}")
    async def unit(websocket: WebSocket, unit_id: str) -> None:
        svc: DispatchService = websocket.app.state.service
        await websocket.accept()
        who = _ws_who(svc, websocket)
        if who is None:
            return await websocket.close(CLOSE_UNAUTHENTICATED)
        if who != (Role.UNIT, unit_id):
            return await websocket.close(CLOSE_FORBIDDEN)
        if unit_id not in svc.engine.units:  # a token left from an older log
            return await websocket.close(CLOSE_NOT_FOUND)
        await _stream(
            websocket,
            svc,
            f"unit:{unit_id}",
            None,
            lambda: svc.unit_snapshot(unit_id),
            lambda frame: _unit_frame(svc, unit_id, frame),
        )

    @app.websocket("/ws/calls/{incident_id}")
    async def call(websocket: WebSocket, incident_id: str) -> None:
        svc: DispatchService = websocket.app.state.service
        await websocket.accept()
        who = _ws_who(svc, websocket)
        if who is None:
            return await websocket.close(CLOSE_UNAUTHENTICATED)
        if who[0] is Role.CALLER and who[1] != incident_id:
            return await websocket.close(CLOSE_NOT_FOUND)
        if who[0] not in (Role.CALLER, Role.DISPATCHER) or incident_id not in svc.engine.incidents:
            return await websocket.close(
                CLOSE_NOT_FOUND if who[0] is Role.DISPATCHER else CLOSE_FORBIDDEN
            )
        await _stream(
            websocket, svc, f"call:{incident_id}", None, lambda: svc.call_snapshot(incident_id)
        )


def _ws_who(svc: DispatchService, websocket: WebSocket) -> tuple[Role, str] | None:
    token = websocket.query_params.get("token", "")
    return svc.identify(token) if token else None


async def _stream(
    websocket: WebSocket,
    svc: DispatchService,
    topic: str,
    since: int | None,
    snapshot: Callable[[], dict[str, Any]],
    on_frame: Callable[[Any], dict[str, Any] | None] | None = None,
) -> None:
    """Snapshot (unless resuming without a gap), then hub frames; client frames to `on_frame`."""
    sub = svc.hub.subscribe([topic], {topic: since} if since is not None else None)
    first = snapshot() if since is None or sub.needs_snapshot else None  # no await since subscribe
    lock = asyncio.Lock()  # one send at a time: the pump's and the replies to client frames

    async def send(frame: bytes) -> None:
        async with lock:
            await websocket.send_text(frame.decode())

    async def reply(message: dict[str, Any]) -> None:
        async with lock:
            await websocket.send_text(json.dumps(message, ensure_ascii=False))

    async def read() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            answer = _frame_answer(message, on_frame)
            if answer is not None:
                await reply(answer)

    try:
        if first is not None:
            await reply(first)
        pumping = asyncio.create_task(pump(sub, send))
        reading = asyncio.create_task(read())
        done, pending = await asyncio.wait({pumping, reading}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pumping in done and sub.lagging:  # fell behind: the client reconnects with since
            await asyncio.wait_for(websocket.close(1013), timeout=1.0)
    except Exception as exc:  # the client went away mid-send: nothing to answer
        logger.info("websocket %s ended: %s", topic.split(":")[0], type(exc).__name__)
    finally:
        sub.close()


def _frame_answer(
    message: Message, on_frame: Callable[[Any], dict[str, Any] | None] | None
) -> dict[str, Any] | None:
    """The reply to one client frame: an error frame for anything malformed or refused."""
    if on_frame is None:
        return {"type": "error", "reason": "read_only", "detail": "this socket takes no frames"}
    raw = message.get("text") if message.get("text") is not None else message.get("bytes")
    try:
        frame = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        return {"type": "error", "reason": "malformed_frame", "detail": "not JSON"}
    if not isinstance(frame, dict):
        return {"type": "error", "reason": "malformed_frame", "detail": "a frame is an object"}
    try:
        return on_frame(frame)
    except DispatchError as exc:
        return {"type": "error", "reason": exc.reason, "detail": str(exc)}


def _unit_frame(svc: DispatchService, unit_id: str, frame: dict[str, Any]) -> dict[str, Any] | None:
    """A tablet's frame as an event: ack, status or position; the reply (None for positions)."""
    kind = frame.get("type")
    uid = UnitId(unit_id)
    if kind == "ack":
        svc.submit(ev.OfferAcknowledged(frame.get("incident_id"), uid, frame.get("device")))  # type: ignore[arg-type]
        return {"type": "accepted", "frame": "ack", "incident_id": frame.get("incident_id")}
    if kind == "status":
        try:
            status = UnitStatus(str(frame.get("status")))
        except ValueError:
            raise InvalidEvent(f"unknown status {frame.get('status')!r}") from None
        svc.submit(ev.UnitStatusReported(uid, status))
        return {"type": "accepted", "frame": "status", "status": status.value}
    if kind == "position":
        svc.submit(ev.UnitPositionReported(uid, frame.get("lat"), frame.get("lon")))  # type: ignore[arg-type]
        return None
    raise InvalidEvent(f"unknown frame type {kind!r}; expected ack, status or position")
