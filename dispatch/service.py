"""The dispatch service: engine, durable log and fan-out, driven in one order per event.

`submit(event)` is the one way state changes: the engine checks and applies the event (a typed
refusal changes nothing and becomes a 4xx), the log appends it (durable on return), and only
then are the decisions published to the hub and the caller answered. Everything runs on the
event loop's thread with no await between check and append, so two requests racing for one
unit are applied one after the other: one wins, the other gets 409.

If the append fails, the engine already holds an event the log does not: the service marks
itself poisoned, refuses every further event with StoreError (503) and `/readyz` stays failing
until the process is restarted, which rebuilds the engine from the log. A `ClockTicked` is
logged only when it decided something (an offer escalated), so replay repeats escalations at
the times they happened without a record per second.

Some state is deliberately in memory only and gone after a restart: a call's location evidence
(a later fix is then fused alone, and must still move or tighten the estimate to relocate), the
set of incidents a dispatcher placed by hand, and the live traffic jams (the feed re-sends
them; see dispatch/traffic.py). Relocations themselves are `IncidentLocated` events: durable.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from dispatch import codec
from dispatch import events as ev
from dispatch.engine import Engine, EngineSettings, Incident, Unit
from dispatch.errors import DispatchError, IllegalTransition, InvalidEvent, StoreError
from dispatch.eventlog import EventLog, open_log
from dispatch.fleet import demo_fleet
from dispatch.hub import Hub
from dispatch.model import Complaint, IncidentId, Step
from dispatch.replay import replay
from dispatch.settings import Settings
from dispatch.tokens import Role, TokenBook, same, sha256_hex
from dispatch.traffic import TrafficBook, TrafficEntry, edges_of
from location_fusion.cells import CellTable
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import haversine_m
from location_fusion.locate import MAX_FIXES, CallEvidence, Estimate, Locator
from routing.load import data_dir, load_network
from routing.router import Router

logger = logging.getLogger("jijiu.dispatch")

FLOOD_WINDOW_S = 60.0
MAX_PHONES_TRACKED = 10_000
#: Steps while a unit is coming: the caller sees its position and ETA.
COMING = frozenset({Step.UNIT_NOTIFIED, Step.UNIT_ACKNOWLEDGED, Step.EN_ROUTE})
#: A re-fused estimate is worth an `IncidentLocated` when it moved or tightened this much.
MOVED_M = 5.0
TIGHTER_M = 1.0
PIN_RADIUS95_M = 25.0  # a dispatcher's map pin: about a building's width


class NoLocation(DispatchError, ValueError):
    """422: the call carries nothing that can be located (no fix, unknown cell, no words)."""

    reason = "no_location"


class NoMatch(DispatchError, ValueError):
    """422: the dispatcher's spoken location matches no street, junction or place."""

    reason = "no_match"


