"""Calls: a one-tap call made into an incident, its caller's token, and the phones that flood.

`svc.calls.create` locates the call (`location_fusion`), answers a retried call (same phone, same
Idempotency-Key) with its first answer from memory (so a retry never waits on the store), and
submits `CallReceived` with the console's first frames. Only the caller token's hash is logged;
the caller is known again after a restart by that hash (`recall`). Phones are known by a keyed
hash; the number itself is logged only sealed under the incident's own data key
(`dispatch.service.personal`), for a dispatcher's call-back. A call typed in by a call-taker
(`voice`) goes the same way, with `source: "voice"`. A phone whose incident is open calling
again within `repeat_window_s` is counted on that incident (`CallRepeated`); one above
`quarantine_calls_per_min` is quarantined: its calls are logged (`CallQuarantined`) and answered
but open no incident and cost no console frame until a dispatcher releases it. The engine holds
that state, so replay rebuilds it.
"""

from __future__ import annotations

import enum
import secrets
from collections import deque
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.model import Complaint, IncidentId
from dispatch.errors import DispatchError, InvalidEvent
from dispatch.service.views import Frame, plain
from dispatch.store import codec
from dispatch.tokens import same, sha256_hex
from location_fusion.locate import CallEvidence, Estimate
from routing.errors import OutsideNetwork

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

FLOOD_WINDOW_S = 60.0
MAX_PHONES_TRACKED = 10_000


UNLOCATED_RADIUS_M = 100_000.0  # an unlocated call's placeholder radius: "anywhere in the city"


class Fusion(enum.Enum):
    """`Calls.create`'s `located` when it is not an estimate: fuse the call here and now
    (`HERE`), or not at all (`SKIPPED`: a quarantined phone's call)."""

    HERE = "here"
    SKIPPED = "skipped"


#: What `Calls.locate` found: the estimate (None: nothing usable) or `Fusion.SKIPPED`.
Located = Estimate | None | Fusion


def _estimate(located: Located) -> Estimate | None:
    return None if isinstance(located, Fusion) else located


def _raw_place(evidence: CallEvidence) -> tuple[float, float, float]:
    """A quarantined call's place in the quarantine queue, unfused: its last fix (its claimed
    radius taken as a 95 % radius), else nowhere in particular (0, 0, the placeholder)."""
    if not evidence.fixes:
        return 0.0, 0.0, UNLOCATED_RADIUS_M
    fix = evidence.fixes[-1]
    return fix.lat, fix.lon, min(fix.accuracy_m, UNLOCATED_RADIUS_M)


class IdempotencyKeyReused(InvalidEvent):
    """The phone's Idempotency-Key came with another call than the first (422)."""

    reason = "idempotency_key_reused"


def _said(evidence: CallEvidence, complaint: Complaint | None, extra: str = "") -> str:
    """A hash of what a call said (fixes, cell, words, complaint, and `extra`: a typed-in
    call's callback flag and notes; not when it came), kept with its key in `_call_keys` so
    the key reused for another call is refused. A key recalled from the log at start has
    none: its first retry's is kept."""
    fixes = [(f.lat, f.lon, f.accuracy_m, f.confidence, f.source) for f in evidence.fixes]
    c = evidence.cell
    cell = (c.mcc, c.mnc, c.area, c.cell, c.radio, c.timing_advance) if c else None
    said = repr((fixes, cell, evidence.spoken, complaint.value if complaint else None))
    said += extra
    return sha256_hex(said)[:16]  # 64 bits: a reused key is a mistake, not a collision hunt


def _first_answer(call: dict[str, Any]) -> dict[str, Any]:
    """What a retried call is answered with, from its logged `CallReceived`."""
    keys = ("incident_id", "lat", "lon", "radius95_m", "location_status")
    return {k: call[k] for k in keys if k in call}


