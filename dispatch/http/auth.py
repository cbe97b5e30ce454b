"""People logging in and out: `POST /api/v1/login` (name and password) gives a session token
that expires, `POST /api/v1/logout` ends it, `GET /api/v1/me` says who a token is.

A wrong password, an unknown name and a disabled account get the same 401 and the same body,
after the same work (one scrypt, dispatch.users). After `max_failures` failed logins for one
name from one address within the window, that pair is answered 429 with Retry-After, unhashed,
until the window passes. The password is hashed on a worker thread: ~50 ms that the event loop
(and every dispatcher's call) does not wait for.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dispatch.http.common import ERRORS, Svc, Who, error_response
from dispatch.service.service import DispatchService
from dispatch.sessions import LoginThrottle, SessionBook
from dispatch.settings import Settings
from dispatch.tokens import Role
from dispatch.users import UserBook

logger = logging.getLogger("jijiu.dispatch")
router = APIRouter(prefix="/api/v1", tags=["people"], responses=ERRORS)
_bearer = HTTPBearer(auto_error=False)

BAD_LOGIN = "wrong name or password"


class LoginIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "wang.fang", "password": "correct horse"}]},
    )
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    token: str = Field(description="the session's bearer token; shown once")
    name: str
    role: str = Field(description="call_taker, dispatcher or supervisor")
    expires_at: float = Field(description="Unix seconds; fixed from the login")


class MeOut(BaseModel):
    role: str = Field(description="the token's role (dispatcher for every dispatch-floor person)")
    name: str = Field(description="the person's name; empty for a role token")
    rank: str | None = Field(description="call_taker, dispatcher, supervisor or service")


def attach_people(svc: DispatchService, settings: Settings) -> None:
    """Open the accounts and sessions files beside the tokens file and let the service's
    token lookup know people's sessions."""
    users = UserBook(settings.users_path)
    svc.tokens.sessions = SessionBook(settings.sessions_path, users, settings.session_ttl_s)
    svc.extensions["login_throttle"] = LoginThrottle()


def _sessions(svc: DispatchService) -> SessionBook:
    sessions = svc.tokens.sessions
    assert sessions is not None, "attach_people runs at start-up"
    return sessions


def _throttle(svc: DispatchService) -> LoginThrottle:
    throttle = svc.extensions["login_throttle"]
    assert isinstance(throttle, LoginThrottle)
    return throttle


@router.post(
    "/login",
    response_model=LoginOut,
    responses={401: {"description": BAD_LOGIN}, 429: {"description": "too many failed logins"}},
)
async def login(body: LoginIn, request: Request, svc: Svc) -> Any:
    """A session for a person: its token, their role and when it expires. The answer to a
    wrong password, an unknown name or a disabled account is one and the same 401."""
    sessions, throttle = _sessions(svc), _throttle(svc)
    key = (body.name.lower(), request.client.host if request.client else "")
    wait_s = throttle.retry_after_s(key)
    if wait_s is not None:
        retry = {"Retry-After": str(math.ceil(wait_s))}
        return error_response(429, "too_many_attempts", "too many failed logins", retry)
    user = await asyncio.to_thread(sessions.users.check, body.name, body.password)
    if user is None:
        throttle.failed(key)
        return error_response(401, "bad_credentials", BAD_LOGIN)
    throttle.succeeded(key)
    token, expires_at = sessions.issue(user.name)
    logger.info("login: %s (%s)", user.name, user.rank.value)  # a name, never a token
    return {"token": token, "name": user.name, "role": user.rank.value, "expires_at": expires_at}


@router.post("/logout", status_code=204)
async def logout(
    svc: Svc,
    who: Who,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """End this session (its token stops working at once); a role token is left as it is."""
    if who[0] is Role.DISPATCHER and who[1] and creds is not None:
        _sessions(svc).revoke(creds.credentials)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
async def me(svc: Svc, who: Who) -> dict[str, Any]:
    """Who this token is: its role, the person's name and rank (the console shows them)."""
    rank = svc.tokens.rank_of(who)
    name = who[1] if who[0] is Role.DISPATCHER else ""
    return {"role": who[0].value, "name": name, "rank": rank.value if rank else None}
