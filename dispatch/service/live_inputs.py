"""Inputs that change what the service knows between events: a better place, live traffic,
and the positions units and volunteers send, thinned when one sends too many.

A caller's further fixes are re-fused with the call's earlier evidence; the dispatcher can
place an incident by the caller's words or a map pin; either becomes an `IncidentLocated`
event (durable). Traffic jams from the feed are written into the router at once and never
logged (dispatch/core/traffic.py says why). A unit's or a volunteer's position passes the
position gate (`dispatch.core.position_gate`, `positions_per_source_per_s`): above the limit
the newest is held and applied when the limit allows (a timer on the loop), the others are
dropped and counted, and the consoles hear `positions.throttled` once per flood. The service
holds it as `svc.inputs`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from dispatch.core import events as ev
from dispatch.core.model import IncidentId
from dispatch.core.position_gate import PositionGate, Verdict
from dispatch.core.traffic import TrafficBook, TrafficEntry, edges_of
from dispatch.errors import DispatchError, IllegalTransition, InvalidEvent
from dispatch.service.views import Frame, plain
from location_fusion.fixes import DeviceFix
from location_fusion.geo import haversine_m
from location_fusion.locate import MAX_FIXES, CallEvidence, Estimate

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

#: A re-fused estimate is worth an `IncidentLocated` when it moved or tightened this much.
MOVED_M = 5.0
TIGHTER_M = 1.0
PIN_RADIUS95_M = 25.0  # a dispatcher's map pin: about a building's width

Source = tuple[Literal["unit", "volunteer"], str]  # who sent a position: kind and id
logger = logging.getLogger("jijiu.dispatch")


class NoLocation(DispatchError, ValueError):
    """422: the call carries nothing that can be located (no fix, unknown cell, no words)."""

    reason = "no_location"


class NoMatch(DispatchError, ValueError):
    """422: the dispatcher's spoken location matches no street, junction or place."""

    reason = "no_match"


