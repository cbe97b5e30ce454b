"""The wrapped data keys: one row per incident in a 0600 SQLite file beside the master key.

Outside the append-only event log on purpose: deleting an incident's row shreds its personal
fields, since what the log holds of them can no longer be opened by anyone (crypto-shredding).
`secure_delete` overwrites a deleted row's bytes in the file, and the WAL is truncated after
every delete, so no copy of a shredded key stays in either file.

Rows are written by one writer thread in batches (one transaction and one fsync per batch), so
a call never waits on this file on the event loop: `put` keeps the row in memory at once (a read
finds it there) and returns a future that is done once it is on disk.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dispatch.store.sqlite_log import _create_private

SCHEMA = """CREATE TABLE IF NOT EXISTS data_keys (
    incident_id TEXT PRIMARY KEY,
    kid TEXT NOT NULL,
    wrapped BLOB NOT NULL
) WITHOUT ROWID"""
BUSY_TIMEOUT_S = 5.0  # another server on the same file (a Redis log's standby) holds the lock
DELETE_CHUNK = 500  # ids per DELETE statement (SQLite's variable limit is 32766)

Row = tuple[str, bytes]  # (the master key's id, the data key wrapped by it)


class KeyRing:
    """The wrapped data keys of one server, by incident id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _create_private(path)  # 0600 (its -wal and -shm take its mode), a new folder 0700
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")  # a deleted key's bytes are zeroed
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()  # one sqlite3 connection, used from two threads
        self._pending: dict[str, Row] = {}  # put, not yet on disk
        self._job: Future[None] | None = None  # the queued write that has not started yet
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jijiu-keyring")

    def kids(self) -> set[str]:
        """The ids of the master keys the stored rows are wrapped with."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT DISTINCT kid FROM data_keys")}

    def put(self, incident_id: str, kid: str, wrapped: bytes) -> Future[None]:
        """Keep the row now; the future is done once it is durable (its error if it failed)."""
        with self._lock:
            self._pending[incident_id] = (kid, wrapped)
            if self._job is None:  # else the queued job, not started yet, takes this row too
                self._job = self._writer.submit(self._write_pending)
            return self._job

    def _write_pending(self) -> None:
        """On the writer thread: everything pending in one transaction (a batch)."""
        with self._lock:
            self._job = None  # a row put from now on needs the next job
            batch = dict(self._pending)
            if not batch:
                return  # an earlier job wrote this one's row with its own
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO data_keys VALUES (?, ?, ?)",
                    [(i, kid, wrapped) for i, (kid, wrapped) in batch.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for incident_id, row in batch.items():
                if self._pending.get(incident_id) is row:
                    del self._pending[incident_id]

    def forget(self, incident_id: str) -> None:
        """Drop a row put for an incident that was never opened (its call was refused)."""
        with self._lock:
            self._pending.pop(incident_id, None)
        self._writer.submit(self._delete, [incident_id])

    def get(self, incident_id: str) -> Row | None:
        """The incident's row, or None if it has none (never had one, or shredded)."""
        with self._lock:
            row = self._pending.get(incident_id)
            if row is not None:
                return row
            found = self._db.execute(
                "SELECT kid, wrapped FROM data_keys WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return None if found is None else (str(found[0]), bytes(found[1]))

    def ids(self) -> set[str]:
        """Every incident with a stored key."""
        with self._lock:
            stored = {r[0] for r in self._db.execute("SELECT incident_id FROM data_keys")}
            return stored | set(self._pending)

    def shred(self, incident_ids: Iterable[str]) -> int:
        """Delete these incidents' keys for good (blocking: call it off the loop); how many
        rows went. The WAL is truncated after, so the deleted pages leave no copy there."""
        ids = list(incident_ids)
        with self._lock:
            for incident_id in ids:
                self._pending.pop(incident_id, None)
        deleted = self._writer.submit(self._delete, ids).result()
        return deleted

    def _delete(self, ids: list[str]) -> int:
        deleted = 0
        with self._lock:
            for start in range(0, len(ids), DELETE_CHUNK):
                chunk = ids[start : start + DELETE_CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"DELETE FROM data_keys WHERE incident_id IN ({marks})", chunk
                )
                deleted += cursor.rowcount
            if deleted:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def close(self) -> None:
        """Write what is pending, then close the file."""
        self._writer.submit(self._write_pending)
        self._writer.shutdown(wait=True)
        with self._lock:
            self._db.close()
