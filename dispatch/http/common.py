"""What every HTTP route shares: typed errors to status codes, the body limit, token redaction
in server logs, and who is asking (role tokens and people's sessions as FastAPI dependencies;
a person's rank is checked here for every route, see `rank_allows`).

Routes hold no try/except: the handlers installed here turn the typed errors into
machine-readable bodies `{"reason": ..., "detail": ...}` (400 malformed, 401 unauthenticated,
403 forbidden, 404 unknown, 405 wrong method, 409 conflict, 413 too large, 422 invalid, 429 too
many, 503 store down), and an unexpected exception into a logged 500 that echoes nothing. No
`detail` repeats what the client sent (a path or query value, a body's value or key): one that
would is replaced by a fixed text. Every integer a client sends is bounded (`Seq`).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.core.traffic import InvalidArea, TooManyEntries, UnknownEdge, UnknownStreet
from dispatch.errors import (
    DispatchError,
    IllegalTransition,
    InvalidEvent,
    StoreError,
    UnitUnavailable,
    UnknownHospital,
    UnknownIncident,
    UnknownUnit,
)
from dispatch.http.echo import echoes, quiet_error, sent_by
from dispatch.http.wire import ErrorOut
from dispatch.service.calls import IdempotencyKeyReused
from dispatch.service.live_inputs import NoLocation, NoMatch
from dispatch.service.outage import RETRY_AFTER_S
from dispatch.service.service import DispatchService
from dispatch.tokens import Forbidden, Role, Unauthenticated
from dispatch.users import ACTING, Rank, at_least, rank_allows
from dispatch.ws.guards import MAX_SEQ
from hospital_link.errors import HospitalLinkError
from location_fusion.errors import FusionError

logger = logging.getLogger("jijiu.dispatch")


class IdempotencyKeyRequired(DispatchError, ValueError):
    reason = "idempotency_key_required"


class StaleVersion(DispatchError, ValueError):
    """409: an edit sent with an incident version that is no longer the current one; the
    answer carries the incident as it is now (`current`), and nothing was changed."""

    reason = "stale_version"

    def __init__(self, message: str, current: dict[str, Any]) -> None:
        super().__init__(message)
        self.current = current


class InvalidVersion(DispatchError, ValueError):
    reason = "invalid_version"


# A sequence number in a query (`?after=`): SQLite's INTEGER is 64-bit, so a larger one is a
# 422, not an OverflowError in the store.
Seq = Annotated[int, Query(ge=0, le=MAX_SEQ, description="a sequence number (0: from the start)")]


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (UnknownIncident, 404),
    (UnknownUnit, 404),
    (UnknownHospital, 404),
    (UnknownEdge, 404),
    (UnknownStreet, 404),
    (IllegalTransition, 409),
    (StaleVersion, 409),
    (InvalidVersion, 422),
    (UnitUnavailable, 409),
    (InvalidEvent, 422),
    (NoLocation, 422),
    (NoMatch, 422),
    (InvalidArea, 422),
    (TooManyEntries, 429),
    (IdempotencyKeyRequired, 400),
    (IdempotencyKeyReused, 422),
    (StoreError, 503),
)
# FastAPI's own refusals (an unparsable body, an unknown path, a wrong method), by status.
HTTP_REASONS = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}
STORE_DETAIL = {
    "store_unavailable": "store unavailable: retry with the same Idempotency-Key",
    "store_recovering": "the event log is back; writes resume in a moment",
    "store_diverged": "the event log moved on without this server; writes are stopped",
    "standby": "this server is a standby; another one takes the calls",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}


def error_response(
    status: int, reason: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"reason": reason}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def store_refusal(reason: str) -> JSONResponse:
    """A 503 for a store that does not acknowledge writes now: the reason code, a fixed text
    and Retry-After; never the store's address or its error text."""
    detail = STORE_DETAIL.get(reason, STORE_DETAIL["store_unavailable"])
    retry_after_s = RETRY_AFTER_S.get(reason, 1)
    return error_response(503, reason, detail, {"Retry-After": str(retry_after_s)})


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
        response = error_response(
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


def install_handlers(app: FastAPI) -> None:
    async def dispatch_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DispatchError)
        status = next((code for cls, code in STATUS if isinstance(exc, cls)), 400)
        if isinstance(exc, StoreError):  # logged once where it failed, never echoed
            return store_refusal(exc.reason)
        if status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, exc.reason)
        if isinstance(exc, StaleVersion):  # the incident as it is now, to redo the edit on
            body = {"reason": exc.reason, "detail": str(exc), "current": exc.current}
            return JSONResponse(body, status_code=409)
        return error_response(status, exc.reason, await _detail(request, str(exc), exc.reason))

    async def _detail(request: Request, text: str, reason: str) -> str:
        return f"refused: {reason}" if echoes(text, await sent_by(request)) else text

    async def fusion_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FusionError)
        return error_response(422, exc.reason, await _detail(request, str(exc), exc.reason))

    async def hospital_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HospitalLinkError)
        status = 404 if isinstance(exc, KeyError) else 422
        return error_response(status, exc.reason, await _detail(request, str(exc), exc.reason))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # loc, msg and type only: pydantic's `input` would echo phone numbers and free text.
        sent = await sent_by(request)
        return error_response(422, "invalid_request", [quiet_error(e, sent) for e in exc.errors()])

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        reason = HTTP_REASONS.get(exc.status_code, "http_error")
        phrase = HTTPStatus(exc.status_code).phrase.lower()  # a fixed text, never exc.detail
        return error_response(exc.status_code, reason, phrase, dict(exc.headers or {}))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(500, "internal_error")

    app.add_exception_handler(DispatchError, dispatch_error)
    app.add_exception_handler(FusionError, fusion_error)
    app.add_exception_handler(HospitalLinkError, hospital_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


# --- who is asking ----------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="a role token from the tokens file")


async def service_of(request: Request) -> DispatchService:
    svc: DispatchService = request.app.state.service
    return svc


Svc = Annotated[DispatchService, Depends(service_of)]


async def who_is(
    request: Request,
    svc: Svc,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[Role, str]:
    who = svc.identify(creds.credentials) if creds is not None else None
    if who is None:
        raise Unauthenticated("a valid bearer token is required")
    ACTING.set(person_of(who))  # this request's events name the person (dispatch.users)
    if who[0] is Role.DISPATCHER:  # a person's rank decides the route (deny by default)
        rank = svc.tokens.rank_of(who)
        route = getattr(request.scope.get("route"), "path", request.url.path)
        if rank is None or not rank_allows(rank, request.method, route):
            raise Forbidden("your role may not do this")
    return who


Who = Annotated[tuple[Role, str], Depends(who_is)]


async def dispatcher_only(who: Who) -> None:
    if who[0] is not Role.DISPATCHER:
        raise Forbidden("dispatchers only")


def person_of(who: tuple[Role, str]) -> str | None:
    """The named person behind a dispatch-floor identity; None for the shared token."""
    return who[1] if who[0] is Role.DISPATCHER and who[1] else None


def rank_at_least(svc: DispatchService, who: tuple[Role, str], floor: Rank) -> None:
    rank = svc.tokens.rank_of(who)
    if rank is None or not at_least(rank, floor):
        raise Forbidden(f"{floor.value.replace('_', '-')}s and above only")


def same_unit(who: tuple[Role, str], unit_id: str) -> None:
    if who != (Role.UNIT, unit_id):
        raise Forbidden("this unit's token only")


def dispatcher_or_caller(who: tuple[Role, str], incident_id: str) -> bool:
    """True for the dispatcher, False for this incident's caller; else 404 or 403."""
    if who[0] is Role.DISPATCHER:
        return True
    if who[0] is Role.CALLER:
        if who[1] != incident_id:
            raise UnknownIncident(f"no incident {incident_id}")  # uniform: as if it did not exist
        return False
    raise Forbidden("dispatchers and this incident's caller only")


def ws_base(request: Request) -> str:
    """Where this client reaches the websockets: `public_ws_url` when set (a proxy mapping
    them to a path or port of its own), else ws://<the host the client reached us by>:<ws
    port>, wss:// when the request came over HTTPS (TLS served here, or a trusted proxy's
    X-Forwarded-Proto, see `forwarded_allow_ips`)."""
    public: str = request.app.state.service.settings.public_ws_url
    if public:
        return public.rstrip("/")
    host = request.url.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{host}:{request.app.state.ws_port}"


def checked_idempotency_key(key: str | None) -> str:
    if key is None or not (0 < len(key) <= 64 and key.isprintable()):
        raise IdempotencyKeyRequired("send an Idempotency-Key header of 1-64 printable characters")
    return key
