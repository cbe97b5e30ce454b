"""The SQLite event log: the default backend and the reference the contract tests hold others to.

One table for events and one for feeds (`dispatch.store.eventlog`), one transaction per append or
batch; a third keeps the two newest snapshots of the state (`dispatch.store.snapshot`).
WAL with `synchronous=FULL` fsyncs the WAL at every commit, so a record is on disk when `append`
returns. Checkpoints (copying the WAL into the database file, with fsyncs of their own) run on a
background thread with its own connection, not inside a commit: SQLite's automatic checkpoint made
one commit in ~1000 take 50-130 ms in the server benchmark, and a call waiting on that commit waited
that long. A PASSIVE checkpoint never blocks the writer. One connection is shared by threads behind
a lock (sqlite3 objects are not safe to use from two threads at once); `BEGIN IMMEDIATE` also
serialises appends from other processes on the same file.

The log holds patient data: a database file it creates is 0600 (SQLite gives its -wal and
-shm files the database's mode) and a folder it creates for it 0700, whatever the umask; an
existing file keeps its mode.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dispatch.errors import StoreError
from dispatch.store.eventlog import (
    MAX_FEED_READ,
    Entry,
    FeedRecord,
    Record,
    check_batch,
    check_feed,
    check_feed_name,
    check_feed_read,
    decode_body,
)

SCHEMA = """CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at_s REAL NOT NULL,
    idem_key TEXT UNIQUE,
    body TEXT NOT NULL
)"""
FEED_SCHEMA = """CREATE TABLE IF NOT EXISTS feed (
    feed TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at_s REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (feed, seq)
) WITHOUT ROWID"""
SNAPSHOT_SCHEMA = """CREATE TABLE IF NOT EXISTS snapshots (
    last_seq INTEGER PRIMARY KEY,
    body BLOB NOT NULL
)"""  # dispatch.store.snapshot: the service's state up to last_seq, the two newest kept
BATCH = 500  # rows per read query: the lock is never held while a caller iterates
BUSY_TIMEOUT_S = 5.0  # wait this long for another process's write transaction
CHECKPOINT_EVERY_S = 2.0  # the background checkpointer's period

Row = tuple[int, float, str | None, str]


class SqliteLog:
    """An event log in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            _create_private(self.path)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open event log {self.path}: {exc}") from exc
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"event log {self.path}: journal_mode is {mode}, not wal")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            self._db.execute(SCHEMA)
            self._db.execute(FEED_SCHEMA)
            self._db.execute(SNAPSHOT_SCHEMA)
            self._identity = _identity(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._db.close()
            raise StoreError(f"cannot open event log {self.path}: {exc}") from exc
        self._closed = False
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="jijiu-log-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def append(
        self, at_s: float, event: dict[str, Any], idem_key: str | None = None
    ) -> tuple[Record, bool]:
        return self.append_batch([(at_s, event, idem_key)])[0]

    def append_batch(
        self, entries: Sequence[Entry], feed: Sequence[FeedRecord] = ()
    ) -> list[tuple[Record, bool]]:
        bodies = check_batch(entries)
        feed_bodies = check_feed(feed)
        out: list[tuple[Record, bool]] = []
        with self._lock:
            db = self._usable()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for (at_s, event, idem_key), body in zip(entries, bodies, strict=True):
                        out.append(_insert(db, float(at_s), event, idem_key, body))
                    if feed:
                        db.executemany(
                            "INSERT INTO feed (feed, seq, at_s, body) VALUES (?, ?, ?, ?)",
                            [
                                (r.feed, r.seq, float(r.at_s), b)
                                for r, b in zip(feed, feed_bodies, strict=True)
                            ],
                        )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"event log {self.path}: append failed: {exc}") from exc
        return out

    def read_feed(
        self, feed: str, after_seq: int = 0, limit: int = MAX_FEED_READ
    ) -> list[FeedRecord]:
        check_feed_read(feed, after_seq, limit)
        rows = self._query(
            "SELECT seq, at_s, body FROM feed WHERE feed = ? AND seq > ? ORDER BY seq LIMIT ?",
            (feed, after_seq, limit),
        )
        return [FeedRecord(feed, seq, at_s, decode_body(seq, body)) for seq, at_s, body in rows]

    def feed_last_seq(self, feed: str) -> int:
        check_feed_name(feed)
        rows = self._query("SELECT COALESCE(MAX(seq), 0) FROM feed WHERE feed = ?", (feed,))
        return int(rows[0][0])

    def by_key(self, idem_key: str) -> Record | None:
        rows = self._query(
            "SELECT seq, at_s, idem_key, body FROM events WHERE idem_key = ?", (idem_key,)
        )
        return _record(rows[0]) if rows else None

    def read(self, after_seq: int = 0) -> Iterator[Record]:
        last = after_seq
        while True:
            rows = self._query(
                "SELECT seq, at_s, idem_key, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, BATCH),
            )
            for row in rows:
                yield _record(row)
            if len(rows) < BATCH:
                return
            last = rows[-1][0]

    def last_seq(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(seq), 0) FROM events", ())
        return int(rows[0][0])

    # --- snapshots (dispatch.store.snapshot) ---------------------------------------------------
    def put_snapshot(self, last_seq: int, blob: bytes, keep: int = 2) -> None:
        """Store a snapshot and drop all but the `keep` newest, in one transaction."""
        with self._lock:
            db = self._usable()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(
                        "INSERT OR REPLACE INTO snapshots (last_seq, body) VALUES (?, ?)",
                        (last_seq, blob),
                    )
                    db.execute(
                        "DELETE FROM snapshots WHERE last_seq NOT IN "
                        "(SELECT last_seq FROM snapshots ORDER BY last_seq DESC LIMIT ?)",
                        (keep,),
                    )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"event log {self.path}: snapshot failed: {exc}") from exc

    def snapshot_seqs(self) -> list[int]:
        rows = self._query("SELECT last_seq FROM snapshots ORDER BY last_seq DESC", ())
        return [int(row[0]) for row in rows]

    def read_snapshot(self, last_seq: int) -> bytes | None:
        rows = self._query("SELECT body FROM snapshots WHERE last_seq = ?", (last_seq,))
        return bytes(rows[0][0]) if rows else None

    def ping(self) -> bool:
        try:
            self._query("SELECT 1 FROM events LIMIT 1", ())
        except StoreError:
            return False
        return True

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not threading.current_thread():
            self._checkpointer.join(timeout=10)
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file now (PASSIVE: never waits for the writer)."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            db.close()

    def _checkpoint_loop(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            try:
                self.checkpoint()
            except sqlite3.Error:  # a busy or vanished file: the next round tries again
                continue

    # --- internals ------------------------------------------------------------------------------
    def _usable(self) -> sqlite3.Connection:
        """The connection, if the log is open and its file is still the one we opened.

        A deleted or replaced file would take appends into an unlinked inode that is gone on
        restart: acknowledged and lost. So every use checks the path still names our file.
        """
        if self._closed:
            raise StoreError(f"event log {self.path} is closed")
        try:
            same = _identity(self.path) == self._identity
        except OSError as exc:
            raise StoreError(f"event log {self.path} is gone: {exc}") from exc
        if not same:
            raise StoreError(f"event log {self.path} was replaced by another file")
        return self._db

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            db = self._usable()
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"event log {self.path}: {exc}") from exc


def _insert(
    db: sqlite3.Connection, at_s: float, event: dict[str, Any], idem_key: str | None, body: str
) -> tuple[Record, bool]:
    """One entry inside the caller's transaction: the earlier record for a known key."""
    if idem_key is not None:
        row = db.execute(
            "SELECT seq, at_s, idem_key, body FROM events WHERE idem_key = ?", (idem_key,)
        ).fetchone()
        if row is not None:
            return _record(row), False
    cur = db.execute(
        "INSERT INTO events (at_s, idem_key, body) VALUES (?, ?, ?)", (at_s, idem_key, body)
    )
    seq = cur.lastrowid
    assert seq is not None  # an INSERT into a rowid table always sets it
    return Record(seq, at_s, event, idem_key), True


def _create_private(path: Path) -> None:
    """Create the database file 0600, and its folder 0700, if they do not exist yet: SQLite
    would create the file with the umask's mode (usually 0644, readable by every local user)."""
    if str(path) == ":memory:" or path.exists():
        return
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: its mode stands
        return
    os.close(fd)
    os.chmod(path, 0o600)  # O_CREAT's mode is masked by the umask too


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _record(row: Row) -> Record:
    seq, at_s, key, body = row
    return Record(seq, at_s, decode_body(seq, body), key)
