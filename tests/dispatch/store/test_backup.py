"""Backup and restore of the event log (dispatch.store.backup): the manifest, file modes, the
checks before a restore writes anything, SQLite and Redis both ways, and a backup taken while a
thread appends. Real SQLite files and a real redis-server; no timing is asserted."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
import redis

from dispatch.store import backup
from dispatch.store.backup import BackupInvalid, BackupRefused, Counts, Manifest
from dispatch.store.eventlog import FeedRecord, Record, open_log
from dispatch.store.sqlite_log import SqliteLog


def fill(url: str, records: int = 3) -> list[Record]:
    """`records` events with keys k0, k1 ... and two audit feed records, in the log at `url`."""
    log = open_log(url)
    try:
        for i in range(records):
            log.append(float(i), {"type": "Probe", "i": i}, f"k{i}")
        log.append_batch(
            [], [FeedRecord("audit", 1, 1.0, {"n": 1}), FeedRecord("audit", 2, 2.0, {"n": 2})]
        )
        return list(log.read())
    finally:
        log.close()


def contents(url: str) -> tuple[list[Record], list[FeedRecord], int]:
    """Every record, the audit feed and the last seq of the log at `url`."""
    log = open_log(url)
    try:
        return list(log.read()), log.read_feed("audit"), log.last_seq()
    finally:
        log.close()


def secrets_in(folder: Path) -> dict[str, Path]:
    """Secret files as the CLI names them, inside `folder`: tokens, a key file, a key ring."""
    return {
        "tokens": folder / "tokens.json",
        "data_key": folder / "data.key",
        "key_ring": folder / "keys.db",
    }


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, dict[str, Path]]:
    """A SQLite log of three records and two feed records, and a tokens file (no key file,
    no key ring)."""
    folder = tmp_path / "live"
    url = f"sqlite:///{folder / 'events.db'}"
    fill(url)
    (folder / "tokens.json").write_text('{"secret": "s3cr3t-s3cr3t-s3cr3t"}')
    return url, secrets_in(folder)


def test_backend_of_reads_sqlite_and_redis_urls_and_refuses_others() -> None:
    """sqlite:////a.db is the path /a.db; redis:// is kept whole; a Sentinel URL is refused."""
    assert backup.backend_of("sqlite:////a/b.db") == ("sqlite", "/a/b.db")
    assert backup.backend_of("sqlite:///b.db") == ("sqlite", "b.db")
    assert backup.backend_of("redis://h:1/0?prefix=x:") == ("redis", "redis://h:1/0?prefix=x:")
    with pytest.raises(ValueError, match="Sentinel"):
        backup.backend_of("redis+sentinel://h:1,h:2/m")


def test_a_manifest_round_trips_and_another_format_is_refused() -> None:
    """A manifest read back from its JSON is equal; format 2 or a missing field is refused."""
    m = Manifest(1, "0.1.0", "2026-12-07T00:00:00+00:00", "sqlite", 3, 3, 2, {"events.db": "ab"})
    assert Manifest.from_json(m.to_json()) == m
    body = json.loads(m.to_json())
    with pytest.raises(BackupInvalid, match="format 2"):
        Manifest.from_json(json.dumps({**body, "format": 2}))
    del body["last_seq"]
    with pytest.raises(BackupInvalid):
        Manifest.from_json(json.dumps(body))


def test_check_counts_refuses_a_file_that_differs_from_its_manifest() -> None:
    """Three records up to seq 3 pass; a file holding two does not."""
    m = Manifest(1, "v", "t", "sqlite", 3, 3, 0)
    backup.check_counts(m, Counts(3, 3, 0))
    with pytest.raises(BackupInvalid, match="manifest says"):
        backup.check_counts(m, Counts(2, 2, 0))


def test_side_name_keeps_a_file_name_unless_it_is_taken() -> None:
    """tokens.json stays tokens.json; a secret file called events.db, or a second users.json,
    gets its manifest name in front."""
    assert backup.side_name("tokens", Path("/x/tokens.json"), []) == "tokens.json"
    assert backup.side_name("data_key", Path("/x/events.db"), []) == "data_key-events.db"
    assert backup.side_name("users", Path("/y/users.json"), ["users.json"]) == "users-users.json"


