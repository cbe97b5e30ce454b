"""The durable event log: one interface, backends chosen by URL scheme.

The server applies an event to the engine, appends it here (durable when `append` returns) and
only then acknowledges; a restart replays the log (`dispatch.replay`), so the engine's state is
the log's. The log also owns the idempotency-key index: a retried `POST` with a key it has seen
gets the first record back and nothing is written. Record and key go in together or not at all.

    sqlite:///relative/path.db, sqlite:////abs/path.db   the default, one file (WAL, fsync)
    redis://host:port/db[?prefix=jijiu:]                  a Redis stream; AOF with fsync always

`dispatch.eventlog_sqlite` is the reference; `tests/dispatch/test_eventlog_contract.py` runs
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

Entry = tuple[float, dict[str, Any], str | None]  # (at_s, event, idem_key) to append


@dataclass(frozen=True)
class Record:
    """One logged event: `seq` is 1, 2, 3 ... in append order, assigned by the log."""

    seq: int
    at_s: float  # engine time the event was applied at
    event: dict[str, Any]  # dispatch.codec.to_dict(event)
    idem_key: str | None = None


class EventLog(Protocol):
    def append(
        self, at_s: float, event: dict[str, Any], idem_key: str | None = None
    ) -> tuple[Record, bool]:
        """Write one record, durable on return: (record, True); a known key: (earlier, False)."""
        ...

    def append_batch(self, entries: Sequence[Entry]) -> list[tuple[Record, bool]]:
        """Write entries in order in one transaction (one fsync): all durable on return, or none.

        Each entry is answered as `append` would, in order; a key seen earlier in the same
        batch answers with that entry's record. Group commit: the server hands the writer
        thread everything that queued up while the previous batch was being fsynced.
        """
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
        from dispatch.eventlog_sqlite import SqliteLog

        return SqliteLog(rest[1:])  # sqlite:///a.db -> "a.db", sqlite:////a.db -> "/a.db"
    if scheme in ("redis", "rediss"):
        from dispatch.eventlog_redis import RedisLog

        return RedisLog.from_url(url)
    raise ValueError(f"event log URL {url!r}: unknown scheme {scheme!r} (sqlite or redis)")


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


def encode_body(event: dict[str, Any]) -> str:
    """The event as compact JSON; ValueError for NaN or what JSON cannot hold."""
    if not isinstance(event, dict):
        raise ValueError("an event is a dict (dispatch.codec.to_dict)")
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
