"""Crash recovery: rebuild the engine from the durable event log (after a snapshot, if any).

Replay applies what happened; it does not judge it again. The engine runs with `replaying` set,
under which the rules a command is checked against at the door (which step a status button may
follow, whether a unit may be offered a job, whether an incident may still be cancelled) are not
applied again: a rule added or tightened after a record was written must not refuse it, since
the record says what the centre did at the time. What replay still refuses is what no state can
hold (an unknown incident or unit, a second incident with one id, time going back, a body that
does not decode): recovery stops with `StoreError` naming the seq, because skipping it would
silently serve a state that never existed. A body of an older version is upcast first
(`dispatch.store.upcast`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.errors import DispatchError, StoreError
from dispatch.store import codec
from dispatch.store.eventlog import EventLog, Record

Decode = Callable[[dict[str, Any]], ev.Event]


def replay(
    log: EventLog, engine: Engine, after_seq: int = 0, decode: Decode = codec.from_dict
) -> int:
    """Feed every record after `after_seq` to `engine` in seq order, dropping its decisions;
    the count replayed."""
    return replay_records(log.read(after_seq), engine, after_seq, decode)


def replay_records(
    records: Iterable[Record],
    engine: Engine,
    after_seq: int = 0,
    decode: Decode = codec.from_dict,
) -> int:
    """Feed `records` (seq order, after `after_seq`) to `engine`: the log's, or the copy of
    what was durable the service keeps in memory to rebuild from while the store is down."""
    count, last = 0, after_seq
    engine.replaying = True  # skip advice nobody will see, and the rules of the door
    try:
        for record in records:
            last = _apply(engine, record, last, decode)
            count += 1
    finally:
        engine.replaying = False
    return count


def _apply(engine: Engine, record: Record, last: int, decode: Decode) -> int:
    """Replay one record after seq `last`; return its seq."""
    if record.seq <= last:
        raise StoreError(f"event log seq {record.seq} follows seq {last}: out of order")
    try:
        engine.receive(decode(record.event), record.at_s)
    except (DispatchError, ValueError, TypeError) as exc:
        raise StoreError(f"event log record seq={record.seq} cannot be replayed: {exc}") from exc
    engine.decisions()  # already published before the crash; the state is what matters
    return record.seq
