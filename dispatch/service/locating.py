"""Locating off the loop: a caller's evidence is fused in a worker process.

Fusion is the second costliest step of a call (about a millisecond of numpy, shapely and Python
per call; a profile of the load test put it at a sixth of the event loop's time), and most of it
holds the GIL, so a thread would not take it off the loop: a process does. The worker builds its
own copy of the city from the same settings (`build_world`: the compiled road graph, the
gazetteer, the cell table) in a fresh interpreter ("spawn", never a fork of a threaded server;
it exits by itself when the server dies, even by SIGKILL) and answers `locate(evidence, now_s)`
exactly as the server's own locator does: fusion is a pure function of the city and the
evidence. It costs the memory of a second copy of the city (about 300 MB for Hangzhou).

A call never waits for the worker to exist or to come back: until it has loaded the city, and
whenever it dies (killed, out of memory), the call is located on the loop as before, and a new
worker is started. Off by default (`JIJIU_LOCATE_WORKERS=1` turns it on): on a 2-core machine
shared with the load generator it took ~0.5 ms of CPU per call off the loop but cost ~0.8 ms in
the worker (pickling both ways), and the console p99 did not improve (docs/benchmarks.md,
"capacity"). It is for a server with cores to spare.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from location_fusion.locate import CallEvidence, Estimate, Locator

if TYPE_CHECKING:
    from dispatch.settings import Settings

logger = logging.getLogger(__name__)

_locator: Locator | None = None  # in a worker process: its own copy of the city's locator
ORPHAN_CHECK_S = 0.5  # how often a worker checks that its server still lives


def _start(settings: Settings, server_pid: int) -> None:
    """A worker's initializer: follow the server out, load the city as it did, warm up."""
    from dispatch.service.city import build_world, warm_up

    global _locator
    threading.Thread(target=_orphan_watch, args=(server_pid,), daemon=True).start()
    router, _locator = build_world(settings)
    warm_up(router, _locator)


def _orphan_watch(server_pid: int) -> None:
    """Exit once the server is gone (killed with SIGKILL, it cannot shut the pool down)."""
    while os.getppid() == server_pid:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _ready() -> bool:
    return _locator is not None


def _locate(evidence: CallEvidence, now_s: float) -> Estimate | None:
    assert _locator is not None, "the worker's initializer did not run"
    return _locator.locate(evidence, now_s)


class LocatorPool:
    """`locate` in worker processes when they are up; on the loop otherwise."""

    def __init__(self, settings: Settings, inline: Locator) -> None:
        self.settings = settings
        self.inline = inline
        self.workers = settings.locate_workers
        self._pool: ProcessPoolExecutor | None = None
        self._up = False  # the worker answered its first question: it holds the city
        self.remote = 0  # calls located by a worker, and the time they took there and back
        self.remote_s = 0.0
        self.restarts = 0
        if self.workers:
            self._spawn()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, never a fork
        self._pool = pool = ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_start,
            initargs=(self.settings, os.getpid()),
        )
        self._up = False

        def warmed(f: Future[bool]) -> None:  # on the pool's thread: a flag, nothing more
            if self._pool is pool and not f.cancelled() and f.exception() is None:
                self._up = True

        pool.submit(_ready).add_done_callback(warmed)

    async def locate(self, evidence: CallEvidence, now_s: float) -> Estimate | None:
        """The fused estimate, from a worker when one is up, else here and now."""
        pool = self._pool
        if pool is None or not self._up:
            return self.inline.locate(evidence, now_s)
        start = time.perf_counter()
        try:
            estimate = await asyncio.wrap_future(pool.submit(_locate, evidence, now_s))
        except BrokenProcessPool:  # the worker died: this call is located here, a new one starts
            logger.warning("the locating worker died; locating on the loop until a new one is up")
            if self._pool is pool:
                self.restarts += 1
                pool.shutdown(wait=False, cancel_futures=True)
                self._spawn()
            return self.inline.locate(evidence, now_s)
        self.remote += 1
        self.remote_s += time.perf_counter() - start
        return estimate

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
