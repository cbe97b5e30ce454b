"""Backup and restore: the event log as one SQLite file, the server's secret files, a manifest.

A backup is a folder (0700) of files (0600):

    events.db      the log as one self-contained SQLite file (journal_mode DELETE): the
                   `events` and `feed` tables, and from a SQLite log every other table it keeps
    <secret files> a copy of each file the server reads beside its log, as the CLI names them
                   (the tokens, the accounts, the master data key, the key ring); a SQLite one
                   (the key ring) by the online backup API too, after the log
    manifest.json  written last: format, jijiu version, time, source backend, last seq, record
                   and feed-record counts, the sha256 of every file

From a SQLite log the copy is made by SQLite's online backup API in one step: one read
transaction, so the copy holds exactly the commits before it began, while the server goes on
writing (in WAL mode a reader never blocks the writer). From Redis, `backup_redis` dumps the
stream and the feeds at one atomic cut into the same file format, so any backup restores into
either backend. A folder without its manifest is an unfinished backup and restores nothing.

`restore` checks every sha256 and count before it writes anything, refuses a store that holds
records (or a secret file that differs) unless forced, and installs the file atomically. The
file helpers and the errors are `backup_files`'; the Redis half is `backup_redis`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from dispatch.store.backup_files import (
    BackupInvalid,
    BackupRefused,
    Counts,
    copy_private,
    copy_sqlite,
    counts_of,
    is_sqlite,
    new_log_file,
    private_dir,
    sha256_of,
    sqlite_counts,
    unlink_journal,
    write_private,
)

__all__ = ["BackupInvalid", "BackupRefused", "Counts", "Manifest", "backup", "restore", "verify"]

FORMAT = 1  # of the backup folder; restore refuses another
LOG_FILE = "events.db"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The backup's description, as written to manifest.json."""

    format: int
    jijiu_version: str
    created_at: str  # ISO 8601, UTC
    source: str  # the backend copied: "sqlite" or "redis"
    last_seq: int
    records: int
    feed_records: int
    files: Mapping[str, str] = field(default_factory=dict)  # file name -> sha256 hex
    side_files: Mapping[str, str] = field(default_factory=dict)  # "tokens", ... -> file name

    def to_json(self) -> str:
        body = asdict(self)
        body["files"], body["side_files"] = dict(self.files), dict(self.side_files)
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """The manifest in `text`; BackupInvalid when it is not one this code can restore."""
        try:
            body = json.loads(text)
            manifest = cls(**body)
        except (ValueError, TypeError) as exc:
            raise BackupInvalid(f"the manifest is not readable: {exc}") from exc
        if manifest.format != FORMAT:
            raise BackupInvalid(f"backup format {manifest.format!r}; this jijiu reads {FORMAT}")
        return manifest

    def lines(self) -> list[str]:
        """What a person is shown: the counts and where they came from."""
        return [
            f"backup       {self.source} log, {self.records} records up to seq {self.last_seq}, "
            f"{self.feed_records} feed records",
            f"made         {self.created_at} by jijiu {self.jijiu_version}",
            f"files        {', '.join(sorted(self.files))}",
        ]


# --- pure helpers ------------------------------------------------------------------------------
def backend_of(store_url: str) -> tuple[str, str]:
    """("sqlite", path) or ("redis", url) for a store URL; ValueError for another scheme."""
    scheme, sep, rest = store_url.partition("://")
    if scheme == "sqlite" and sep and rest.startswith("/") and len(rest) > 1:
        return "sqlite", rest[1:]
    if scheme in ("redis", "rediss") and sep:
        return "redis", store_url
    raise ValueError(  # the URL itself is not shown: it may hold a password
        f"backup and restore take sqlite:///path or redis://host:port/db, not {scheme}:// "
        "(for Sentinel, name the primary with redis://)"
    )


def side_name(name: str, path: Path, taken: Iterable[str]) -> str:
    """The file name a secret file gets in the backup: its own, or prefixed with its name in
    the manifest when that is taken (by the log, the manifest or another secret file)."""
    used = {LOG_FILE, MANIFEST, *taken}
    return path.name if path.name not in used else f"{name}-{path.name}"


def check_counts(manifest: Manifest, found: Counts) -> None:
    """BackupInvalid unless the log file holds what the manifest says."""
    said = Counts(manifest.last_seq, manifest.records, manifest.feed_records)
    if found != said:
        raise BackupInvalid(f"{LOG_FILE} holds {found}, the manifest says {said}")