class LiveInputs:
    """Relocation, traffic and the position gate: inputs between the events that only the
    service can judge."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.traffic = TrafficBook()  # in memory, never logged
        self.gate = PositionGate[Source](svc.settings.positions_per_source_per_s)
        self._held: dict[Source, Callable[[], object]] = {}  # each source's newest held position
        self._timers: dict[Source, asyncio.TimerHandle] = {}

    # --- positions: at most `positions_per_source_per_s` from each unit and volunteer --------
    def unit_position(self, event: ev.UnitPositionReported) -> bool:
        """Submit a unit's position, or hold it if the unit sends too many; True if submitted."""
        return self.position(("unit", event.unit_id), lambda: self.svc.submit(event))

    def position(self, source: Source, apply: Callable[[], object]) -> bool:
        """Apply a position from `source` now (True), or hold it as the source's newest until
        the gate lets it pass (False); a position held before it is dropped. The first held
        position of a flood sends the consoles one `positions.throttled` frame."""
        now_s = time.monotonic()
        verdict = self.gate.offer(source, now_s)
        if verdict is Verdict.PASS:
            self._held.pop(source, None)
            apply()
            return True
        self._held[source] = apply
        if verdict is Verdict.FLOODING:
            kind, source_id = source
            frame: dict[str, Any] = {"type": "positions.throttled", "source": kind}
            frame.update(source_id=source_id, limit_per_s=self.gate.limit_per_s)
            self.svc.hub.publish("console", frame)
        self._arm(source, now_s)
        return False

    def _arm(self, source: Source, now_s: float) -> None:
        """Release the source's held position when it is due (a timer per holding source;
        without a running loop it waits for the source's next position)."""
        if source in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay_s = self.gate.due_in_s(source, now_s)
        self._timers[source] = loop.call_later(delay_s, self._release, source)

    def _release(self, source: Source) -> None:
        self._timers.pop(source, None)
        now_s = time.monotonic()
        if self.gate.release(source, now_s):
            apply = self._held.pop(source)
            try:
                apply()
            except DispatchError as exc:  # the store is down, the unit unknown: as if sent then
                logger.info("held %s position not applied: %s", source[0], exc.reason)
        elif source in self._held:  # not yet due (a timer fires a hair early)
            self._arm(source, now_s)

    def position_figures(self) -> dict[str, Any]:
        """For the cockpit: the limit, positions dropped since the start, and every source
        that ever flooded with its counts."""
        flooded = sorted(
            (kv for kv in self.gate.sources.items() if kv[1].floods), key=lambda kv: -kv[1].dropped
        )
        rows = [
            {"source": kind, "source_id": source_id}
            | {"dropped": c.dropped, "passed": c.passed, "floods": c.floods}
            for (kind, source_id), c in flooded
        ]
        return {
            "limit_per_s": self.gate.limit_per_s,
            "dropped": self.gate.dropped(),
            "sources": rows,
        }

    # --- a better location: the caller's further fixes, the dispatcher's override ------------
    def add_fix(self, incident_id: str, fix: DeviceFix, spoken: str | None) -> dict[str, Any]:
        """Re-fuse the call's evidence with one more fix; relocate if it moved or tightened.

        The evidence lives in memory: after a restart only the fixes sent since are fused (the
        first call's fix and cell are gone), which is why a fused estimate must still move
        `MOVED_M` or tighten `TIGHTER_M` before it replaces the incident's place.
        """
        places = self.svc.locations
        inc = self.svc.engine.incident(IncidentId(incident_id))
        if not inc.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        old = places.evidence(inc.incident_id)
        if old is None:
            old = CallEvidence()
        evidence = CallEvidence(
            (*old.fixes, fix)[-MAX_FIXES:], old.cell, spoken if spoken else old.spoken
        )
        estimate = places.locate(evidence)
        if estimate is None:  # cannot happen with a fix in hand; kept as a typed refusal
            raise NoLocation("the evidence could not be located")
        moved = float(haversine_m(inc.lon, inc.lat, estimate.lon, estimate.lat)) >= MOVED_M
        tighter = estimate.radius95_m <= inc.radius95_m - TIGHTER_M
        located = (moved or tighter) and not places.placed_by_dispatcher(inc.incident_id)
        if located:
            self._relocate(inc.incident_id, estimate, "caller")
        places.keep(inc.incident_id, evidence)
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
        inc = self.svc.engine.incident(IncidentId(incident_id))
        if spoken is not None:
            estimate = self.svc.locations.locate(CallEvidence((), None, spoken))
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
                    "description": self.svc.locator.describe(lon, lat),
                    "conflict": None,
                },
                "dispatcher",
            )
        else:
            raise InvalidEvent("give spoken words or a pin")
        self.svc.locations.mark_placed(inc.incident_id)
        return self.svc.views.incident(incident_id)

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
        before = self.svc.locations.set_description(incident_id, body["description"])
        inc = self.svc.engine.incidents[incident_id]
        then: list[Frame] = []
        if inc.unit_id is not None:  # the crew hears the new place
            place = {
                "lat": event.lat,
                "lon": event.lon,
                "radius95_m": event.radius95_m,
                "description": body["description"],
            }
            located = {"type": "incident.located", "incident_id": incident_id, "place": place}
            then.append((f"unit:{inc.unit_id}", located, None))
        try:
            self.svc.submit(event, first=[("console", message, None)], then=then)
        except DispatchError:
            self.svc.locations.set_description(incident_id, before)
            raise

    # --- live traffic (in memory, never logged: see dispatch/core/traffic.py) ----------------
    def add_traffic(
        self,
        factor: float,
        expires_in_s: float,
        edges: list[int] | None = None,
        area: list[list[tuple[float, float]]] | None = None,
        street: str | None = None,
    ) -> TrafficEntry:
        """Record a jam and write its factor into the router: the next route sees it."""
        router = self.svc.router
        kind, ids = edges_of(router.net, edges, area, street)
        entry = self.traffic.add(kind, ids, factor, self.svc.now(), expires_in_s, street)
        for write in self.traffic.written(entry):  # its factor, or a slower probe's
            router.set_congestion(write.edges, write.factor)
        return entry

    def expire_traffic(self) -> int:
        """Drop expired jams; their edges go back to the newest remaining factor or free flow."""
        router = self.svc.router
        restores = self.traffic.expire(self.svc.now())
        for restore in restores:
            if restore.factor == 1.0:
                router.clear_congestion(restore.edges)
            else:
                router.set_congestion(restore.edges, restore.factor)
        return sum(int(r.edges.shape[0]) for r in restores)
