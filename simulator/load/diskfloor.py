"""The disk's floor under load: bare fsync'd SQLite commits at the call rate, each timed.

A durable 201 waits for the event log's commit, so no 201 can beat the tail of a bare commit
on the same disk under the same load. `disk_floor` runs one-row commits (WAL,
synchronous=FULL, as the event log) in a thread beside whatever the caller measures, at `rate`
per second for `seconds`, and hands back the list their durations (s) are appended to. The
server benchmark reports it next to its 201 latency.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROW = "x" * 300  # about one call's event, in characters


def probe(path: Path, rate: float, seconds: float, out: list[float]) -> None:
    """One-row commits into a fresh SQLite file at `rate` per second for `seconds`."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS e (seq INTEGER PRIMARY KEY, body TEXT)")
        t_next, stop = time.monotonic(), time.monotonic() + seconds
        while (now := time.monotonic()) < stop:
            time.sleep(max(0.0, t_next - now))
            t = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO e (body) VALUES (?)", (ROW,))
            db.execute("COMMIT")
            out.append(time.perf_counter() - t)
            t_next += 1.0 / rate
    finally:
        db.close()


@contextmanager
def disk_floor(path: Path, rate: float, seconds: float) -> Iterator[list[float]]:
    """Probe the disk in a thread while the block runs; the block's end waits for the probe
    (at most `seconds` after it began). The yielded list holds the commit times (s)."""
    if not rate > 0:
        raise ValueError("the probe's rate is a positive number of commits per second")
    samples: list[float] = []
    thread = threading.Thread(target=probe, args=(path, rate, seconds, samples), daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        thread.join()
