"""A partner agency's side of a live server: flagging an incident for it and reading its feed.

`flag` posts the dispatcher's flag, `agency_ws` opens the agency's socket and `Feed` keeps every
frame it received so a test can scan them all afterwards; `plain_call` is a non-medical call to
flag.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.sync.client import ClientConnection

from tests.support.server import HERE, Running, auth


class Feed:
    """An agency's socket that keeps every frame it received, for the privacy scan."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.seen: list[dict[str, Any]] = []

    def next(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.conn.recv(timeout=10))
        self.seen.append(frame)
        return frame

    def until(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for _ in range(200):
            frame = self.next()
            if match(frame):
                return frame
        raise AssertionError("no matching frame")

    def document(self, incident_id: str, reason: str | None = None) -> dict[str, Any]:
        """The next EIDO document about the incident (with that reason, if given)."""
        frame = self.until(
            lambda f: (
                f["type"] == "incident.eido"
                and f["incident_id"] == incident_id
                and reason in (None, f["reason"])
            )
        )
        eido: dict[str, Any] = frame["eido"]
        return eido


def plain_call(live: Running, key: str, phone: str = "+8613800000200") -> str:
    """A trauma call with nothing medical beyond its complaint; the incident id."""
    body = {"phone": phone, "consent_location": True, "fix": HERE, "complaint": "trauma"}
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    iid: str = r.json()["incident_id"]
    return iid


def flag(live: Running, iid: str, *agencies: str, **extra: Any) -> httpx.Response:
    """The dispatcher flags incident `iid` for `agencies` (with any `extra` fields)."""
    return httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/agencies",
        headers=auth(live.tokens["dispatcher"]),
        json={"agencies": list(agencies), **extra},
    )


def agency_ws(live: Running, agency: str, **query: str) -> ClientConnection:
    """The agency's feed socket, opened with its own token."""
    return live.ws(f"/ws/agencies/{agency}", live.tokens["agencies"][agency], **query)