class Calls:
    """Inbound calls: creation, retries, callers' tokens and flood counting."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.caller_hash: dict[IncidentId, str] = {}  # incident -> sha256 of its caller token
        self._by_caller_hash: dict[str, IncidentId] = {}
        # keyed hash of a phone -> (time, idempotency key) of its calls in the last minute
        self._phone_calls: dict[str, tuple[deque[tuple[float, str]], set[str]]] = {}
        # A call's idempotency key -> the place it was first answered with (a retry gets the
        # same), in memory so a retry never waits on the store (~50 bytes per call).
        self._call_keys: dict[str, dict[str, Any]] = {}

    def recall(self, event: dict[str, Any], idem_key: str | None) -> None:
        """A logged `CallReceived` read back at start: its caller and its idempotency key."""
        if event.get("caller_token_sha256"):
            self._remember_caller(event["incident_id"], event["caller_token_sha256"])
        if idem_key is not None:
            self._call_keys[idem_key] = _first_answer(event)

    def export_state(self) -> dict[str, Any]:
        """What `recall` rebuilt, as plain data for a snapshot (dispatch.store.snapshot)."""
        keys = {k: {f: v for f, v in a.items() if f != "said"} for k, a in self._call_keys.items()}
        return {"callers": dict(self.caller_hash), "keys": keys}

    def import_state(self, state: dict[str, Any]) -> None:
        """Load what `export_state` gave, as if every call before it had been recalled."""
        for incident_id, token_sha256 in state["callers"].items():
            self._remember_caller(incident_id, token_sha256)
        self._call_keys.update({str(k): dict(a) for k, a in state["keys"].items()})

    def key(self, phone: str, key: str) -> str:
        """The log's idempotency key of a call: scoped to the phone, which it does not reveal."""
        return "call:" + self.svc.tokens.keyed_hash("call", phone, key)

    async def locate(self, phone: str, evidence: CallEvidence) -> Located:
        """Locate a call before `create`, off the loop when a locating worker is up
        (`dispatch.service.locating`); not at all for a phone in quarantine (`SKIPPED`): its
        calls cost no fusion."""
        if self.svc.tokens.keyed_hash("phone", phone) in self.svc.engine.quarantine:
            return Fusion.SKIPPED
        return await self.svc.locating.locate(evidence, self.svc.now())

    def create(
        self,
        phone: str,
        evidence: CallEvidence,
        complaint: Complaint | None,
        key: str,
        located: Located = Fusion.HERE,
        voice: tuple[bool, str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The call's answer body and True for a new incident; False for a known key, a call
        again (the phone's open incident) or a quarantined call (`quarantined: true`).
        `located` is what `locate` found (by default the call is located here and now).
        `voice`: a phone call typed in by a call-taker, (callback allowed, notes). The new
        incident's number (and notes) are sealed (`svc.personal`), never logged in clear."""
        svc, places = self.svc, self.svc.locations
        idem = self.key(phone, key)
        earlier = self._call_keys.get(idem)
        said = _said(evidence, complaint, repr(voice) if voice is not None else "")
        if earlier is not None and earlier.setdefault("said", said) != said:
            raise IdempotencyKeyReused("this Idempotency-Key came with another call")
        if located is Fusion.HERE or (located is Fusion.SKIPPED and earlier is not None):
            located = places.locate(evidence)
        if earlier is not None:
            return self._body(earlier, _estimate(located)), False
        phone_hash = svc.tokens.keyed_hash("phone", phone)
        per_min = self._count(phone_hash, idem)
        if phone_hash in svc.engine.quarantine or per_min > svc.settings.quarantine_calls_per_min:
            if isinstance(located, Fusion):
                place = _raw_place(evidence)
            else:
                place = self._placed(located)[:3]
            estimate = _estimate(located)
            body = self._quarantined(phone_hash, per_min, place, estimate, complaint, idem)
            self._call_keys[idem]["said"] = said
            return body, False
        # A phone released between `locate` and here was not fused: fuse it after all.
        estimate = places.locate(evidence) if isinstance(located, Fusion) else located
        lat, lon, radius95_m, status = self._placed(estimate)
        incident_id = self._open_incident(phone_hash)
        if incident_id is not None:
            flood = per_min > svc.settings.calls_per_phone_per_min
            body = self._repeated(incident_id, phone_hash, evidence, estimate, idem, flood)
            self._call_keys[idem]["said"] = said
            return body, False
        incident_id = IncidentId("I" + secrets.token_hex(5))
        while incident_id in svc.engine.incidents:
            incident_id = IncidentId("I" + secrets.token_hex(5))
        token = svc.tokens.caller_token(incident_id)
        callback, notes = voice if voice is not None else (True, "")
        personal = {"phone": phone, **({"notes": notes} if notes else {})}
        event = ev.CallReceived(
            incident_id,
            lat,
            lon,
            radius95_m,
            complaint,
            sha256_hex(token),
            conflict=estimate is not None and estimate.conflict is not None,
            phone_sha256=phone_hash,
            location_status=status,
            source="app" if voice is None else "voice",
            callback_allowed=callback,
            personal_sealed=svc.personal.seal(incident_id, personal),
        )
        places.set_description(incident_id, estimate.description if estimate is not None else None)
        flood = per_min > svc.settings.calls_per_phone_per_min
        body = self._body(codec.to_dict(event), estimate)
        console = {
            "type": "call.received",
            "incident_id": incident_id,
            "estimate": body["estimate"],
            "flood_suspected": flood,
            "priority": int(svc.engine.first_priority(complaint)),  # a queue sorts it at once
            "complaint": (complaint or Complaint.OTHER).value,
            "location_status": status,
            "source": event.source,
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
            svc.personal.forget(incident_id)
            raise
        self._call_keys[idem] = {**_first_answer(codec.to_dict(event)), "said": said}
        self._remember_caller(incident_id, event.caller_token_sha256)
        places.keep(incident_id, evidence, estimate)
        return body, True

    def _placed(self, estimate: Estimate | None) -> tuple[float, float, float, str]:
        """Where a call is opened and its location status: the estimate if it lies near a
        road; its point kept ("off_road") if not; the city's centre with a 100 km radius
        ("unlocated") if nothing in the call could be located. Never a refusal."""
        if estimate is None:
            lon, lat = self.svc.router.net.node_lonlat.mean(axis=0)
            return float(lat), float(lon), UNLOCATED_RADIUS_M, "unlocated"
        radius95_m = min(estimate.radius95_m, 100_000.0)
        try:
            self.svc.router.snap(estimate.lat, estimate.lon)
        except OutsideNetwork:
            return estimate.lat, estimate.lon, radius95_m, "off_road"
        return estimate.lat, estimate.lon, radius95_m, "located"

    # --- flood isolation: a call again, a quarantined phone ------------------------------------
    def _open_incident(self, phone_hash: str) -> IncidentId | None:
        """The phone's open incident if it last called within `repeat_window_s`, else None."""
        engine = self.svc.engine
        last = engine.phone_calls.get(phone_hash)
        window_s = self.svc.settings.repeat_window_s
        if last is None or window_s <= 0 or self.svc.now() - last[1] > window_s:
            return None
        inc = engine.incidents.get(last[0])
        return last[0] if inc is not None and inc.open else None

    def _repeated(
        self,
        incident_id: IncidentId,
        phone_hash: str,
        evidence: CallEvidence,
        estimate: Estimate | None,
        idem: str,
        flood: bool,
    ) -> dict[str, Any]:
        """Count the call on the phone's open incident (`CallRepeated`); its fix relocates the
        incident if it moved or tightened the estimate (as a caller's further fix does).
        Logged without its idempotency key: a retry is answered from memory."""
        svc = self.svc
        here = svc.engine.incidents[incident_id] if estimate is None else estimate
        event = ev.CallRepeated(
            incident_id, phone_hash, here.lat, here.lon, min(here.radius95_m, 100_000.0)
        )
        count = svc.engine.repeats.get(incident_id, 0) + 1
        frame = {"type": "call.repeated", "incident_id": incident_id, "repeat_count": count}
        firsts: list[Frame] = [("console", frame, None)]
        if flood:  # above the flag limit, below quarantine: the console is told, as before
            flagged = {"type": "call.flood_suspected", "incident_id": incident_id}
            firsts.append(("console", flagged, None))
        svc.submit(event, None, firsts)
        if evidence.fixes:
            svc.inputs.add_fix(incident_id, evidence.fixes[-1], evidence.spoken)
        inc = svc.engine.incidents[incident_id]
        answer = {"incident_id": incident_id, "lat": inc.lat, "lon": inc.lon}
        answer.update(radius95_m=inc.radius95_m, location_status=inc.location_status)
        self._call_keys[idem] = answer
        return self._body(answer, estimate)

    def _quarantined(
        self,
        phone_hash: str,
        per_min: int,
        place_at_call: tuple[float, float, float],
        estimate: Estimate | None,
        complaint: Complaint | None,
        idem: str,
    ) -> dict[str, Any]:
        """Log the call as `CallQuarantined` (after `PhoneQuarantined` and one console frame,
        if the phone just crossed the limit): no incident, no ranking, no frame per call.
        Answered with the phone's open incident, if it has one, and `quarantined: true`."""
        svc = self.svc
        if phone_hash not in svc.engine.quarantine:
            entered: dict[str, Any] = {"type": "phone.quarantined", "phone_hash": phone_hash}
            entered["calls_per_min"] = per_min
            svc.submit(ev.PhoneQuarantined(phone_hash, per_min), None, [("console", entered, None)])
        event = ev.CallQuarantined(phone_hash, *place_at_call, complaint)
        svc.submit(event)
        incident_id = self._open_incident(phone_hash)
        inc = svc.engine.incidents[incident_id] if incident_id is not None else None
        place = inc if inc is not None else event
        answer: dict[str, Any] = {"incident_id": incident_id, "quarantined": True}
        answer.update(lat=place.lat, lon=place.lon, radius95_m=place.radius95_m)
        self._call_keys[idem] = answer
        return self._body(answer, estimate)

    def release(self, phone_hash: str, by: str) -> dict[str, Any]:
        """A dispatcher releases a quarantined phone (`PhoneReleased`, attributed): its next
        call is counted afresh."""
        event = ev.PhoneReleased(phone_hash, by)
        frame = {"type": "phone.released", "phone_hash": phone_hash, "by": by}
        self.svc.submit(event, None, [("console", frame, None)])
        self._phone_calls.pop(phone_hash, None)
        return {"phone_hash": phone_hash, "released_by": by}

    def quarantine(self) -> list[dict[str, Any]]:
        """The quarantine queue: each phone by its keyed hash, oldest first."""
        engine = self.svc.engine
        rows = sorted(engine.quarantine.items(), key=lambda kv: kv[1].since_s)
        return [
            {
                "phone_hash": phone_hash,
                "since_s": q.since_s,
                "calls_per_min": q.calls_per_min,
                "calls": q.calls,
                "last_at_s": q.last_at_s,
                "lat": q.lat,
                "lon": q.lon,
                "incident_id": self._open_incident(phone_hash),
            }
            for phone_hash, q in rows
        ]

    def _body(self, event: dict[str, Any], estimate: Estimate | None) -> dict[str, Any]:
        """201/200/202 body; place from the logged event, conflict from the (re-)fused evidence.
        A quarantined call with no open incident has no incident id and no caller token."""
        conflict = plain(estimate.conflict) if estimate is not None else None
        if event["incident_id"] is None:
            description = estimate.description if estimate is not None else ""
            place = {k: event[k] for k in ("lat", "lon", "radius95_m")}
            return {
                "incident_id": None,
                "estimate": {**place, "description": description, "conflict": conflict},
                "caller_token": None,
                "quarantined": True,
            }
        incident_id = IncidentId(event["incident_id"])
        status = event.get("location_status", "located")
        body: dict[str, Any] = {
            "incident_id": incident_id,
            "estimate": {
                "lat": event["lat"],
                "lon": event["lon"],
                "radius95_m": event["radius95_m"],
                "description": self.svc.locations.text(
                    incident_id, event["lat"], event["lon"], status
                ),
                "conflict": conflict,
            },
            "caller_token": self.svc.tokens.caller_token(incident_id),
        }
        body["location_status"] = status
        body["located"] = status == "located"
        if event.get("quarantined"):
            body["quarantined"] = True
        return body

    def _count(self, key: str, idem: str) -> int:
        """Count a call from the phone of keyed hash `key`; its calls in the last minute. A
        retry (the same Idempotency-Key: a tap retried after a 503 or a lost answer) is the
        same call, counted once: a caller retrying through an outage is not a flood."""
        now = self.svc.now()
        times, keys = self._phone_calls.setdefault(key, (deque(), set()))
        while times and times[0][0] < now - FLOOD_WINDOW_S:
            keys.discard(times.popleft()[1])
        if idem not in keys:
            times.append((now, idem))
            keys.add(idem)
        if len(self._phone_calls) > MAX_PHONES_TRACKED:  # forget the quietest phones first
            quiet = [
                k for k, (t, _) in self._phone_calls.items() if t[-1][0] < now - FLOOD_WINDOW_S
            ]
            for k in quiet:
                del self._phone_calls[k]
        return len(times)

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
