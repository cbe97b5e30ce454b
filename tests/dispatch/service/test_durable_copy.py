"""The bounded in-memory copy of durable records that undoes a failed append."""

from __future__ import annotations

from dispatch.service.outage import DurableCopy
from dispatch.store.eventlog import Record


def record(seq: int) -> Record:
    return Record(seq=seq, at_s=float(seq), event={"type": "ClockTicked"})


def test_the_copy_keeps_every_record_up_to_its_cap() -> None:
    """Three records under a cap of three: all kept, in order, the last one named."""
    copy = DurableCopy(cap=3)
    copy.extend(record(s) for s in (1, 2, 3))
    assert copy.complete and [r.seq for r in copy.records] == [1, 2, 3]
    assert copy.last is not None and copy.last.seq == 3


def test_past_its_cap_the_copy_drops_everything_but_the_last_record_for_good() -> None:
    """A fourth record over a cap of three empties the copy; later records are not kept, but
    the last one is still named (the position check needs it)."""
    copy = DurableCopy(cap=3)
    copy.extend(record(s) for s in (1, 2, 3, 4))
    assert not copy.complete and copy.records == []
    copy.append(record(5))
    assert copy.records == [] and copy.last is not None and copy.last.seq == 5
