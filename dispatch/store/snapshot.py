"""Snapshots of the service's state, so a restart replays only the log's tail.

A snapshot is the state the log's records 1..`last_seq` built (the engine's, `dispatch.core.
engine_state`, and the calls' callers and idempotency keys), written every
`snapshot_every_events` records or `snapshot_every_s` seconds, off the event loop, into the log's
own store (a `snapshots` table in SQLite, a hash next to the stream in Redis); the two newest
are kept. Start-up loads the newest one that reads back whole and replays what follows it.

The stored bytes are a header line and a zlib-compressed JSON body, nothing that runs code
when read (no pickle):

    jijiu-snapshot {"format": 1, "schema": 1, "last_seq": 120000, "at_s": 86400.0,
                    "sha256": "<hex of the compressed body>", "bytes": 5123456}\\n<body>

`SCHEMA_VERSION` names the layout of the state; it goes up whenever any part's export changes
(`engine_state.STATE_VERSION` among them; the engine's part also carries a fingerprint of the
fields of incidents and units, so a field added to either needs no bump by hand). The service
takes a snapshot only while none of its events waits for the disk, so the state is what the
records up to `last_seq` built (and what the log never keeps: the clock of a tick that decided
nothing, a unit's place between two logged positions). A snapshot that is truncated, fails its
checksum, has another schema, or covers records the log does not hold is skipped with a log
line, in favour of an older one or a full replay: never a silently wrong state.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("jijiu.dispatch")

MAGIC = b"jijiu-snapshot "
FORMAT = 1  # the header's own layout
SCHEMA_VERSION = 1  # the state's layout: bump with engine_state.STATE_VERSION or any part's
KEEP = 2  # snapshots kept in the store: the newest, and one to fall back on
CHUNK = 1000  # list items per json.dumps call: the writer thread yields the GIL between them
MAX_HEADER = 4096  # bytes


class SnapshotInvalid(ValueError):
    """A stored snapshot that cannot be used: truncated, corrupt, or of another schema."""


@dataclass(frozen=True)
class Snapshot:
    """The state after records 1..`last_seq`; `at_s` is that record's engine time."""

    last_seq: int
    at_s: float
    state: dict[str, Any]  # {"engine": ..., "calls": ...}: plain JSON-able data

    def __post_init__(self) -> None:
        if not (isinstance(self.last_seq, int) and self.last_seq >= 1):
            raise ValueError(f"a snapshot covers seq 1 or more, not {self.last_seq!r}")


@runtime_checkable
class SnapshotStore(Protocol):
    """What a log offers to keep snapshots (both backends do)."""

    def put_snapshot(self, last_seq: int, blob: bytes, keep: int = KEEP) -> None:
        """Store `blob` as the snapshot up to `last_seq`; keep only the `keep` newest."""
        ...

    def snapshot_seqs(self) -> list[int]:
        """The last seqs of the stored snapshots, newest first."""
        ...

    def read_snapshot(self, last_seq: int) -> bytes | None:
        """The stored bytes of that snapshot, or None if it is gone."""
        ...


def encode(snapshot: Snapshot, level: int = 1) -> bytes:
    """The bytes to store: a header line, then the compressed JSON of the state."""
    body = zlib.compress(_dumps(snapshot.state).encode(), level)
    header = {
        "format": FORMAT,
        "schema": SCHEMA_VERSION,
        "last_seq": snapshot.last_seq,
        "at_s": snapshot.at_s,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
    }
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def decode(blob: bytes, last_seq: int | None = None) -> Snapshot:
    """A snapshot from stored bytes; SnapshotInvalid saying why it cannot be used (and, with
    `last_seq`, unless it says it covers exactly that seq, as the store filed it)."""
    if not blob.startswith(MAGIC):
        raise SnapshotInvalid("not a jijiu snapshot")
    end = blob.find(b"\n", 0, MAX_HEADER)
    if end < 0:
        raise SnapshotInvalid("no header line")
    try:
        header = json.loads(blob[len(MAGIC) : end])
        schema, seq, at_s = header["schema"], int(header["last_seq"]), float(header["at_s"])
        digest, size, fmt = str(header["sha256"]), int(header["bytes"]), header["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotInvalid(f"unreadable header: {exc}") from None
    if fmt != FORMAT or schema != SCHEMA_VERSION:
        raise SnapshotInvalid(
            f"format {fmt} schema {schema}, this code reads {FORMAT}/{SCHEMA_VERSION}"
        )
    if last_seq is not None and seq != last_seq:
        raise SnapshotInvalid(f"filed as seq {last_seq} but covers seq {seq}")
    body = blob[end + 1 :]
    if len(body) != size:
        raise SnapshotInvalid(f"truncated: {len(body)} of {size} bytes")
    if hashlib.sha256(body).hexdigest() != digest:
        raise SnapshotInvalid("checksum mismatch")
    try:
        state = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError) as exc:
        raise SnapshotInvalid(f"unreadable body: {exc}") from None
    if not isinstance(state, dict):
        raise SnapshotInvalid("the state is not a JSON object")
    try:
        return Snapshot(seq, at_s, state)
    except ValueError as exc:
        raise SnapshotInvalid(str(exc)) from None


