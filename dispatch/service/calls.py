"""Calls: a one-tap call made into an incident, its caller's token, and the phones that flood.

`svc.calls.create` locates the call (`location_fusion`), answers a retried call (same phone, same
Idempotency-Key) with its first answer from memory (so a retry never waits on the store), and
submits `CallReceived` with the console's first frames. Only the caller token's hash is logged;
the caller is known again after a restart by that hash (`recall`). A phone calling more than
`calls_per_phone_per_min` times a minute is flagged to the console as a suspected flood; phones
are counted by a keyed hash, never stored.
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.model import Complaint, IncidentId
from dispatch.errors import DispatchError
from dispatch.service.live_inputs import NoLocation
from dispatch.service.views import Frame, plain
from dispatch.store import codec
from dispatch.tokens import same, sha256_hex
from location_fusion.locate import CallEvidence, Estimate

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

FLOOD_WINDOW_S = 60.0
MAX_PHONES_TRACKED = 10_000


def _first_answer(call: dict[str, Any]) -> dict[str, Any]:
    """What a retried call is answered with, from its logged `CallReceived`."""
    return {k: call[k] for k in ("incident_id", "lat", "lon", "radius95_m")}


class Calls:
    """Inbound calls: creation, retries, callers' tokens and flood counting."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.caller_hash: dict[IncidentId, str] = {}  # incident -> sha256 of its caller token
        self._by_caller_hash: dict[str, IncidentId] = {}
        self._phone_calls: dict[str, deque[float]] = {}  # keyed hash of a phone -> call times
        # A call's idempotency key -> the place it was first answered with (a retry gets the
        # same), in memory so a retry never waits on the store (~50 bytes per call).
        self._call_keys: dict[str, dict[str, Any]] = {}

    def recall(self, event: dict[str, Any], idem_key: str | None) -> None:
        """A logged `CallReceived` read back at start: its caller and its idempotency key."""
        if event.get("caller_token_sha256"):
            self._remember_caller(event["incident_id"], event["caller_token_sha256"])
        if idem_key is not None:
            self._call_keys[idem_key] = _first_answer(event)

    def key(self, phone: str, key: str) -> str:
        """The log's idempotency key of a call: scoped to the phone, which it does not reveal."""
        return "call:" + self.svc.tokens.keyed_hash("call", phone, key)

    def create(
        self, phone: str, evidence: CallEvidence, complaint: Complaint | None, key: str
    ) -> tuple[dict[str, Any], bool]:
        """The call's answer body and True, or the first answer and False for a known key."""
        svc, places = self.svc, self.svc.locations
        idem = self.key(phone, key)
        earlier = self._call_keys.get(idem)
        if earlier is not None:
            return self._body(earlier, places.locate(evidence)), False
        estimate = places.locate(evidence)
        if estimate is None:
            raise NoLocation("nothing in the call could be located")
        incident_id = IncidentId("I" + secrets.token_hex(5))
        while incident_id in svc.engine.incidents:
            incident_id = IncidentId("I" + secrets.token_hex(5))
        token = svc.tokens.caller_token(incident_id)
        event = ev.CallReceived(
            incident_id,
            estimate.lat,
            estimate.lon,
            min(estimate.radius95_m, 100_000.0),
            complaint,
            sha256_hex(token),
            conflict=estimate.conflict is not None,
        )
        places.set_description(incident_id, estimate.description)
        flood = self._count(phone)
        body = self._body(codec.to_dict(event), estimate)
        console = {
            "type": "call.received",
            "incident_id": incident_id,
            "estimate": body["estimate"],
            "flood_suspected": flood,
            "priority": int(svc.engine.first_priority(complaint)),  # a queue sorts it at once
            "complaint": (complaint or Complaint.OTHER).value,
        }
        firsts: list[Frame] = [("console", console, None)]
        if flood:
            firsts.append(
                ("console", {"type": "call.flood_suspected", "incident_id": incident_id}, None)
            )
        try:
            svc.submit(event, idem, firsts)
        except DispatchError:
            places.set_description(incident_id, None)
            raise
        self._call_keys[idem] = _first_answer(codec.to_dict(event))
        self._remember_caller(incident_id, event.caller_token_sha256)
        places.keep(incident_id, evidence, estimate)
        return body, True

    def _body(self, event: dict[str, Any], estimate: Estimate | None) -> dict[str, Any]:
        """201/200 body; place from the logged event, conflict from the (re-)fused evidence."""
        incident_id = IncidentId(event["incident_id"])
        conflict = plain(estimate.conflict) if estimate is not None else None
        return {
            "incident_id": incident_id,
            "estimate": {
                "lat": event["lat"],
                "lon": event["lon"],
                "radius95_m": event["radius95_m"],
                "description": self.svc.locations.description(
                    incident_id, event["lat"], event["lon"]
                ),
                "conflict": conflict,
            },
            "caller_token": self.svc.tokens.caller_token(incident_id),
        }

    def _count(self, phone: str) -> bool:
        """Count a call from `phone`; True when it is above the per-minute limit (a flood)."""
        now = self.svc.now()
        key = self.svc.tokens.keyed_hash("phone", phone)
        times = self._phone_calls.setdefault(key, deque())
        while times and times[0] < now - FLOOD_WINDOW_S:
            times.popleft()
        times.append(now)
        if len(self._phone_calls) > MAX_PHONES_TRACKED:  # forget the quietest phones first
            for k in [k for k, t in self._phone_calls.items() if t[-1] < now - FLOOD_WINDOW_S]:
                del self._phone_calls[k]
        return len(times) > self.svc.settings.calls_per_phone_per_min

    def _remember_caller(self, incident_id: str, token_sha256: str) -> None:
        self.caller_hash[IncidentId(incident_id)] = token_sha256
        self._by_caller_hash[token_sha256] = IncidentId(incident_id)

    # --- who is the caller ---------------------------------------------------------------------
    def caller_of(self, token: str) -> IncidentId | None:
        """The incident whose caller holds `token`, if any."""
        return self._by_caller_hash.get(sha256_hex(token))

    def is_caller_of(self, incident_id: str, token: str) -> bool:
        stored = self.caller_hash.get(IncidentId(incident_id))
        return stored is not None and same(sha256_hex(token), stored)
