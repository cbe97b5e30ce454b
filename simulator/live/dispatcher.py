"""The simulated dispatcher: watches `/ws/console` and sends the recommended unit, one click.

For every `call.received` on the console the bot takes the call like a call-taker (the call's
drawn call-to-dispatch interval, `CallSpec.triage_s`), triages it when its priority differs
from the server's default (a cardiac arrest is P1 on arrival, anything else P2: `POST
.../triage`), then reads the ranking (`GET
.../recommendations`, the same list the console's `incident.recommended` frame shows) and
assigns the first unit (`POST .../assignment`). A unit it has just assigned, or that another
incident's click took meanwhile (409 `unit_unavailable`), is passed over for the next one.
With no unit free the call waits and is tried again whenever the console shows a unit freed.

Passed over too: a unit clearing at hospital (`at_hospital`). The server recommends it (with
a clearing penalty), but assigning it while its patient is not yet handed over would leave
that earlier incident unable to close: the engine gives the unit the new incident, and the
crew's later `available_on_road` then refers to the new one (reported as a server gap).

Only the simulator's own calls: a call its callers did not place (a person's, made and
dispatched by hand on the console, as the page tests do) is left alone, and counted once its
201 has not come in `record_of`'s wait (15 s; the run stopping ends the wait too).

The console frames also feed the run's shared view: unit statuses, the hospital chosen for
each patient (`destination.chosen`, which the tablet drives to), and when each call showed
up on the console.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from simulator.live.context import LiveContext
from simulator.live.link import Frame, Link
from simulator.live.summary import CallRecord

FREE = frozenset({"available_at_station", "available_on_road"})
PASSED_OVER = frozenset({"at_hospital"})  # see the module docstring
RETRY_WALL_S = 2.0  # without a unit freed, look again this often


class Dispatcher:
    """The console socket and the bot clicking on it."""

    def __init__(self, ctx: LiveContext) -> None:
        self.ctx = ctx
        self.token: str = ctx.endpoints.tokens["dispatcher"]
        self.last_seq: int | None = None
        self.snapshot = asyncio.Event()
        self.units: list[dict[str, Any]] = []  # from the first snapshot
        self._claimed: set[str] = set()
        self.link = Link("console", self._url, self._on_frame, ctx.tally)

    def _url(self) -> str:
        since = f"&since={self.last_seq}" if self.last_seq is not None else ""
        return f"{self.ctx.endpoints.ws}/ws/console?token={self.token}{since}"

    # --- the console ------------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        seq = frame.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        kind = frame.get("type")
        handler: Callable[[Frame], None] | None = getattr(
            self, "_on_" + str(kind).replace(".", "_"), None
        )
        if handler is not None:
            handler(frame)

    def _on_snapshot(self, frame: Frame) -> None:
        self.last_seq = frame.get("last_seq", self.last_seq)
        if not self.units:
            self.units = list(frame.get("units", []))
        for u in frame.get("units", []):
            self.ctx.unit_status[u["unit_id"]] = u["status"]
        self.snapshot.set()

    def _on_call_received(self, frame: Frame) -> None:
        iid = frame["incident_id"]
        self.ctx.console_seen.setdefault(iid, {}).setdefault("call.received", self.ctx.wall())
        if self.ctx.stop.is_set():
            return
        self.ctx.spawn(self._take(iid), "dispatcher")

    def _on_incident_recommended(self, frame: Frame) -> None:
        seen = self.ctx.console_seen.setdefault(frame["incident_id"], {})
        seen.setdefault("incident.recommended", self.ctx.wall())

    def _on_unit_changed(self, frame: Frame) -> None:
        unit_id, status = frame["unit_id"], frame["status"]
        self.ctx.unit_status[unit_id] = status
        self._claimed.discard(unit_id)
        if status in FREE:
            self.ctx.unit_freed()

    def _on_destination_chosen(self, frame: Frame) -> None:
        self.ctx.routed(frame["incident_id"], frame["hospital_id"])

    def _on_offer_escalated(self, frame: Frame) -> None:
        self.ctx.tally.count("offers escalated")

    # --- the bot ---------------------------------------------------------------------------------
    async def _take(self, incident_id: str) -> None:
        record = await _unless_stopped(self.ctx, self.ctx.record_of(incident_id))
        if record is None:  # not placed by this run's callers: a person's to dispatch
            if not self.ctx.stop.is_set():
                self.ctx.tally.count("calls left to a person")
            return
        taking_s = record.spec.triage_s if record.spec is not None else 60.0
        if not await self.ctx.pause_city(taking_s):
            return
        default = 1 if record.complaint == "cardiac_arrest" else 2
        if record.priority != default:
            body = {"priority": record.priority, "complaint": record.complaint}
            path = f"/api/v1/incidents/{incident_id}/triage"
            if await self.ctx.api("POST", path, self.token, body) is None:
                return
        await self._assign(record, incident_id)

    async def _assign(self, record: CallRecord, incident_id: str) -> None:
        """Assign the first eligible recommended unit; wait for one when none is."""
        path = f"/api/v1/incidents/{incident_id}"
        while not self.ctx.stop.is_set():
            r = await self.ctx.api("GET", f"{path}/recommendations", self.token)
            if r is None:
                return
            unit_id = self._first_eligible(r.json())
            if unit_id is None:
                await self.ctx.wait_for_free_unit(RETRY_WALL_S * (0.5 + record.priority / 2))
                continue
            self._claimed.add(unit_id)
            record.at["assign_posted"] = self.ctx.wall()
            r = await self.ctx.api(
                "POST",
                f"{path}/assignment",
                self.token,
                # the bot reads the place back and confirms it, as a dispatcher would
                {"unit_id": unit_id, "confirm_conflict": True},
                expected=(409,),
            )
            if r is None:
                self._claimed.discard(unit_id)
                return
            if r.status_code == 409:  # taken by another click meanwhile: the next one
                self._claimed.discard(unit_id)
                self.ctx.tally.count("assignments raced (409)")
                continue
            record.unit_id = unit_id
            record.reached("assigned", self.ctx.wall())
            return

    def _first_eligible(self, options: list[dict[str, Any]]) -> str | None:
        for option in options:
            unit_id = str(option["unit_id"])
            status = self.ctx.unit_status.get(unit_id)
            if unit_id in self._claimed or status in PASSED_OVER:
                continue
            return unit_id
        return None


async def _unless_stopped(
    ctx: LiveContext, waiting: Coroutine[None, None, CallRecord | None]
) -> CallRecord | None:
    """What `waiting` returns, or None as soon as the run stops."""
    task = asyncio.ensure_future(waiting)
    stopping = asyncio.ensure_future(ctx.stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    for t in (task, stopping):
        t.cancel()
    await asyncio.gather(task, stopping, return_exceptions=True)
    return task.result() if task.done() and not task.cancelled() else None