def load(log: object, use: Callable[[Snapshot], None], log_last_seq: int) -> Snapshot | None:
    """The newest stored snapshot that decodes, covers no record past `log_last_seq` and that
    `use` accepts (it loads the state; ValueError, KeyError or TypeError refuse it), or None.
    Every snapshot passed over is logged with its reason."""
    if not isinstance(log, SnapshotStore):
        return None
    for seq in log.snapshot_seqs():
        try:
            if seq > log_last_seq:
                raise SnapshotInvalid(f"covers seq {seq} but the log ends at {log_last_seq}")
            blob = log.read_snapshot(seq)
            if blob is None:
                raise SnapshotInvalid("gone")
            with collector_paused():
                snapshot = decode(blob, seq)
                use(snapshot)
        except (ValueError, KeyError, TypeError) as exc:  # SnapshotInvalid is a ValueError
            logger.warning("snapshot at seq %d skipped: %s", seq, exc)
            continue
        return snapshot
    return None


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (start-up: loading a snapshot, replaying): decoding a
    year's state makes millions of objects, none of them garbage, and each full collection
    meanwhile walks them all again (it tripled the time of a 45,000-incident load)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Snapshotter:
    """When to write the next snapshot, and writing it on a thread of its own, one at a time."""

    def __init__(
        self,
        log: object,
        every_events: int,
        every_s: float,
        after_seq: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log if isinstance(log, SnapshotStore) else None
        self.every_events = every_events  # 0: not by count
        self.every_s = every_s  # 0: not by time
        self.seq = after_seq  # the last seq covered by the newest snapshot
        self._clock = clock
        self._taken_at = clock()
        self._thread: threading.Thread | None = None
        self.written = 0  # snapshots stored since start
        self.failed = 0

    def due(self, last_seq: int) -> bool:
        """True when a snapshot of the state up to `last_seq` should be written now."""
        if self.log is None or last_seq <= self.seq or self.busy:
            return False
        if self.every_events and last_seq - self.seq >= self.every_events:
            return True
        return bool(self.every_s) and self._clock() - self._taken_at >= self.every_s

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def write(self, snapshot: Snapshot) -> None:
        """Encode and store `snapshot` on a thread (the state must not change meanwhile: the
        caller hands over plain data it no longer touches)."""
        self.seq, self._taken_at = snapshot.last_seq, self._clock()
        self._thread = threading.Thread(
            target=self.write_now, args=(snapshot,), name="jijiu-snapshot", daemon=True
        )
        self._thread.start()

    def write_now(self, snapshot: Snapshot) -> None:
        """Encode and store `snapshot` on this thread; a failure is logged, not raised (the
        log stays the truth; the next snapshot tries again)."""
        store = self.log
        assert store is not None
        started = time.monotonic()
        try:
            blob = encode(snapshot)
            store.put_snapshot(snapshot.last_seq, blob, KEEP)
        except Exception as exc:
            self.failed += 1
            logger.error("snapshot at seq %d not written: %s", snapshot.last_seq, exc)
            return
        self.written += 1
        logger.info(
            "snapshot at seq %d written: %d bytes in %.0f ms",
            snapshot.last_seq,
            len(blob),
            (time.monotonic() - started) * 1e3,
        )

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the snapshot being written, if any (tests, a clean stop)."""
        if self._thread is not None:
            self._thread.join(timeout_s)


def _dumps(value: Any) -> str:
    """JSON of plain data, long lists encoded `CHUNK` items per call (the same text as one
    json.dumps; NaN and infinities as JSON's NaN and Infinity)."""
    if isinstance(value, dict) and len(value) > CHUNK:
        items = list(value.items())
        chunks = (
            json.dumps(dict(items[i : i + CHUNK]), separators=(",", ":"))[1:-1]
            for i in range(0, len(items), CHUNK)
        )
        return "{" + ",".join(chunks) + "}"
    if isinstance(value, dict):
        pairs = (json.dumps(str(k)) + ":" + _dumps(v) for k, v in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list) and len(value) > CHUNK:
        parts = (
            json.dumps(value[i : i + CHUNK], separators=(",", ":"))[1:-1]
            for i in range(0, len(value), CHUNK)
        )
        return "[" + ",".join(parts) + "]"
    return json.dumps(value, separators=(",", ":"))
