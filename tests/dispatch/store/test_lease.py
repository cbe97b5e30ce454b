"""The writer's lease on a shared Redis log: one holder at a time, and every append of a writer
whose lease another process took is refused atomically (fenced), feed records included."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from dispatch.errors import Fenced
from dispatch.store.eventlog import FeedRecord
from dispatch.store.lease import Lease, leasable
from dispatch.store.redis_log import RedisLog
from dispatch.store.sqlite_log import SqliteLog


def _pair(redis_url: str) -> tuple[RedisLog, RedisLog]:
    """Two processes' views of one log (two clients, one key prefix)."""
    url = f"{redis_url}?prefix=l{uuid.uuid4().hex[:12]}:"
    return RedisLog.from_url(url), RedisLog.from_url(url)


def test_one_holder_at_a_time_with_a_growing_token(redis_url: str) -> None:
    """A takes the lease (token 1); B cannot while A holds it; once A releases it B gets
    token 2, and A's renewal says it is no longer A's."""
    a, b = _pair(redis_url)
    try:
        assert a.acquire("A", 5000) == 1
        assert b.acquire("B", 5000) is None
        assert a.renew("A", 5000) is True
        a.release("A")
        assert b.acquire("B", 5000) == 2
        assert a.renew("A", 5000) is False and b.renew("B", 5000) is True
    finally:
        a.close()
        b.close()


def test_a_writer_whose_lease_was_taken_is_fenced_and_writes_nothing(redis_url: str) -> None:
    """A's lease lapses (it was paused) and B takes it: A's next batch, events and a feed
    record alike, is refused with Fenced and leaves the log as it was; B's writes go in."""
    a, b = _pair(redis_url)
    try:
        assert a.acquire("A", 300) == 1
        a.append(1.0, {"type": "ClockTicked"}, "a-1")
        time.sleep(0.5)  # A's lease expires: A was frozen, not renewing
        assert b.acquire("B", 5000) == 2
        with pytest.raises(Fenced):
            a.append(2.0, {"type": "ClockTicked"}, "a-2")
        with pytest.raises(Fenced):
            a.append_batch([(3.0, {"type": "ClockTicked"}, None)], [FeedRecord("h", 1, 3.0, {})])
        assert [r.idem_key for r in b.read()] == ["a-1"]
        assert b.feed_last_seq("h") == 0
        b.append(4.0, {"type": "ClockTicked"}, "b-1")
        assert [r.idem_key for r in a.read()] == ["a-1", "b-1"]
    finally:
        a.close()
        b.close()


def test_a_lease_that_lapsed_with_nobody_taking_it_is_renewed(redis_url: str) -> None:
    """A lease that expired while its holder could not reach Redis, and that nobody took,
    is renewed by its holder with the same token (nobody else can have written)."""
    a, _ = _pair(redis_url)
    try:
        assert a.acquire("A", 300) == 1
        time.sleep(0.5)
        assert a.renew("A", 5000) is True
        a.append(1.0, {"type": "ClockTicked"})  # still the writer: not fenced
    finally:
        a.close()


def test_the_lease_thread_says_when_another_took_over(redis_url: str, tmp_path: Path) -> None:
    """A Lease renewing every third of 0.6 s calls on_lost once B took the lease; a log
    without leases (SQLite) is not leasable."""
    a, b = _pair(redis_url)
    lost = threading.Event()
    reasons: list[str] = []

    def on_lost(reason: str) -> None:
        reasons.append(reason)
        lost.set()

    lease = Lease(a, 0.6, on_lost)
    try:
        assert lease.try_acquire() and lease.token == 1
        b._client.delete(b.keys.lease)  # as if A had been frozen past its lease
        assert b.acquire("B", 5000) == 2
        assert lost.wait(3.0) and reasons == ["lease_lost"] and not lease.held
    finally:
        lease.release()
        a.close()
        b.close()
    local = SqliteLog(str(tmp_path / "events.db"))
    try:
        assert leasable(a) and not leasable(local)
    finally:
        local.close()
