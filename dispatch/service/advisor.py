"""Advice off the loop: the units for a new call are ranked on a worker thread.

Ranking is the costliest step of a call (a road search of one to three milliseconds; a profile of
the load test put it at a quarter of the event loop's time). Its kernel is numba code that
releases the GIL, so on a worker thread it runs beside the loop, which meanwhile answers other
calls and writes frames. `DispatchService` hands the engine's owed advice here
(`Engine.take_advice` freezes what the search reads); the result comes back to the loop, is
checked against the state it finds there (`Engine.advice_taken`: a unit taken meanwhile is left
out, an incident assigned meanwhile gets none) and goes to the consoles once the call's event is
durable, never before. One worker, so recommendations leave in the order their calls came.

P1 incidents are ranked at once on the loop, as before: the CPR volunteer call-out of a cardiac
arrest reads the ambulance's ETA from that recommendation.

Off by default (`JIJIU_OFF_LOOP=1` turns it on): measured on a 2-core machine shared with the
load generator, the loop's CPU per call fell by ~1.3 ms but the worker's rose by more (the GIL
changes hands for every job) and the console p99 did not improve (docs/benchmarks.md,
"capacity"). It is for a server with cores to spare.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from dispatch.core import events as ev
from dispatch.core.advice import AdviceJob, advise
from dispatch.core.model import Priority
from dispatch.core.recommend import Option
from dispatch.service.views import WIRE_TYPE, Frame, plain

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

logger = logging.getLogger(__name__)

#: Priorities ranked on the loop at once: a watcher (the volunteer call-out) needs their ETA.
AT_ONCE = frozenset({Priority.P1})


class Advisor:
    """Ranks owed advice on a worker thread and publishes it once durable."""

    def __init__(self, svc: DispatchService, off_loop: bool) -> None:
        self.svc = svc
        self._pool = ThreadPoolExecutor(1, "jijiu-rank") if off_loop else None
        self.busy_s = 0.0  # worker time spent ranking (the load test's profile reads it)
        self.jobs = 0

    def take(self) -> list[AdviceJob]:
        """The engine's owed advice as jobs for the worker; [] when ranking stays on the loop."""
        if self._pool is None:
            return []
        return self.svc.engine.take_advice(AT_ONCE)

    def run(self, jobs: list[AdviceJob], durable: asyncio.Future[None]) -> None:
        """Rank `jobs` on the worker; publish their recommendations once `durable` (the
        event's append) has succeeded and the ranking is done, whichever comes last."""
        assert self._pool is not None
        work: Future[list[list[Option]]] = self._pool.submit(self._rank, jobs)
        ranked = asyncio.wrap_future(work)

        def ranked_done(_: asyncio.Future[list[list[Option]]]) -> None:
            if durable.done():
                self._publish(jobs, ranked, durable)
            else:
                durable.add_done_callback(lambda _: self._publish(jobs, ranked, durable))

        ranked.add_done_callback(ranked_done)

    def _rank(self, jobs: list[AdviceJob]) -> list[list[Option]]:
        """On the worker thread: nothing here touches the engine, only the frozen jobs."""
        start = time.perf_counter()
        router = self.svc.router
        try:
            return [advise(router, job) for job in jobs]
        finally:
            self.busy_s += time.perf_counter() - start
            self.jobs += len(jobs)

    def _publish(
        self,
        jobs: list[AdviceJob],
        ranked: asyncio.Future[list[list[Option]]],
        durable: asyncio.Future[None],
    ) -> None:
        """Back on the loop: the still-valid recommendations to every console."""
        if durable.cancelled() or durable.exception() is not None:
            return  # the event was refused (the store failed): nobody may see its advice
        if ranked.cancelled():
            return  # shutting down
        failed = ranked.exception()
        if failed is not None:  # a bug in ranking must not lose the advice: rank here
            logger.error("ranking on the worker failed (%r); ranking on the loop", failed)
            results = [advise(self.svc.router, job) for job in jobs]
        else:
            results = ranked.result()
        engine = self.svc.engine
        frames: list[Frame] = []
        for job, options in zip(jobs, results, strict=True):
            advice = engine.advice_taken(job, options)
            if advice is not None:
                frames.append(
                    ("console", {"type": WIRE_TYPE[ev.Recommended], **plain(advice)}, None)
                )
        self.svc.fanout.emit(frames)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
