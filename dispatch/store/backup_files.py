"""The files of a backup (`dispatch.store.backup`): private atomic writes, SHA-256, SQLite
copies by the online backup API, and the errors a backup or a restore refuses with.

Every file written here is 0600 and every folder made 0700, whatever the umask: a backup holds
patient data and every token. A file is written beside its place, fsynced and renamed over it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from dispatch.errors import StoreError
from dispatch.store.sqlite_log import BUSY_TIMEOUT_S, FEED_SCHEMA, SCHEMA

SQLITE_HEADER = b"SQLite format 3\x00"


class BackupRefused(StoreError):
    """A restore that would overwrite what is there (a log with records, another secret file)
    without `force`, or a backup folder that is not empty."""

    reason = "backup_refused"


class BackupInvalid(StoreError):
    """A backup folder that fails its manifest: missing, unknown format, a file whose sha256
    or record count differs."""

    reason = "backup_invalid"


@dataclass(frozen=True)
class Counts:
    """What a log file holds: its highest seq, its event records and its feed records."""

    last_seq: int
    records: int
    feed_records: int


def is_sqlite(path: Path) -> bool:
    """True when the file starts with SQLite's header (copy it with the backup API)."""
    with path.open("rb") as f:
        return f.read(16) == SQLITE_HEADER


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if missing; the folder itself is 0700 whatever the umask."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename), mode 0600."""
    tmp = _private_tmp(path)
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    sync_dir(path.parent)


def copy_private(src: Path, path: Path) -> None:
    """Copy the file `src` to `path` atomically (temp file, fsync, rename), mode 0600."""
    tmp = _private_tmp(path)
    try:
        with src.open("rb") as f_in, tmp.open("wb") as f_out:
            shutil.copyfileobj(f_in, f_out, 1 << 20)
            f_out.flush()
            os.fsync(f_out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    sync_dir(path.parent)


def _private_tmp(path: Path) -> Path:
    """A new empty temp file beside `path`, 0600 whatever the umask."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by the umask, and ignored for an old file
    return tmp


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_log_file(path: Path) -> sqlite3.Connection:
    """A fresh SQLite file (0600) with the log's two tables, to dump a Redis log into."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(SCHEMA)
    db.execute(FEED_SCHEMA)
    return db


def counts_of(path: Path) -> Counts:
    """The counts of a log file, after SQLite's quick_check; BackupInvalid if it fails."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupInvalid(f"{path}: SQLite quick_check says {check}")
            last, records = db.execute(
                "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM events"
            ).fetchone()
            (feed,) = db.execute("SELECT COUNT(*) FROM feed").fetchone()
    except sqlite3.Error as exc:
        raise BackupInvalid(f"{path} is not a jijiu log file: {exc}") from exc
    return Counts(int(last), int(records), int(feed))


def sqlite_counts(path: Path) -> Counts | None:
    """The counts of the live log at `path`, through a connection of our own; None when there
    is no such file (an empty store)."""
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if "events" not in tables:
                return Counts(0, 0, 0)
            last, records = db.execute(
                "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM events"
            ).fetchone()
            feed = db.execute("SELECT COUNT(*) FROM feed").fetchone()[0] if "feed" in tables else 0
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read event log {path}: {exc}") from exc
    return Counts(int(last), int(records), int(feed))


def copy_sqlite(path: Path, out: Path) -> None:
    """Copy the live log at `path` to a new file `out` (0600) with the online backup API, in one
    step (one read transaction: a consistent snapshot), then make the copy one file (no WAL)."""
    if not path.exists():
        raise StoreError(f"no event log at {path}")
    fd = os.open(out, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.chmod(out, 0o600)
    try:
        with (
            closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as src,
            closing(sqlite3.connect(out, isolation_level=None)) as dst,
        ):
            src.backup(dst)  # pages=-1: every page in one step
            dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up event log {path}: {exc}") from exc


def unlink_journal(path: Path) -> None:
    """Remove the -wal and -shm files SQLite keeps beside `path`, if any."""
    for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
