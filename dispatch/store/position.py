"""Where the server stands in the event log after an outage: the retry schedule and the check.

When the store fails, the service rebuilds its engine from the records it knows are durable
and retries in the background (`backoff_s`). When the store answers again, `check_position`
compares what the service holds with what the log holds from the service's last durable record
on: the same record at the same seq (no fork), then nothing (in step) or exactly the batch
whose append failed in doubt (a write that landed although its answer was lost: adopted, so
a retry with the same key finds it), and nothing else. Anything else means the log moved on
without this process (another writer, a restored backup): it must stop writing.

The I/O parts run on a worker thread: `read_position` reads the log from that record on and
runs the check; `prove_write` then proves a durable write works by logging a record in the
"store" feed (the outage's figures) and reads each open feed's last seq.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dispatch.store.eventlog import Entry, EventLog, FeedRecord, Record, encode_body

BACKOFF_FIRST_S = 0.2  # the first retry, after the failure
BACKOFF_MAX_S = 1.0  # a returning store is noticed within this (the target is 5 s)
STORE_FEED = "store"  # one record per recovery: when, and how many calls were refused
AT_S_TOLERANCE_S = 1e-6  # engine times go through JSON or REAL: compare within a microsecond


def backoff_s(
    attempt: int, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S
) -> float:
    """Seconds to wait before retry `attempt` (0, 1, 2 ...): doubling from `first_s`, capped."""
    if attempt < 0:
        raise ValueError(f"attempt is 0 or more, not {attempt}")
    if not 0 < first_s <= max_s:
        raise ValueError("backoff needs 0 < first_s <= max_s")
    return min(max_s, first_s * 2.0 ** min(attempt, 32))


@dataclass(frozen=True)
class Verdict:
    """The check's answer: in step (with the in-doubt records the log holds), or diverged."""

    status: Literal["in_step", "diverged"]
    reason: str  # "in_step", "adopted", "log_lost_records", "log_forked", "log_moved_on"
    adopted: tuple[Record, ...] = ()


def same_record(record: Record, at_s: float, event: Mapping[str, Any], key: str | None) -> bool:
    """True when the log's `record` is the entry (at_s, event, key): same body, key and time."""
    return (
        record.idem_key == key
        and abs(record.at_s - at_s) <= AT_S_TOLERANCE_S
        and encode_body(dict(record.event)) == encode_body(dict(event))
    )


def check_position(
    held: Record | None, from_held: Sequence[Record], in_doubt: Sequence[Entry]
) -> Verdict:
    """Compare the last durable record this process holds (`held`, None for an empty log)
    with the log's records from `held.seq` on (`from_held`, `held` itself first; from seq 1
    if None) and the entries of the batch whose append failed (`in_doubt`, in order)."""
    tail = list(from_held)
    if held is not None:
        if not tail or tail[0].seq != held.seq:
            return Verdict("diverged", "log_lost_records")
        if not same_record(tail[0], held.at_s, held.event, held.idem_key):
            return Verdict("diverged", "log_forked")
        tail = tail[1:]
    after = held.seq if held is not None else 0
    if not tail:
        return Verdict("in_step", "in_step")
    if [r.seq for r in tail] != list(range(after + 1, after + 1 + len(tail))):
        return Verdict("diverged", "log_forked")
    if len(tail) != len(in_doubt):  # one batch is one transaction: all of it or none
        return Verdict("diverged", "log_moved_on")
    for record, (at_s, event, key) in zip(tail, in_doubt, strict=True):
        if not same_record(record, at_s, event, key):
            return Verdict("diverged", "log_moved_on")
    return Verdict("in_step", "adopted", tuple(tail))


def read_position(log: EventLog, held: Record | None, in_doubt: Sequence[Entry]) -> Verdict:
    """Read the log from `held` on and check it (blocking; StoreError while it is down)."""
    start = held.seq - 1 if held is not None else 0
    # One more record than could match, so a log that moved on is seen without reading it all.
    return check_position(
        held, list(itertools.islice(log.read(start), len(in_doubt) + 2)), in_doubt
    )


def prove_write(
    log: EventLog, feeds: Iterable[str], at_s: float, figures: Mapping[str, Any]
) -> dict[str, int]:
    """Log one record in the "store" feed (a full disk or a read-only Redis refuses it with
    StoreError), then each of `feeds`' last seq, so numbering continues where the log stands."""
    seq = log.feed_last_seq(STORE_FEED) + 1
    log.append_batch([], [FeedRecord(STORE_FEED, seq, at_s, dict(figures))])
    return {feed: log.feed_last_seq(feed) for feed in feeds}
