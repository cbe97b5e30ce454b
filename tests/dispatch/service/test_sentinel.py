"""Redis that survives a node: jijiu on a primary, a replica and three Sentinels; the primary is
killed under load, the Sentinels promote the replica, and jijiu follows without a restart and
loses no acknowledged call (a real redis-server, real redis-sentinel processes)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.settings import Settings
from dispatch.store.redis_log import RedisLog
from tests.support.outage import call_stream
from tests.support.redis_sentinel import SentinelSet
from tests.support.server import start


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    workdir = tmp_path / "sentinel"
    workdir.mkdir()
    group = SentinelSet(workdir)
    yield group
    group.stop()


def test_a_killed_primary_is_followed_and_no_acknowledged_call_is_lost(
    settings: Settings, sentinels: SentinelSet
) -> None:
    """10 taps/s for 14 s, retried on 503; the primary is SIGKILLed at 3 s and, once the
    replica is promoted, the old node comes back (as a replica, so WAIT 1 holds again). Every
    tap is answered 201 and every acknowledged call is in the log the new primary serves."""
    url = f"{sentinels.url}?prefix=s:&wait=1&wait_ms=500"
    live = start(replace(settings, store_url=url))
    try:

        async def scenario() -> list[object]:
            stream = asyncio.create_task(call_stream(live.http, 10.0, 14.0))
            await asyncio.sleep(3.0)
            await asyncio.to_thread(sentinels.kill_primary)
            await asyncio.to_thread(sentinels.wait_failover, 30.0)
            await asyncio.to_thread(sentinels.primary.restart)  # rejoins as a replica
            return list(await stream)

        answers = asyncio.run(scenario())
    finally:
        live.stop()
    assert all(a.status == 201 for a in answers), [a.status for a in answers]  # type: ignore[attr-defined]
    assert sum(a.refusals for a in answers) > 0  # type: ignore[attr-defined]  # the failover was real
    acknowledged = {a.incident_id for a in answers}  # type: ignore[attr-defined]
    log = RedisLog.from_sentinel_url(f"{sentinels.url}?prefix=s:")
    try:
        logged = [
            r.event["incident_id"] for r in log.read() if r.event.get("type") == "CallReceived"
        ]
    finally:
        log.close()
    assert sentinels.primary_port() == sentinels.replica.port
    assert len(logged) == len(set(logged))  # none twice
    assert acknowledged <= set(logged)  # none lost
