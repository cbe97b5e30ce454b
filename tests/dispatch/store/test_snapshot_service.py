"""The service writes snapshots as it runs and starts from the newest one.

A real `DispatchService` on the Wulin network and an SQLite log, a snapshot due every 5
records: four seeded units, two calls and an assignment are submitted; the clock's tick hands
the snapshot to its thread. A second service on the same log starts from that snapshot, replays
only the records after it, and holds what a full replay holds, callers' tokens and retried
calls' first answers included.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from dispatch.core import events as ev
from dispatch.core.engine_state import same_state
from dispatch.core.model import IncidentId, Step
from dispatch.live.hub import Hub
from dispatch.service.calls import Calls
from dispatch.service.outage import DurableCopy
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from dispatch.store.eventlog import Record
from dispatch.store.replay import replay
from dispatch.store.snapshot import Snapshot
from location_fusion.fixes import DeviceFix
from location_fusion.locate import CallEvidence

INCIDENT = (30.2803, 120.1465)


def settings(tmp_path: Path) -> Settings:
    return Settings(
        network="wulin",
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        tokens_file=tmp_path / "tokens.json",
        seed_fleet=4,
        snapshot_every_events=5,
        snapshot_every_s=0,
    )


async def run_shift(svc: DispatchService) -> None:
    """Two calls (one retried key each), an assignment, a tick that snapshots, one more call."""
    svc.start(asyncio.get_running_loop())
    for n in (1, 2):
        fix = DeviceFix(*INCIDENT, 20.0, 0.68, "gnss", 0.0)
        svc.calls.create(f"+86138000000{n}", CallEvidence(fixes=(fix,)), None, f"key-{n}")
        await svc.settled()
    first = min(
        svc.engine.incidents, key=lambda i: svc.engine.incidents[i].timeline[Step.CALL_RECEIVED]
    )
    svc.submit(ev.UnitAssigned(first, sorted(svc.engine.units)[0]))
    await svc.settled()
    svc.tick()
    svc.snapshots.join()
    svc.submit(ev.CallReceived(IncidentId("I3"), *INCIDENT, 30.0), idem_key="call:key-3")
    await svc.settled()


def test_a_restart_starts_from_the_snapshot_the_service_wrote(tmp_path: Path) -> None:
    """Records 1-4 seed units, 5-7 the shift: the tick's snapshot covers seq 7; the restart
    replays record 8 only and matches a full replay and the calls a full replay recalls; a
    snapshot of all 8 leaves nothing to replay and the service still knows its last record."""
    first = DispatchService.open(settings(tmp_path), Hub())
    try:
        asyncio.run(run_shift(first))
        assert first.snapshots.written == 1 and first.snapshots.seq == 7
        assert first.durable.base is not None and first.durable.records[0].seq == 8
        assert first.engine.now_s >= 0.0
    finally:
        first.close()
    again = DispatchService.open(settings(tmp_path), Hub())
    try:
        assert again.durable.base is not None and again.durable.base.last_seq == 7
        assert [r.seq for r in again.durable.records] == [8]
        full = again.new_engine()
        assert replay(again.log, full) == 8
        assert same_state(again.engine, full)
        recalled = Calls(again)  # what a full replay's start would have recalled
        for record in again.log.read():
            if record.event["type"] == "CallReceived":
                recalled.recall(record.event, record.idem_key)
        assert again.calls.export_state() == recalled.export_state()
        assert len(recalled.caller_hash) == 2 and len(recalled.export_state()["keys"]) == 3
        assert len(again.engine.incidents) == 3
        again.snapshots.every_events = 1
        asyncio.run(tick(again))  # a snapshot of everything: seq 8
        assert again.snapshots.seq == 8
    finally:
        again.close()
    third = DispatchService.open(settings(tmp_path), Hub())
    try:  # nothing after the snapshot: it still knows where it stands in the log
        assert third.durable.base is not None and third.durable.base.last_seq == 8
        assert third.durable.records == []
        assert third.durable.last is not None and third.durable.last.seq == 8
        # The tick moved the engine's clock without a record (it decided nothing): the
        # snapshot's clock is that later time, the only difference from a full replay.
        assert third.engine.now_s > full.now_s
        full.now_s = third.engine.now_s
        assert same_state(third.engine, full)
    finally:
        third.close()


async def tick(svc: DispatchService) -> None:
    """Start the writer and tick the clock once; wait for the snapshot it hands off."""
    svc.start(asyncio.get_running_loop())
    svc.tick()
    svc.snapshots.join()


def test_a_snapshot_makes_a_dropped_durable_copy_complete_again() -> None:
    """Past its cap of 3 the copy dropped its records; a snapshot at seq 5 becomes its base,
    so a failed append is undone from memory again: records after 5 are kept."""
    copy = DurableCopy(cap=3)
    copy.extend(Record(s, float(s), {"type": "ClockTicked"}) for s in range(1, 6))
    assert not copy.complete
    copy.rebase(Snapshot(5, 5.0, {}))
    copy.append(Record(6, 6.0, {"type": "ClockTicked"}))
    assert copy.complete and copy.base is not None and copy.base.last_seq == 5
    assert [r.seq for r in copy.records] == [6]