def plain(value: Any) -> Any:
    """A decision or view as JSON-safe values: enums by value, tuples as lists, inf as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: Wire names of the decisions (dotted lower case, docs/wire-protocol.md).
WIRE_TYPE = {
    ev.IncidentStepped: "incident.stepped",
    ev.UnitChanged: "unit.changed",
    ev.Recommended: "incident.recommended",
    ev.OfferSent: "offer.sent",
    ev.OfferEscalated: "offer.escalated",
    ev.SwapSuggested: "swap.suggested",
    ev.DuplicateSuggested: "duplicate.suggested",
}


def build_world(network: str) -> tuple[Router, Locator]:
    """The router and locator of a bundled network (or an OSM file) with the bundled city data."""
    net, _ = load_network(network)
    router = Router(net)
    places = Gazetteer.load_places_csv(data_dir() / "hangzhou" / "hospitals.csv")
    cells = CellTable.load(data_dir() / "cells" / "hangzhou_cells_synthetic.csv")
    return router, Locator(Gazetteer.from_network(net, places), cells, router)


class DispatchService:
    """One dispatch centre: the engine, its durable log, the hub and the tokens."""

    def __init__(
        self,
        settings: Settings,
        log: EventLog,
        hub: Hub,
        router: Router,
        locator: Locator,
        tokens: TokenBook,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.hub = hub
        self.router = router
        self.locator = locator
        self.tokens = tokens
        self.engine = Engine(
            router, EngineSettings(settings.ack_timeout_s, settings.auto_dispatch_p1)
        )
        self.poisoned = False
        self.caller_hash: dict[IncidentId, str] = {}  # incident -> sha256 of its caller token
        self._by_caller_hash: dict[str, IncidentId] = {}
        self._descriptions: dict[IncidentId, str] = {}  # read-back text, recomputed on demand
        self._phone_calls: dict[str, deque[float]] = {}  # keyed hash of a phone -> call times
        # In memory only, lost on restart: a call's location evidence (to re-fuse when the
        # caller sends another fix), the incidents a dispatcher placed by hand (caller fixes
        # no longer move those) and the live traffic entries.
        self._evidence: dict[IncidentId, CallEvidence] = {}
        self._placed_by_dispatcher: set[IncidentId] = set()
        self.traffic = TrafficBook()
        # Engine time: seconds since the first start. It continues from the log's last record
        # so time never goes back across restarts (the engine refuses that).
        last_at_s = 0.0
        for record in log.read():
            last_at_s = max(last_at_s, record.at_s)
            if record.event.get("type") == "CallReceived" and record.event.get(
                "caller_token_sha256"
            ):
                self._remember_caller(
                    record.event["incident_id"], record.event["caller_token_sha256"]
                )
        replayed = replay(log, self.engine)
        if clock is None:
            started = time.monotonic()

            def clock() -> float:
                return last_at_s + (time.monotonic() - started)

        self._clock = clock
        if replayed == 0 and settings.seed_fleet:
            for unit in demo_fleet(router.net, settings.seed_fleet):
                self.submit(unit)
        tokens.ensure_units(self.engine.units)
        logger.info(
            "dispatch service ready: %d records replayed, %d units, %d incidents",
            replayed,
            len(self.engine.units),
            len(self.engine.incidents),
        )

    @classmethod
    def open(cls, settings: Settings, hub: Hub) -> DispatchService:
        """Load the city, open (or create) the tokens and the log, replay, seed the fleet."""
        router, locator = build_world(settings.network)
        tokens = TokenBook.open(settings.tokens_file)
        log = open_log(settings.store_url)
        try:
            return cls(settings, log, hub, router, locator, tokens)
        except BaseException:
            log.close()
            raise

    def close(self) -> None:
        self.log.close()

    # --- time and health --------------------------------------------------------------------
    def now(self) -> float:
        return max(self._clock(), self.engine.now_s)

    def ready(self) -> bool:
        return not self.poisoned and self.log.ping()

    # --- the one way state changes ------------------------------------------------------------
    def submit(
        self, event: ev.Event, idem_key: str | None = None, first: Iterable[dict[str, Any]] = ()
    ) -> list[ev.Decision]:
        """Apply, make durable, publish (`first`: console messages to publish before)."""
        if self.poisoned:
            raise StoreError("the event log failed earlier; the server must be restarted")
        now = self.now()
        self.engine.receive(event, now)  # a refusal raises here and changes nothing
        decisions = self.engine.decisions()
        if not isinstance(event, ev.ClockTicked) or decisions:
            try:
                _, created = self.log.append(now, codec.to_dict(event), idem_key)
            except Exception as exc:
                self.poisoned = True
                logger.error(
                    "event log append failed (%s); engine and log differ: restart",
                    type(exc).__name__,
                )
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"event log append failed: {type(exc).__name__}") from exc
            if not created:  # the key was taken between by_key and append: cannot happen here
                self.poisoned = True
                raise StoreError("idempotency key already logged; engine and log differ")
        for message in first:
            self.hub.publish("console", message)
        self._publish(event, decisions)
        return decisions

    def tick(self) -> None:
        """Expire traffic entries, then tick the engine (offer escalations)."""
        self.expire_traffic()
        self.submit(ev.ClockTicked())

    # --- calls --------------------------------------------------------------------------------
    def call_key(self, phone: str, key: str) -> str:
        """The log's idempotency key of a call: scoped to the phone, which it does not reveal."""
        return "call:" + self.tokens.keyed_hash("call", phone, key)

    def create_call(
        self, phone: str, evidence: CallEvidence, complaint: Complaint | None, key: str
    ) -> tuple[dict[str, Any], bool]:
        """The call's answer body and True, or the first answer and False for a known key."""
        idem = self.call_key(phone, key)
        earlier = self.log.by_key(idem)
        if earlier is not None:
            return self._call_body(earlier.event, self._locate(evidence)), False
        estimate = self._locate(evidence)
        if estimate is None:
            raise NoLocation("nothing in the call could be located")
        incident_id = IncidentId("I" + secrets.token_hex(5))
        while incident_id in self.engine.incidents:
            incident_id = IncidentId("I" + secrets.token_hex(5))
        token = self.tokens.caller_token(incident_id)
        event = ev.CallReceived(
            incident_id,
            estimate.lat,
            estimate.lon,
            min(estimate.radius95_m, 100_000.0),
            complaint,
            sha256_hex(token),
        )
        self._descriptions[incident_id] = estimate.description
        flood = self._count_call(phone)
        body = self._call_body(codec.to_dict(event), estimate)
        console = {
            "type": "call.received",
            "incident_id": incident_id,
            "estimate": body["estimate"],
            "flood_suspected": flood,
        }
        firsts = [console]
        if flood:
            firsts.append({"type": "call.flood_suspected", "incident_id": incident_id})
        try:
            self.submit(event, idem, firsts)
        except DispatchError:
            del self._descriptions[incident_id]
            raise
        self._remember_caller(incident_id, event.caller_token_sha256)
        self._evidence[incident_id] = evidence
        return body, True

    def _locate(self, evidence: CallEvidence) -> Estimate | None:
        return self.locator.locate(evidence, self.now())

    def _call_body(self, event: dict[str, Any], estimate: Estimate | None) -> dict[str, Any]:
        """201/200 body; place from the logged event, conflict from the (re-)fused evidence."""
        incident_id = IncidentId(event["incident_id"])
        conflict = plain(estimate.conflict) if estimate is not None else None
        return {
            "incident_id": incident_id,
            "estimate": {
                "lat": event["lat"],
                "lon": event["lon"],
                "radius95_m": event["radius95_m"],
                "description": self.description(incident_id, event["lat"], event["lon"]),
                "conflict": conflict,
            },
            "caller_token": self.tokens.caller_token(incident_id),
        }

    def _count_call(self, phone: str) -> bool:
        """Count a call from `phone`; True when it is above the per-minute limit (a flood)."""
        now = self.now()
        key = self.tokens.keyed_hash("phone", phone)
        times = self._phone_calls.setdefault(key, deque())
        while times and times[0] < now - FLOOD_WINDOW_S:
            times.popleft()
        times.append(now)
        if len(self._phone_calls) > MAX_PHONES_TRACKED:  # forget the quietest phones first
            for k in [k for k, t in self._phone_calls.items() if t[-1] < now - FLOOD_WINDOW_S]:
                del self._phone_calls[k]
        return len(times) > self.settings.calls_per_phone_per_min

    def _remember_caller(self, incident_id: str, token_sha256: str) -> None:
        self.caller_hash[IncidentId(incident_id)] = token_sha256
        self._by_caller_hash[token_sha256] = IncidentId(incident_id)

    # --- a better location: the caller's further fixes, the dispatcher's override ------------
    def add_fix(self, incident_id: str, fix: DeviceFix, spoken: str | None) -> dict[str, Any]:
        """Re-fuse the call's evidence with one more fix; relocate if it moved or tightened.

        The evidence lives in memory: after a restart only the fixes sent since are fused (the
        first call's fix and cell are gone), which is why a fused estimate must still move
        `MOVED_M` or tighten `TIGHTER_M` before it replaces the incident's place.
        """
        inc = self.engine.incident(IncidentId(incident_id))
        if not inc.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        old = self._evidence.get(inc.incident_id, CallEvidence())
        evidence = CallEvidence(
            (*old.fixes, fix)[-MAX_FIXES:], old.cell, spoken if spoken else old.spoken
        )
        estimate = self._locate(evidence)
        if estimate is None:  # cannot happen with a fix in hand; kept as a typed refusal
            raise NoLocation("the evidence could not be located")
        moved = float(haversine_m(inc.lon, inc.lat, estimate.lon, estimate.lat)) >= MOVED_M
        tighter = estimate.radius95_m <= inc.radius95_m - TIGHTER_M
        located = (moved or tighter) and inc.incident_id not in self._placed_by_dispatcher
        if located:
            self._relocate(inc.incident_id, estimate, "caller")
        self._evidence[inc.incident_id] = evidence
        return {
            "incident_id": inc.incident_id,
            "located": located,
            "estimate": self._estimate_body(estimate),
        }

    def place_by_dispatcher(
        self,
        incident_id: str,
        spoken: str | None = None,
        pin: tuple[float, float, float] | None = None,
    ) -> dict[str, Any]:
        """Relocate from the dispatcher's words (geocoded) or map pin (lat, lon, radius95_m)."""
        inc = self.engine.incident(IncidentId(incident_id))
        if spoken is not None:
            estimate = self._locate(CallEvidence((), None, spoken))
            if estimate is None:
                raise NoMatch("no street, junction or place matches the words")
            self._relocate(inc.incident_id, estimate, "dispatcher")
        elif pin is not None:
            lat, lon, radius95_m = pin
            self._relocate(
                inc.incident_id,
                {
                    "lat": lat,
                    "lon": lon,
                    "radius95_m": radius95_m,
                    "description": self.locator.describe(lon, lat),
                    "conflict": None,
                },
                "dispatcher",
            )
        else:
            raise InvalidEvent("give spoken words or a pin")
        self._placed_by_dispatcher.add(inc.incident_id)
        return self.incident_view(incident_id)

    def _estimate_body(self, estimate: Estimate | dict[str, Any]) -> dict[str, Any]:
        if isinstance(estimate, dict):
            return estimate
        return {
            "lat": estimate.lat,
            "lon": estimate.lon,
            "radius95_m": estimate.radius95_m,
            "description": estimate.description,
            "conflict": plain(estimate.conflict),
        }

    def _relocate(
        self, incident_id: IncidentId, estimate: Estimate | dict[str, Any], by: str
    ) -> None:
        """Submit `IncidentLocated`; the console (and a unit on the job) hear incident.located."""
        body = self._estimate_body(estimate)
        event = ev.IncidentLocated(
            incident_id, body["lat"], body["lon"], min(body["radius95_m"], 100_000.0)
        )
        message = {
            "type": "incident.located",
            "incident_id": incident_id,
            "estimate": body,
            "by": by,
        }
        before = self._descriptions.get(incident_id)
        self._descriptions[incident_id] = body["description"]
        try:
            self.submit(event, first=[message])
        except DispatchError:
            if before is None:
                self._descriptions.pop(incident_id, None)
            else:
                self._descriptions[incident_id] = before
            raise
        inc = self.engine.incidents[incident_id]
        if inc.unit_id is not None:
            self.hub.publish(
                f"unit:{inc.unit_id}",
                {"type": "incident.located", "incident_id": incident_id, "place": self.place(inc)},
            )

    # --- live traffic (in memory, never logged: see dispatch/traffic.py) ----------------------
    def add_traffic(
        self,
        factor: float,
        expires_in_s: float,
        edges: list[int] | None = None,
        area: list[list[tuple[float, float]]] | None = None,
        street: str | None = None,
    ) -> TrafficEntry:
        """Record a jam and write its factor into the router: the next route sees it."""
        kind, ids = edges_of(self.router.net, edges, area, street)
        entry = self.traffic.add(kind, ids, factor, self.now(), expires_in_s, street)
        if entry.edges.size:
            self.router.set_congestion(entry.edges, entry.factor)
        return entry

    def expire_traffic(self) -> int:
        """Drop expired jams; their edges go back to the newest remaining factor or free flow."""
        restores = self.traffic.expire(self.now())
        for restore in restores:
            if restore.factor == 1.0:
                self.router.clear_congestion(restore.edges)
            else:
                self.router.set_congestion(restore.edges, restore.factor)
        return sum(int(r.edges.shape[0]) for r in restores)

    # --- who is asking --------------------------------------------------------------------------
    def identify(self, token: str) -> tuple[Role, str] | None:
        """(role, subject): subject is the unit id of a unit, the incident id of a caller."""
        staff = self.tokens.role_of(token)
        if staff is not None:
            return staff
        incident_id = self._by_caller_hash.get(sha256_hex(token))
        return (Role.CALLER, incident_id) if incident_id is not None else None

    def is_caller_of(self, incident_id: str, token: str) -> bool:
        stored = self.caller_hash.get(IncidentId(incident_id))
        return stored is not None and same(sha256_hex(token), stored)

    # --- views ------------------------------------------------------------------------------
    def description(self, incident_id: IncidentId, lat: float, lon: float) -> str:
        text = self._descriptions.get(incident_id)
        if text is None:
            text = self._descriptions[incident_id] = self.locator.describe(lon, lat)
        return text

    def place(self, inc: Incident) -> dict[str, Any]:
        return {
            "lat": inc.lat,
            "lon": inc.lon,
            "radius95_m": inc.radius95_m,
            "description": self.description(inc.incident_id, inc.lat, inc.lon),
        }

    def incident_view(self, incident_id: str, *, for_caller: bool = False) -> dict[str, Any]:
        inc = self.engine.incident(IncidentId(incident_id))
        timeline = [
            {"step": s.value, "name": s.name.lower(), "at_s": t}
            for s, t in sorted(inc.timeline.items(), key=lambda kv: kv[1])
        ]
        view: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "step": inc.step.value,
            "open": inc.open,
            "place": self.place(inc),
            "timeline": timeline,
        }
        if for_caller:  # the caller sees the coming unit's position and ETA, never who it is
            view["unit"] = self.approach(inc)
            return view
        view.update(
            priority=int(inc.priority),
            complaint=inc.complaint.value,
            determinant=inc.determinant,
            unit_id=inc.unit_id,
            offer_deadline_s=inc.offer_deadline_s,
            acked_devices=sorted(inc.acked_devices),
        )
        return view

    def incidents(self, open_only: bool = True) -> list[dict[str, Any]]:
        return [
            self.incident_view(i)
            for i, inc in self.engine.incidents.items()
            if inc.open or not open_only
        ]

    def unit_view(self, unit: Unit) -> dict[str, Any]:
        return {
            "unit_id": unit.unit_id,
            "capability": unit.capability.value,
            "status": unit.status.value,
            "lat": unit.lat,
            "lon": unit.lon,
            "incident_id": unit.incident_id,
        }

    def recommendations(self, incident_id: str) -> list[dict[str, Any]]:
        options = self.engine.recommend(IncidentId(incident_id), self.now())
        return [plain(o) for o in options]

    def approach(self, inc: Incident) -> dict[str, Any] | None:
        """Where the coming unit is and its driving ETA; None when no unit is coming."""
        if inc.unit_id is None or inc.step not in COMING:
            return None
        unit = self.engine.units[inc.unit_id]
        route = self.router.route(unit.position, inc.position)
        eta = route.eta_s if route is not None and math.isfinite(route.eta_s) else None
        return {"lat": unit.lat, "lon": unit.lon, "eta_s": eta}

    def job_of(self, unit_id: str) -> dict[str, Any] | None:
        """The offer or order a unit holds: its incident's place, read-back and triage."""
        unit = self.engine.unit(unit_id)  # type: ignore[arg-type]
        if unit.incident_id is None:
            return None
        inc = self.engine.incidents[unit.incident_id]
        return {
            "incident_id": inc.incident_id,
            "place": self.place(inc),
            "priority": int(inc.priority),
            "complaint": inc.complaint.value,
            "determinant": inc.determinant,
            "deadline_s": inc.offer_deadline_s,
            "step": inc.step.value,
        }

    # --- snapshots (built with no await before the live frames that follow) -------------------
    def console_snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq("console"),
            "incidents": self.incidents(),
            "units": [self.unit_view(u) for u in self.engine.units.values()],
        }

    def unit_snapshot(self, unit_id: str) -> dict[str, Any]:
        unit = self.engine.unit(unit_id)  # type: ignore[arg-type]
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq(f"unit:{unit_id}"),
            "unit": self.unit_view(unit),
            "job": self.job_of(unit_id),
        }

    def call_snapshot(self, incident_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.hub.last_seq(f"call:{incident_id}"),
            "incident": self.incident_view(incident_id, for_caller=True),
        }

    # --- fan-out ------------------------------------------------------------------------------
    def _publish(self, event: ev.Event, decisions: list[ev.Decision]) -> None:
        hub = self.hub
        for d in decisions:
            hub.publish("console", {"type": WIRE_TYPE[type(d)], **plain(d)})
            if isinstance(d, ev.IncidentStepped):
                hub.publish(
                    f"call:{d.incident_id}",
                    {
                        "type": "incident.stepped",
                        "step": d.step.value,
                        "name": d.step.name.lower(),
                        "at_s": d.at_s,
                    },
                )
                if d.step is Step.CLOSED:
                    hub.forget(f"call:{d.incident_id}")  # the caller has its last frame
                    self._evidence.pop(d.incident_id, None)
                    self._placed_by_dispatcher.discard(d.incident_id)
            elif isinstance(d, ev.OfferSent):
                hub.publish(
                    f"unit:{d.unit_id}",
                    {
                        "type": "offer.sent",
                        "devices": list(d.devices),
                        **(self.job_of(d.unit_id) or {}),
                        "by": d.by,
                    },
                )
                self._publish_approach(d.incident_id)
            elif isinstance(d, ev.OfferEscalated):
                hub.publish(
                    f"unit:{d.unit_id}", {"type": "offer.withdrawn", "incident_id": d.incident_id}
                )
            elif isinstance(d, ev.UnitChanged):
                hub.publish(f"unit:{d.unit_id}", {"type": "unit.changed", **plain(d)})
        if isinstance(event, ev.UnitPositionReported):
            unit = self.engine.units[event.unit_id]
            hub.publish(
                "console",
                {
                    "type": "unit.position",
                    "unit_id": unit.unit_id,
                    "lat": unit.lat,
                    "lon": unit.lon,
                },
                coalesce=f"pos:{unit.unit_id}",
            )
            if unit.incident_id is not None:
                self._publish_approach(unit.incident_id)

    def _publish_approach(self, incident_id: IncidentId) -> None:
        inc = self.engine.incidents.get(incident_id)
        coming = self.approach(inc) if inc is not None else None
        if coming is not None:
            self.hub.publish(
                f"call:{incident_id}", {"type": "unit.approaching", **coming}, coalesce="approach"
            )
