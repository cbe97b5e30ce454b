"""Group commit: the event loop never waits on the disk, and N appends cost one fsync.

The server applies an event to the engine at once (in memory, on the loop) and hands the record
here. One writer thread appends everything that queued up while the previous batch was being
written, in one transaction (`EventLog.append_batch`), and then runs each entry's callback on
the loop, in append order. The answer to a client (a 201, an "accepted" frame) and the frames
to other clients are sent from that callback, so nothing is acknowledged or shown before it is
durable, and a burst of calls shares fsyncs instead of queueing behind them (the pattern of
PostgreSQL's commit_delay and of every write-ahead log since System R, without the delay).

A failed batch fails every entry in it and every entry queued after it, and every append after
it, until `resume`: the engine has applied events the log may not hold. Before any entry's
callback runs, `on_failure` is told the error and the batch's events, whose fate is in doubt
(a write can land although its answer was lost); the service rebuilds its engine from what is
durable, retries in the background and calls `resume` once the log is checked
(`dispatch.store.position`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dispatch.errors import StoreError
from dispatch.store.eventlog import MAX_BATCH, Entry, EventLog, FeedRecord, Record

logger = logging.getLogger(__name__)
SLOW_BATCH_S = 0.1  # a commit slower than this is logged: the disk is holding calls up
LAZY_WITHIN_S = 1.0  # a lazy entry waits at most this long for a batch to ride in

# (written, error): written is (record, created) as from EventLog.append for an event, None
# for a feed record; error is None once durable.
Done = Callable[[tuple[Record, bool] | None, BaseException | None], None]
# (error, the failed batch's events in append order): called once per failure, before the
# callbacks of the failed entries.
OnFailure = Callable[[BaseException, list[Entry]], None]


class GroupCommit:
    """Append entries from the loop's thread; callbacks run on the loop once durable."""

    def __init__(self, log: EventLog, loop: asyncio.AbstractEventLoop) -> None:
        self._log = log
        self._loop = loop
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="jijiu-log")
        self._queued: list[tuple[Entry | FeedRecord, Done | None]] = []
        self._writing = False
        self._failed: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.batches = 0  # how many transactions, for the stats and the tests
        self.entries = 0
        self.on_failure: OnFailure | None = None

    @property
    def failed(self) -> bool:
        """True from a failed batch until `resume`: appends are refused meanwhile."""
        return self._failed is not None

    def fail(self, error: StoreError) -> None:
        """Refuse appends from now on, and fail the entries queued but not being written (the
        service found the store failing elsewhere); a batch being written finishes as it will."""
        if self._failed is not None:
            return
        self._failed = error
        failed, self._queued = self._queued, []
        for _, done in failed:
            if done is not None:
                done(None, error)
        if not self._writing:
            self._idle.set()

    def resume(self) -> None:
        """Accept appends again (the service checked the log after a failure)."""
        assert not self._queued and not self._writing, "nothing is queued while failed"
        self._failed = None

    @property
    def pending(self) -> int:
        """Entries queued or being written."""
        return len(self._queued) + (1 if self._writing else 0)

    def append(
        self, entry: Entry | FeedRecord, done: Done | None = None, *, lazy: bool = False
    ) -> None:
        """Queue one event entry or feed record; `done((record, created), None)` (an event) or
        `done(None, None)` (a feed record) on the loop once durable, else `done(None, exc)`.
        `done` must not raise (it runs as a loop callback).

        A `lazy` entry (nobody waits for it: a unit's periodic position) does not start a
        write: it rides in the next batch, or is written within LAZY_WITHIN_S. A call then
        never queues behind an fsync made for a position.
        """
        if self._failed is not None:
            if done is not None:
                done(None, self._failed)
            return
        self._queued.append((entry, done))
        self._idle.clear()
        if self._writing:
            return
        if not lazy:
            self._start()
        elif self._timer is None:
            self._timer = self._loop.call_later(LAZY_WITHIN_S, self._kick)

    def _kick(self) -> None:
        self._timer = None
        if self._queued and not self._writing and self._failed is None:
            self._start()

    async def flushed(self) -> None:
        """Wait until everything queued so far is written (or has failed)."""
        await self._idle.wait()

    def close(self) -> None:
        """Stop the writer thread after the batch in progress; queued entries are not written."""
        if self._timer is not None:
            self._timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> None:
        batch, self._queued = self._queued[:MAX_BATCH], self._queued[MAX_BATCH:]
        self._writing = True
        entries = [e for e, _ in batch if not isinstance(e, FeedRecord)]
        feed = [e for e, _ in batch if isinstance(e, FeedRecord)]
        started = time.monotonic()
        future = self._loop.run_in_executor(self._pool, self._log.append_batch, entries, feed)
        future.add_done_callback(lambda f: self._finish(batch, f, started))

    def _finish(
        self,
        batch: list[tuple[Entry | FeedRecord, Done | None]],
        future: asyncio.Future[Any],
        started: float,
    ) -> None:
        self._writing = False
        took_s = time.monotonic() - started
        if took_s > SLOW_BATCH_S:
            logger.warning("event log batch of %d took %.0f ms", len(batch), took_s * 1e3)
        error = None if future.cancelled() else future.exception()
        if future.cancelled():
            error = StoreError("the event log writer stopped")
        if error is not None:
            self._failed = (
                error if isinstance(error, StoreError) else StoreError(f"append failed: {error}")
            )
            logger.error("event log batch of %d failed: %s", len(batch), error)
            failed, self._queued = batch + self._queued, []
            if self.on_failure is not None:
                in_doubt = [e for e, _ in batch if not isinstance(e, FeedRecord)]
                self.on_failure(self._failed, in_doubt)
            for _, done in failed:
                if done is not None:
                    done(None, self._failed)
        else:
            self.batches += 1
            self.entries += len(batch)
            answers = iter(future.result())
            for entry, done in batch:
                written = None if isinstance(entry, FeedRecord) else next(answers)
                if done is not None:
                    done(written, None)
        if self._queued:
            self._start()
        else:
            self._idle.set()
