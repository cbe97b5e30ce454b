"""Store outages: refuse writes while the event log fails, heal without a restart, count refusals.

When a batch fails to append (Redis down, a reset connection, a timeout, a full disk, an SQLite
I/O error), the group-commit writer tells `begin` before any caller is answered. The engine may
hold events the log does not, so it is rebuilt at once from the records the service knows are
durable (`svc.durable`, its in-memory copy of the log): an event whose append failed leaves no
trace, and every request whose event was in the failed batch or queued behind it gets the same
503. The copy is bounded (`Settings.rebuild_copy_records`); past the bound it is dropped, and
the rebuild waits for the store: it is read back from the log itself before writes resume, so
until then the engine may still show an event that was refused (its 503 was the truth).
Reads go on from memory; every console gets a `store.degraded` frame.

Meanwhile a task retries with backoff (`dispatch.store.position.backoff_s`). When the store
answers, `dispatch.store.position.probe` checks the log against the last durable record (no
gap, no fork), adopts the failed batch if it landed after all, and proves a durable write;
then the writer resumes and consoles get `store.restored`. A log that moved on without this
process (another writer) stops writes for good (`store_diverged`), said on /readyz.

`state` is None while writes are acknowledged, else the reason /readyz gives:
`store_unavailable`, `store_recovering` or `store_diverged`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.errors import Fenced, StoreError
from dispatch.store.eventlog import Entry, EventLog, Record
from dispatch.store.position import Verdict, backoff_s, prove_write, read_position
from dispatch.store.replay import replay_records
from dispatch.store.snapshot import Snapshot

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

logger = logging.getLogger("jijiu.dispatch")

UNAVAILABLE = "store_unavailable"
RECOVERING = "store_recovering"
DIVERGED = "store_diverged"
STANDBY = "standby"  # another process holds the writer's lease (dispatch.store.lease)
# What a 503 tells the caller.
RETRY_AFTER_S = {UNAVAILABLE: 1, RECOVERING: 1, DIVERGED: 30, STANDBY: 1}
REFUSED = "the event log is not acknowledging writes now; retry with the same Idempotency-Key"


def _read_all(log: EventLog) -> list[Record]:
    return list(log.read())


def _read_some(log: EventLog, after_seq: int, most: int) -> list[Record]:
    return list(itertools.islice(log.read(after_seq), most))


FOLLOW_S = 0.25  # how often a standby applies what the writer logged
FOLLOW_BATCH = 5000  # records read at a time while catching up


class DurableCopy:
    """The durable event records in log order, kept in memory up to `cap` records; past the
    cap only the last record is kept (`complete` turns False for good)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.base: Snapshot | None = None  # the state `records` follow (None: the empty log)
        self.records: list[Record] = []
        self.last: Record | None = None
        self.complete = True

    def append(self, record: Record) -> None:
        self.last = record
        if not self.complete:
            return
        self.records.append(record)
        if len(self.records) > self.cap:
            self.records, self.complete = [], False
            logger.warning(
                "over %d durable records: a failed append is now undone from the log", self.cap
            )

    def extend(self, records: Iterable[Record]) -> None:
        for record in records:
            self.append(record)

    def rebase(self, base: Snapshot) -> None:
        """Keep `base` (the state up to `last`) instead of the records it covers: the copy is
        complete again, whatever it dropped before."""
        self.base = base
        self.records = [r for r in self.records if r.seq > base.last_seq]
        self.complete = True


