"""Crash recovery: rebuild the engine from the durable event log.

Every record was applied once by the live engine before it was logged, so a fresh engine fed
the same events at the same times must accept each one. A record it refuses means the log is
corrupted (or the code changed under it): recovery stops with `StoreError` naming the seq,
because skipping it would silently serve a state that never existed.
"""

from __future__ import annotations

from collections.abc import Iterable

from dispatch.core.engine import Engine
from dispatch.errors import DispatchError, StoreError
from dispatch.store import codec
from dispatch.store.eventlog import EventLog, Record


def replay(log: EventLog, engine: Engine) -> int:
    """Feed every record to `engine` in seq order, dropping its decisions; the count replayed."""
    return replay_records(log.read(), engine)


def replay_records(records: Iterable[Record], engine: Engine, after_seq: int = 0) -> int:
    """Feed `records` (seq order, after `after_seq`) to `engine`: the log's, or the copy of
    what was durable the service keeps in memory to rebuild from while the store is down."""
    count, last = 0, after_seq
    engine.replaying = True  # skip advice nobody will see; state changes are all re-derived
    try:
        for record in records:
            last = _apply(engine, record, last)
            count += 1
    finally:
        engine.replaying = False
    return count


def _apply(engine: Engine, record: Record, last: int) -> int:
    """Replay one record after seq `last`; return its seq."""
    if record.seq <= last:
        raise StoreError(f"event log seq {record.seq} follows seq {last}: out of order")
    try:
        engine.receive(codec.from_dict(record.event), record.at_s)
    except (DispatchError, ValueError, TypeError) as exc:
        raise StoreError(f"event log record seq={record.seq} cannot be replayed: {exc}") from exc
    engine.decisions()  # already published before the crash; the state is what matters
    return record.seq