def version() -> str:
    try:
        return metadata.version("jijiu")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- backup ------------------------------------------------------------------------------------
def backup(
    store_url: str, dest: Path, side_files: Mapping[str, Path], now: datetime | None = None
) -> Manifest:
    """Copy the log at `store_url` and the existing `side_files` (setting -> path) into the
    new or empty folder `dest`; the manifest is written last and returned."""
    kind, where = backend_of(store_url)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(f"{dest} exists and is not an empty folder")
    private_dir(dest)
    log_path = dest / LOG_FILE
    if kind == "sqlite":
        copy_sqlite(Path(where), log_path)
    else:
        from dispatch.store.backup_redis import dump

        with closing(new_log_file(log_path)) as db:
            dump(where, db)
    with open(log_path, "rb+") as f:
        os.fsync(f.fileno())
    found = counts_of(log_path)
    files = {LOG_FILE: sha256_of(log_path)}
    names: dict[str, str] = {}
    # After the log: a key ring copied later holds the key of every incident the log copy has.
    for setting, path in sorted(side_files.items()):
        if not path.is_file():
            continue  # not used by this server (a key given in the environment, say)
        name = side_name(setting, path, files)
        if is_sqlite(path):  # a live database (the key ring): a consistent copy, one file
            copy_sqlite(path, dest / name)
            with open(dest / name, "rb+") as f:
                os.fsync(f.fileno())
        else:
            copy_private(path, dest / name)
        files[name], names[setting] = sha256_of(dest / name), name
    manifest = Manifest(
        FORMAT,
        version(),
        (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        kind,
        found.last_seq,
        found.records,
        found.feed_records,
        files,
        names,
    )
    write_private(dest / MANIFEST, manifest.to_json().encode())
    return manifest


# --- restore -----------------------------------------------------------------------------------
def verify(src: Path) -> Manifest:
    """The manifest of the backup in `src` once every file's sha256 and the log's counts match
    it; BackupInvalid otherwise."""
    try:
        manifest = Manifest.from_json((src / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackupInvalid(f"{src} holds no readable {MANIFEST} (an unfinished backup?)") from exc
    if LOG_FILE not in manifest.files or not set(manifest.side_files.values()) <= set(
        manifest.files
    ):
        raise BackupInvalid(f"the manifest in {src} does not list {LOG_FILE} and its files")
    for name, digest in manifest.files.items():
        path = src / name
        if Path(name).name != name or not path.is_file():
            raise BackupInvalid(f"{src} lacks {name}")
        if sha256_of(path) != digest:
            raise BackupInvalid(f"{path}: sha256 differs from the manifest")
    check_counts(manifest, counts_of(src / LOG_FILE))
    return manifest


def restore(
    src: Path, store_url: str, side_files: Mapping[str, Path], force: bool = False
) -> Manifest:
    """Verify the backup in `src`, then put its log into the store at `store_url` and its
    secret files where `side_files` (setting -> path) say. Without `force` a store with records
    or a secret file that differs is refused, before anything is written."""
    kind, where = backend_of(store_url)
    manifest = verify(src)
    targets = {s: side_files[s] for s in manifest.side_files if s in side_files}
    for setting, path in targets.items():
        ours = src / manifest.side_files[setting]
        if path.exists() and not force and path.read_bytes() != ours.read_bytes():
            raise BackupRefused(f"{path} exists and differs from the backup's (use --force)")
    if kind == "sqlite":
        restore_sqlite(src / LOG_FILE, Path(where), force)
    else:
        from dispatch.store.backup_redis import load

        with closing(sqlite3.connect(f"file:{src / LOG_FILE}?mode=ro", uri=True)) as db:
            load(where, db, force)
    for setting, path in targets.items():
        if not path.parent.exists():
            private_dir(path.parent)
        unlink_journal(path)  # a key ring's old WAL must not be applied to the copy
        copy_private(src / manifest.side_files[setting], path)
    return manifest


def restore_sqlite(backup_file: Path, path: Path, force: bool) -> None:
    """Install `backup_file` as the log at `path` (0600, folder 0700 if made) by rename, so a
    server still holding the old file refuses to write rather than write into nothing."""
    found = sqlite_counts(path)
    if found is not None and found.records and not force:
        raise BackupRefused(f"event log {path} holds {found.records} records (use --force)")
    if not path.parent.exists():
        private_dir(path.parent)
    unlink_journal(path)  # the old file's WAL would be applied to the new one by its opener
    copy_private(backup_file, path)