class Outage:
    """The store's health as the service sees it, and the recovery from a failure."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.state: str | None = None
        self.refused_calls = 0  # calls answered 503 because the store failed, since start
        self.outages = 0  # failures since start
        self.diverged_reason: str | None = None  # why writes stopped for good (check_position)
        self._since: float | None = None  # monotonic time the current outage began
        self._refused_at_start = 0
        self._in_doubt: list[Entry] = []
        self._task: asyncio.Task[None] | None = None
        self._follow_task: asyncio.Task[None] | None = None  # a standby taking the lease
        self._rebuild_from_log = False  # the copy was dropped: rebuild once the log reads

    def figures(self) -> dict[str, Any]:
        """For the cockpit: the state, the refused calls and the outages since start."""
        return {
            "state": self.state or "ok",
            "refused_calls": self.refused_calls,
            "outages": self.outages,
        }

    def refusal(self, call: bool = False) -> StoreError:
        """The 503 for a write now; `call`: it refused a call, which is counted."""
        if call:
            self.refused_calls += 1
        exc = StoreError(REFUSED)
        exc.reason = self.state or UNAVAILABLE
        return exc

    def failed(self, exc: BaseException) -> StoreError:
        """A write failed (its batch, or one refused while the store is down): the 503."""
        return self.refusal()

    def refuse(self, event: ev.Event) -> StoreError:
        """`submit` while the store is down: the event is not applied."""
        return self.refusal(isinstance(event, ev.CallReceived))

    def broke(self, error: StoreError, event: ev.Event) -> StoreError:
        """The store failed while an applied event was being handed on (a feed's first
        number read from the log): refuse writes and rebuild, as for a failed batch."""
        self.svc.halt_writes(error)
        self.begin(error, [])
        return self.refusal(isinstance(event, ev.CallReceived))

    def landed(self, record: Record) -> None:
        """A record written after the engine was rebuilt without it (it was being written
        when the store failed elsewhere): apply it too, in seq order."""
        svc = self.svc
        last = svc.durable.last
        replay_records([record], svc.engine, last.seq if last is not None else 0)
        if record.event.get("type") == "CallReceived":
            svc.calls.recall(record.event, record.idem_key)

    # --- failing -----------------------------------------------------------------------------
    def begin(self, error: BaseException, in_doubt: list[Entry]) -> None:
        """A batch failed (the writer calls this before answering anyone): rebuild from what
        is durable, tell the consoles, retry in the background. A batch fenced off (a newer
        writer holds the lease) makes this process a standby."""
        if isinstance(error, Fenced) or self.state == STANDBY:
            self.standby("fenced")
            return
        if self.state == DIVERGED:  # stopped for good: only drop what did not land
            self.rebuild()
            return
        if self.state is None:
            self.outages += 1
            self._since = time.monotonic()
            self._refused_at_start = self.refused_calls
            logger.error("event log append failed (%s): writes refused", type(error).__name__)
        self.state = UNAVAILABLE
        self._in_doubt = in_doubt
        self.svc.feeds.holding = True
        self.svc.feeds.rewind()
        self.rebuild()
        self._publish({"type": "store.degraded", "reason": UNAVAILABLE, "retry_after_s": 1})
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._recover())

    def diverge(self, reason: str) -> None:
        """The log holds what this process did not write: stop writing, rebuild, say why."""
        self.state, self.diverged_reason = DIVERGED, reason
        self.svc.halt_writes(StoreError(f"event log diverged: {reason}"))
        self.svc.feeds.holding = True
        self.svc.feeds.rewind()
        logger.error("event log moved on without this server (%s): writes stopped", reason)
        self.rebuild()  # records of its batch that land after this are applied (`landed`)
        self._publish({"type": "store.degraded", "reason": DIVERGED, "retry_after_s": 30})

    def rebuild(self, records: list[Record] | None = None) -> None:
        """Engine and calls from the durable records only: a failed event leaves no trace.
        Without a complete copy in memory (and no `records` read from the log) it waits for
        the store to read again."""
        svc = self.svc
        if records is None and not svc.durable.complete:
            self._rebuild_from_log = True
            return
        base = svc.durable.base if records is None else None  # `records`: the whole log
        records = svc.durable.records if records is None else records
        try:
            engine, calls = svc.restored(base)
            replay_records(records, engine, base.last_seq if base is not None else 0)
        except (StoreError, ValueError, KeyError, TypeError):  # only if the code changed
            logger.exception("rebuilding the engine from the durable records failed")
            self.state, self.diverged_reason = DIVERGED, "rebuild_failed"
            return
        for record in records:
            if record.event.get("type") == "CallReceived":
                calls.recall(record.event, record.idem_key)
        svc.engine, svc.calls = engine, calls
        svc.forget_positions()

    # --- healing -----------------------------------------------------------------------------
    async def _recover(self) -> None:
        attempt = 0
        while self.state in (UNAVAILABLE, RECOVERING):
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1
            svc = self.svc
            await svc.feeds.written()  # a batch still being written is durable or failed
            held = svc.durable.last
            figures = {
                "outage_s": round(time.monotonic() - (self._since or time.monotonic()), 3),
                "refused_calls": self.refused_calls - self._refused_at_start,
            }
            try:
                verdict = await asyncio.to_thread(read_position, svc.log, held, self._in_doubt)
                if verdict.status != "in_step":
                    if svc.lease is not None and verdict.reason == "log_moved_on":
                        # another writer took over: follow it
                        self.standby(verdict.reason)
                    else:
                        self.diverge(verdict.reason)
                    return
                self.state = RECOVERING  # it reads again and we are in step: can it write?
                last_seqs = await asyncio.to_thread(
                    prove_write, svc.log, svc.feeds.topics, svc.now(), figures
                )
                from_log = None
                if self._rebuild_from_log:  # the copy was dropped: undo from the log itself
                    from_log = await asyncio.to_thread(_read_all, svc.log)
            except Exception as exc:  # still down or full: the next round tries again
                logger.debug("event log still failing: %s", type(exc).__name__)
                self.state = UNAVAILABLE
                continue
            self._resume(held, verdict, last_seqs, figures, from_log)

    def _resume(
        self,
        held: Record | None,
        verdict: Verdict,
        last_seqs: dict[str, int],
        figures: dict[str, Any],
        from_log: list[Record] | None = None,
    ) -> None:
        """The log is where we left it (plus, maybe, the batch in doubt): write again."""
        svc = self.svc
        adopted = verdict.adopted
        if from_log is not None:  # the whole log, adopted records included
            self.rebuild(from_log)
            self._rebuild_from_log = False
            if from_log:
                svc.durable.last = from_log[-1]
        elif adopted:  # the failed batch landed after all: a retry with its key finds it
            replay_records(adopted, svc.engine, held.seq if held is not None else 0)
            svc.durable.extend(adopted)
            for record in adopted:
                if record.event.get("type") == "CallReceived":
                    svc.calls.recall(record.event, record.idem_key)
        svc.feeds.resync(last_seqs)
        svc.resume_writes()
        self.state, self._in_doubt = None, []
        self._publish({"type": "store.restored", **figures})
        logger.warning(
            "event log back after %.1f s: %d calls refused, %d records adopted",
            figures["outage_s"],
            figures["refused_calls"],
            len(adopted),
        )

    # --- one writer: standing by, taking over (dispatch.store.lease) ---------------------------
    def standby(self, reason: str) -> None:
        """Another process holds the writer's lease (or ours was lost): stop acknowledging
        writes now, drop what did not land, tell the consoles, and try to take the lease."""
        svc = self.svc
        if self.state != STANDBY:
            logger.warning("not the event log's writer (%s): standing by", reason)
            self.state = STANDBY
            svc.halt_writes(Fenced(reason))
            svc.feeds.holding = True
            svc.feeds.rewind()
            self.rebuild()
            self._publish({"type": "store.degraded", "reason": STANDBY, "retry_after_s": 1})
        self.follow()

    def follow(self) -> None:
        """Start trying to take the lease (once the loop runs)."""
        if self._follow_task is None or self._follow_task.done():
            self._follow_task = asyncio.get_running_loop().create_task(self._take_over())

    async def _take_over(self) -> None:
        """Follow the writer: apply what it logs, a few times a second, so reads stay current
        and a takeover has little to read. Every third of a lease's lifetime, try the lease;
        once ours, catch up with the last records, prove a write and resume."""
        svc = self.svc
        lease = svc.lease
        assert lease is not None
        tried_at = -math.inf
        while self.state == STANDBY:
            await asyncio.sleep(min(FOLLOW_S, lease.ttl_s / 3))
            try:
                await self._catch_up()
                if time.monotonic() - tried_at < lease.ttl_s / 3:
                    continue
                tried_at = time.monotonic()
                if not await asyncio.to_thread(lease.try_acquire):
                    continue
                await svc.feeds.written()
                verdict = await asyncio.to_thread(read_position, svc.log, svc.durable.last, [])
                if verdict.reason in ("log_lost_records", "log_forked"):  # not a takeover
                    self.diverge(verdict.reason)
                    return
                caught = await self._catch_up()  # what the last writer wrote before it went
                figures = {"leader": lease.holder.rsplit(":", 1)[0], "caught_up": caught}
                last_seqs = await asyncio.to_thread(
                    prove_write, svc.log, svc.feeds.topics, svc.now(), figures
                )
            except Exception as exc:  # Redis down meanwhile: the next round tries again
                logger.debug("following the event log failed: %s", type(exc).__name__)
                continue
            svc.feeds.resync(last_seqs)
            svc.resume_writes()
            self.state, self._in_doubt, self._rebuild_from_log = None, [], False
            self._publish({"type": "store.restored", "outage_s": 0.0, "refused_calls": 0})
            logger.warning("took over as the event log's writer at seq %d", svc.log.last_seq())
            return

    async def _catch_up(self) -> int:
        """Apply the records the writer logged since the last one we hold; how many."""
        svc = self.svc
        after = svc.durable.last.seq if svc.durable.last is not None else 0
        total = 0
        while True:
            records = await asyncio.to_thread(_read_some, svc.log, after, FOLLOW_BATCH)
            if not records:
                return total
            try:
                replay_records(records, svc.engine, after)
            except StoreError:  # a record this engine refuses: nothing to follow safely
                self.diverge("follow_failed")
                raise
            svc.durable.extend(records)
            for record in records:
                if record.event.get("type") == "CallReceived":
                    svc.calls.recall(record.event, record.idem_key)
            after, total = records[-1].seq, total + len(records)

    def stop(self) -> None:
        for task in (self._task, self._follow_task):
            if task is not None:
                task.cancel()

    def _publish(self, frame: dict[str, Any]) -> None:
        self.svc.hub.publish("console", frame)
