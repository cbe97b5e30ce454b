"""The durable event log: one interface, backends chosen by URL scheme.

The server applies an event to the engine, appends it here (durable when `append` returns) and
only then acknowledges; a restart replays the log (`dispatch.store.replay`), so the engine's state
is
the log's. The log also owns the idempotency-key index: a retried `POST` with a key it has seen
gets the first record back and nothing is written. Record and key go in together or not at all.

Beside the events the log keeps *feeds*: numbered outbound messages per audience that are not
engine state but must not be lost, written in the same transaction as the events of a batch.
A receiving hospital's feed ("hospital:zjpph": patient notices, ETA updates, one FHIR bundle of
vital signs a second) lets a hospital that reconnects, even after a server restart, resume from
the last seq it saw; the "audit" feed records every read of patient data. A feed's seq is given
by the writer (the server numbers a topic's frames), 1, 2, 3 ... with no gaps; replay of the
engine never reads feeds, so their volume does not slow a restart.

    sqlite:///relative/path.db, sqlite:////abs/path.db   the default, one file (WAL, fsync)
    redis://host:port/db[?prefix=jijiu:]                  a Redis stream; AOF with fsync always

`dispatch.store.sqlite_log` is the reference; `tests/dispatch/store/test_eventlog_contract.py` runs
one suite against every backend so they cannot drift. Failures of the store are `StoreError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dispatch.errors import StoreError

MAX_KEY = 200  # characters in an idempotency key (clients send a UUID: 36)
MAX_BATCH = 5000  # entries in one append_batch: one transaction, one fsync
MAX_FEED_NAME = 100  # characters in a feed's name ("hospital:<id>", "audit")
MAX_FEED_READ = 1000  # records in one read_feed

Entry = tuple[float, dict[str, Any], str | None]  # (at_s, event, idem_key) to append


@dataclass(frozen=True)
class Record:
    """One logged event: `seq` is 1, 2, 3 ... in append order, assigned by the log."""

    seq: int
    at_s: float  # engine time the event was applied at
    event: dict[str, Any]  # dispatch.store.codec.to_dict(event)
    idem_key: str | None = None


@dataclass(frozen=True)
class FeedRecord:
    """One message of a feed: `seq` 1, 2, 3 ... per feed, given by the writer."""

    feed: str
    seq: int
    at_s: float
    body: dict[str, Any]


class EventLog(Protocol):
    def append(
        self, at_s: float, event: dict[str, Any], idem_key: str | None = None
    ) -> tuple[Record, bool]:
        """Write one record, durable on return: (record, True); a known key: (earlier, False)."""
        ...

    def append_batch(
        self, entries: Sequence[Entry], feed: Sequence[FeedRecord] = ()
    ) -> list[tuple[Record, bool]]:
        """Write entries in order in one transaction (one fsync): all durable on return, or none.

        Each entry is answered as `append` would, in order; a key seen earlier in the same
        batch answers with that entry's record. Group commit: the server hands the writer
        thread everything that queued up while the previous batch was being fsynced. The
        `feed` records go in the same transaction; a (feed, seq) written before is a
        StoreError and the whole batch is refused.
        """
        ...

    def read_feed(
        self, feed: str, after_seq: int = 0, limit: int = MAX_FEED_READ
    ) -> list[FeedRecord]:
        """Up to `limit` records of `feed` with seq > after_seq, in seq order."""
        ...

    def feed_last_seq(self, feed: str) -> int:
        """The highest seq written to `feed`; 0 for none."""
        ...

    def by_key(self, idem_key: str) -> Record | None:
        """The record written with this idempotency key, if any."""
        ...

    def read(self, after_seq: int = 0) -> Iterator[Record]:
        """Every record with seq > after_seq, in seq order."""
        ...

    def last_seq(self) -> int:
        """The highest seq written; 0 for an empty log."""
        ...

    def ping(self) -> bool:
        """False when the store cannot be reached (for /readyz); never raises."""
        ...

    def close(self) -> None: ...


def open_log(url: str) -> EventLog:
    """The log named by `url`; ValueError for a scheme or path this module does not know."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"event log URL {url!r} has no scheme; use sqlite:///path or redis://")
    if scheme == "sqlite":
        if not rest.startswith("/") or len(rest) < 2:
            raise ValueError(
                f"event log URL {url!r}: write sqlite:///relative.db or sqlite:////abs.db"
            )
        from dispatch.store.sqlite_log import SqliteLog

        return SqliteLog(rest[1:])  # sqlite:///a.db -> "a.db", sqlite:////a.db -> "/a.db"
    if scheme in ("redis", "rediss"):
        from dispatch.store.redis_log import RedisLog

        return RedisLog.from_url(url)
    if scheme == "redis+sentinel":
        from dispatch.store.redis_log import RedisLog

        return RedisLog.from_sentinel_url(url)
    raise ValueError(
        f"event log URL {url!r}: unknown scheme {scheme!r} (sqlite, redis or redis+sentinel)"
    )


# --- shared by the backends --------------------------------------------------------------------
def check_append(at_s: float, idem_key: str | None) -> None:
    """Refuse what no backend may store: a non-finite time, an empty or oversized key."""
    if not (isinstance(at_s, int | float) and math.isfinite(at_s)):
        raise ValueError(f"at_s must be a finite number, not {at_s!r}")
    if idem_key is not None and not (
        isinstance(idem_key, str) and 0 < len(idem_key) <= MAX_KEY and idem_key.isprintable()
    ):
        raise ValueError(f"an idempotency key is 1-{MAX_KEY} printable characters")


def check_batch(entries: Sequence[Entry]) -> list[str]:
    """Validate a batch before anything is written; the bodies as JSON, in order."""
    if len(entries) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} entries, got {len(entries)}")
    bodies = []
    for at_s, event, idem_key in entries:
        check_append(at_s, idem_key)
        bodies.append(encode_body(event))
    return bodies


def check_feed(records: Sequence[FeedRecord]) -> list[str]:
    """Validate feed records before anything is written; the bodies as JSON, in order."""
    if len(records) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} feed records, got {len(records)}")
    bodies = []
    for r in records:
        check_feed_name(r.feed)
        if not (isinstance(r.seq, int) and r.seq >= 1):
            raise ValueError(f"a feed seq is a positive integer, not {r.seq!r}")
        check_append(r.at_s, None)
        bodies.append(encode_body(r.body))
    return bodies


def check_feed_name(feed: str) -> None:
    if not (isinstance(feed, str) and 0 < len(feed) <= MAX_FEED_NAME and feed.isprintable()):
        raise ValueError(f"a feed name is 1-{MAX_FEED_NAME} printable characters")


def check_feed_read(feed: str, after_seq: int, limit: int) -> None:
    check_feed_name(feed)
    if not (isinstance(after_seq, int) and after_seq >= 0):
        raise ValueError(f"after_seq is a non-negative integer, not {after_seq!r}")
    if not (isinstance(limit, int) and 1 <= limit <= MAX_FEED_READ):
        raise ValueError(f"limit is 1-{MAX_FEED_READ}, not {limit!r}")


def encode_body(event: dict[str, Any]) -> str:
    """The event as compact JSON; ValueError for NaN or what JSON cannot hold."""
    if not isinstance(event, dict):
        raise ValueError("an event is a dict (dispatch.store.codec.to_dict)")
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event cannot be logged as JSON: {exc}") from exc


def decode_body(seq: int, body: str | bytes) -> dict[str, Any]:
    """A stored body back to its dict; a record that is not a JSON object is a corrupted log."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"event log record seq={seq} is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise StoreError(f"event log record seq={seq} is not a JSON object")
    return event