def test_a_sqlite_backup_holds_the_log_the_tokens_and_a_manifest_all_private(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """Three records, two feed records: the manifest says so, names the tokens file (the key
    file does not exist, so it is not there), the folder is 0700 and every file 0600."""
    url, secrets = source
    dest = tmp_path / "backups" / "b1"
    m = backup.backup(url, dest, secrets)
    assert (m.source, m.last_seq, m.records, m.feed_records) == ("sqlite", 3, 3, 2)
    assert m.side_files == {"tokens": "tokens.json"}
    assert sorted(p.name for p in dest.iterdir()) == ["events.db", "manifest.json", "tokens.json"]
    assert dest.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in dest.iterdir()} == {0o600}
    assert backup.verify(dest) == m
    assert backup.sha256_of(dest / "events.db") == m.files["events.db"]


def test_a_backup_refuses_a_folder_that_is_not_empty(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """A folder holding one file is not overwritten."""
    url, secrets = source
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupRefused):
        backup.backup(url, tmp_path / "full", secrets)


def test_restore_into_a_fresh_folder_gives_the_same_log_and_tokens(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """Restored: the same records (keys too), the same feed, the same tokens file, 0600 in a
    0700 folder."""
    url, secrets = source
    backup.backup(url, tmp_path / "b", secrets)
    fresh = tmp_path / "fresh"
    fresh_url = f"sqlite:///{fresh / 'events.db'}"
    backup.restore(tmp_path / "b", fresh_url, secrets_in(fresh))
    assert contents(fresh_url) == contents(url)
    assert (fresh / "tokens.json").read_bytes() == secrets["tokens"].read_bytes()
    assert not (fresh / "data.key").exists()
    assert fresh.stat().st_mode & 0o777 == 0o700
    assert (fresh / "events.db").stat().st_mode & 0o777 == 0o600
    assert (fresh / "tokens.json").stat().st_mode & 0o777 == 0o600


def test_a_key_ring_in_wal_mode_is_copied_whole_and_restored(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """A SQLite key ring still open in WAL mode (its row only in the -wal file) is copied by the
    backup API, so the copy holds the row; restored beside a stale -wal, the row is read back."""
    url, secrets = source
    ring = sqlite3.connect(secrets["key_ring"], isolation_level=None)
    try:
        ring.execute("PRAGMA journal_mode=WAL")
        ring.execute("PRAGMA wal_autocheckpoint=0")
        ring.execute("CREATE TABLE data_keys (incident_id TEXT PRIMARY KEY, wrapped BLOB)")
        ring.execute("INSERT INTO data_keys VALUES ('I1', x'00ff')")
        m = backup.backup(url, tmp_path / "b", secrets)
    finally:
        ring.close()
    assert m.side_files["key_ring"] == "keys.db"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "keys.db-wal").write_bytes(b"stale")
    backup.restore(tmp_path / "b", f"sqlite:///{fresh / 'events.db'}", secrets_in(fresh))
    assert not (fresh / "keys.db-wal").exists()
    with sqlite3.connect(fresh / "keys.db") as db:
        assert db.execute("SELECT incident_id, wrapped FROM data_keys").fetchall() == [
            ("I1", b"\x00\xff")
        ]


def test_restore_refuses_a_log_with_records_unless_forced(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """A log of five other records is left alone without force, replaced by the three with."""
    url, secrets = source
    backup.backup(url, tmp_path / "b", secrets)
    other = tmp_path / "other"
    other_url = f"sqlite:///{other / 'events.db'}"
    fill(other_url, records=5)
    with pytest.raises(BackupRefused, match="5 records"):
        backup.restore(tmp_path / "b", other_url, secrets_in(other))
    assert contents(other_url)[2] == 5
    backup.restore(tmp_path / "b", other_url, secrets_in(other), force=True)
    assert contents(other_url) == contents(url)


def test_restore_refuses_other_tokens_before_writing_the_log(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """An existing tokens file that differs refuses the restore and no log is written."""
    url, secrets = source
    backup.backup(url, tmp_path / "b", secrets)
    other = tmp_path / "other"
    other.mkdir()
    (other / "tokens.json").write_text('{"secret": "another-one-entirely"}')
    with pytest.raises(BackupRefused, match="differs"):
        backup.restore(tmp_path / "b", f"sqlite:///{other / 'events.db'}", secrets_in(other))
    assert not (other / "events.db").exists()


def test_a_changed_byte_or_a_missing_manifest_is_refused(
    source: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """One byte changed in events.db fails its sha256; without manifest.json (an unfinished
    backup) nothing is restored."""
    url, secrets = source
    dest = tmp_path / "b"
    backup.backup(url, dest, secrets)
    data = bytearray((dest / "events.db").read_bytes())
    data[-1] ^= 1
    (dest / "events.db").write_bytes(bytes(data))
    with pytest.raises(BackupInvalid, match="sha256"):
        backup.verify(dest)
    (dest / "manifest.json").unlink()
    with pytest.raises(BackupInvalid, match="unfinished"):
        backup.restore(dest, f"sqlite:///{tmp_path / 'x' / 'events.db'}", secrets_in(tmp_path))
    assert not (tmp_path / "x").exists()


def test_a_backup_taken_while_a_thread_appends_holds_a_whole_prefix(tmp_path: Path) -> None:
    """A writer appends records one by one while the backup runs: the copy holds seqs 1..n
    with no gap, every record durable before it began, and each record whole."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    log = SqliteLog(tmp_path / "events.db")
    for i in range(500):
        log.append(float(i), {"type": "Probe", "i": i}, f"k{i}")
    stop = threading.Event()

    def write() -> None:
        i = 500
        while not stop.is_set():
            log.append(float(i), {"type": "Probe", "i": i}, f"k{i}")
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        before = log.last_seq()
        m = backup.backup(url, tmp_path / "b", {})
    finally:
        stop.set()
        writer.join()
        log.close()
    with sqlite3.connect(tmp_path / "b" / "events.db") as db:
        rows = db.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
    assert [seq for seq, _ in rows] == list(range(1, m.last_seq + 1))
    assert m.last_seq >= before
    assert all(json.loads(body)["i"] == seq - 1 for seq, body in rows)


@pytest.fixture
def redis_source(redis_url: str) -> str:
    """A Redis log under a prefix of its own, three records and two feed records in it."""
    url = f"{redis_url}?prefix=bk{uuid.uuid4().hex[:10]}:"
    fill(url)
    return url


def test_a_redis_backup_restores_into_sqlite_and_into_redis(
    redis_source: str, redis_url: str, tmp_path: Path
) -> None:
    """The stream dump's manifest counts three records and two feed records; restored into a
    SQLite file and into another Redis prefix, both hold what the source holds."""
    m = backup.backup(redis_source, tmp_path / "b", {})
    assert (m.source, m.last_seq, m.records, m.feed_records) == ("redis", 3, 3, 2)
    sqlite_url = f"sqlite:///{tmp_path / 'r' / 'events.db'}"
    backup.restore(tmp_path / "b", sqlite_url, {})
    assert contents(sqlite_url) == contents(redis_source)
    other = f"{redis_url}?prefix=rs{uuid.uuid4().hex[:10]}:"
    backup.restore(tmp_path / "b", other, {})
    assert contents(other) == contents(redis_source)
    log = open_log(other)
    try:  # the restored counter goes on from the last seq
        assert log.append(9.0, {"type": "Probe"}, "k-next")[0].seq == 4
        assert log.by_key("k1") == contents(redis_source)[0][1]
    finally:
        log.close()


def test_a_sqlite_backup_restores_into_redis_and_a_held_lease_refuses(
    source: tuple[str, dict[str, Path]], redis_url: str, tmp_path: Path
) -> None:
    """Into an empty Redis prefix: the same records; into one with records: refused without
    force, replaced with it; while a server holds the writer's lease: refused even forced."""
    url, secrets = source
    backup.backup(url, tmp_path / "b", secrets)
    prefix = f"rs{uuid.uuid4().hex[:10]}:"
    target = f"{redis_url}?prefix={prefix}"
    backup.restore(tmp_path / "b", target, {})
    assert contents(target) == contents(url)
    with pytest.raises(BackupRefused, match="holds records"):
        backup.restore(tmp_path / "b", target, {})
    backup.restore(tmp_path / "b", target, {}, force=True)
    assert contents(target) == contents(url)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{prefix}lease", "someone", px=60_000)
        with pytest.raises(BackupRefused, match="lease"):
            backup.restore(tmp_path / "b", target, {}, force=True)
    finally:
        client.close()
