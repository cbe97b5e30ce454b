"""The event-log contract: one suite that every backend (SQLite, Redis) must pass unchanged.

Tests that take `log_url` run once per backend. The few that must break a store in a
backend-specific way (stop a server, delete a file, misconfigure fsync) say so in their name.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import Capability, IncidentId, UnitId, UnitStatus
from dispatch.errors import StoreError
from dispatch.store import codec
from dispatch.store.eventlog import EventLog, FeedRecord, Record, open_log
from dispatch.store.redis_log import RedisLog
from dispatch.store.replay import replay
from routing.load import load_network
from routing.router import Router

WRITER = Path(__file__).with_name("eventlog_writer.py")
INCIDENT, NEAR, MID = (30.2803, 120.1465), (30.2790, 120.1480), (30.2850, 120.1400)


def tick(i: int) -> dict[str, object]:
    """A small valid event whose position tells records apart."""
    return codec.to_dict(ev.UnitPositionReported(UnitId("A1"), 30.28, 120.14 + i / 1000))


@pytest.fixture
def log(log_url: str) -> Iterator[EventLog]:
    """An open, empty log of the parametrized backend, closed after the test."""
    opened = open_log(log_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the small Wulin network, shared: engines only read it."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


# --- the contract --------------------------------------------------------------------------------
def test_append_numbers_records_1_2_3_and_reads_them_in_order(log: EventLog) -> None:
    """Three appends get seqs 1, 2, 3 and read back with their times, events and keys."""
    assert log.last_seq() == 0 and list(log.read()) == []
    written = [log.append(10.0 + i, tick(i), f"k{i}" if i != 1 else None) for i in range(3)]
    assert [(r.seq, new) for r, new in written] == [(1, True), (2, True), (3, True)]
    assert list(log.read()) == [r for r, _ in written]
    assert list(log.read()) == [
        Record(1, 10.0, tick(0), "k0"),
        Record(2, 11.0, tick(1), None),
        Record(3, 12.0, tick(2), "k2"),
    ]
    assert log.last_seq() == 3


def test_records_survive_close_and_reopen(log_url: str) -> None:
    """What was appended before close is read back, keys included, after opening the URL again."""
    first = open_log(log_url)
    first.append(1.5, tick(1), "call-1")
    first.append(2.25, tick(2))
    first.close()
    again = open_log(log_url)
    try:
        assert [(r.seq, r.at_s, r.idem_key) for r in again.read()] == [
            (1, 1.5, "call-1"),
            (2, 2.25, None),
        ]
        assert again.by_key("call-1") == Record(1, 1.5, tick(1), "call-1")
        assert again.append(3.0, tick(3))[0].seq == 3  # numbering continues
    finally:
        again.close()


def test_a_known_key_returns_the_first_record_and_writes_nothing(log: EventLog) -> None:
    """Retrying with key "k" gives back seq 1 with the first event, not the retry's event."""
    first, created = log.append(1.0, tick(1), "k")
    retry, created_again = log.append(9.0, tick(9), "k")
    assert (created, created_again) == (True, False)
    assert retry == first == Record(1, 1.0, tick(1), "k")
    assert log.last_seq() == 1 and len(list(log.read())) == 1


def test_by_key_finds_the_record_written_with_it(log: EventLog) -> None:
    """by_key("b") is the second record; an unknown key is None."""
    log.append(1.0, tick(1), "a")
    log.append(2.0, tick(2), "b")
    assert log.by_key("b") == Record(2, 2.0, tick(2), "b")
    assert log.by_key("nope") is None


def test_read_after_seq_starts_after_it(log: EventLog) -> None:
    """Of five records, read(3) gives seqs 4 and 5, read(5) nothing."""
    for i in range(5):
        log.append(float(i), tick(i))
    assert [r.seq for r in log.read(after_seq=3)] == [4, 5]
    assert list(log.read(after_seq=5)) == []


def test_read_pages_through_more_than_one_batch(log: EventLog) -> None:
    """1,100 records (more than one 500-record query) read back complete and in order."""
    for i in range(1100):
        log.append(float(i), tick(i))
    assert [r.seq for r in log.read()] == list(range(1, 1101))
    assert [r.seq for r in log.read(after_seq=499)][:2] == [500, 501]


def test_four_threads_get_200_unique_consecutive_seqs(log: EventLog) -> None:
    """4 threads x 50 appends sharing one log: seqs are exactly 1..200, each key once."""
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(50):
                log.append(float(i), tick(i), f"t{t}-{i}")
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    records = list(log.read())
    assert [r.seq for r in records] == list(range(1, 201))
    assert len({r.idem_key for r in records}) == 200


def test_bad_input_is_refused_and_writes_nothing(log: EventLog) -> None:
    """A NaN time, a NaN in the event and an empty key are ValueErrors; the log stays empty."""
    with pytest.raises(ValueError):
        log.append(float("nan"), tick(1))
    with pytest.raises(ValueError):
        log.append(1.0, {"type": "UnitPositionReported", "lat": float("nan")})
    with pytest.raises(ValueError):
        log.append(1.0, tick(1), "")
    assert log.last_seq() == 0


def test_a_batch_is_numbered_in_order_and_answers_each_entry(log: EventLog) -> None:
    """A batch after one record: seqs 2..4, a key repeated inside the batch answers its first."""
    log.append(0.5, tick(0), "old")
    answers = log.append_batch(
        [(1.0, tick(1), "a"), (2.0, tick(2), None), (3.0, tick(3), "a"), (4.0, tick(4), "old")]
    )
    assert [(r.seq, created) for r, created in answers] == [
        (2, True),
        (3, True),
        (2, False),
        (1, False),
    ]
    assert answers[2][0] == Record(2, 1.0, tick(1), "a")
    assert [r.seq for r in log.read()] == [1, 2, 3]
    assert log.append(5.0, tick(5))[0].seq == 4


def test_a_batch_with_one_bad_entry_writes_nothing(log: EventLog) -> None:
    """A NaN in the third entry refuses the whole batch before any write."""
    with pytest.raises(ValueError):
        log.append_batch([(1.0, tick(1), "a"), (2.0, tick(2), None), (float("nan"), tick(3), None)])
    assert log.last_seq() == 0 and log.by_key("a") is None


def test_an_empty_batch_writes_nothing(log: EventLog) -> None:
    assert log.append_batch([]) == []
    assert log.last_seq() == 0


# --- feeds ----------------------------------------------------------------------------------------
def vitals(feed: str, seq: int) -> FeedRecord:
    return FeedRecord(feed, seq, 10.0 + seq, {"type": "vitals", "sample_seq": seq, "hr": 80})


def test_feed_records_go_in_with_the_batch_and_read_back_per_feed(log: EventLog) -> None:
    """Events and two feeds in one batch: each reads back alone, in seq order, from a seq."""
    log.append_batch(
        [(1.0, tick(1), None)],
        [vitals("hospital:a", 1), vitals("hospital:b", 1), vitals("hospital:a", 2)],
    )
    log.append_batch([], [vitals("hospital:a", 3)])
    assert [r.seq for r in log.read()] == [1]
    assert log.read_feed("hospital:a") == [vitals("hospital:a", s) for s in (1, 2, 3)]
    assert log.read_feed("hospital:a", after_seq=1, limit=1) == [vitals("hospital:a", 2)]
    assert log.read_feed("hospital:b") == [vitals("hospital:b", 1)]
    assert (log.feed_last_seq("hospital:a"), log.feed_last_seq("hospital:b")) == (3, 1)
    assert log.feed_last_seq("hospital:c") == 0 and log.read_feed("hospital:c") == []


def test_a_repeated_feed_seq_refuses_the_whole_batch(log: EventLog) -> None:
    """A feed seq written before is a StoreError, and the batch's events are not written."""
    log.append_batch([], [vitals("hospital:a", 1)])
    with pytest.raises(StoreError):
        log.append_batch([(1.0, tick(1), "k")], [vitals("hospital:a", 1)])
    assert log.last_seq() == 0 and log.by_key("k") is None
    assert log.read_feed("hospital:a") == [vitals("hospital:a", 1)]


def test_bad_feed_input_is_refused_and_writes_nothing(log: EventLog) -> None:
    """NaN in a body, a zero seq, an empty name, a bad read range: ValueErrors."""
    bad = [
        FeedRecord("hospital:a", 1, 1.0, {"hr": float("nan")}),
        FeedRecord("hospital:a", 0, 1.0, {}),
        FeedRecord("", 1, 1.0, {}),
        FeedRecord("hospital:a", 1, float("inf"), {}),
    ]
    for record in bad:
        with pytest.raises(ValueError):
            log.append_batch([(1.0, tick(1), None)], [record])
    with pytest.raises(ValueError):
        log.read_feed("hospital:a", after_seq=-1)
    with pytest.raises(ValueError):
        log.read_feed("hospital:a", limit=0)
    assert log.last_seq() == 0 and log.feed_last_seq("hospital:a") == 0


def test_feed_records_survive_close_and_reopen(log_url: str) -> None:
    first = open_log(log_url)
    first.append_batch([], [vitals("hospital:a", 1), vitals("hospital:a", 2)])
    first.close()
    again = open_log(log_url)
    try:
        assert again.read_feed("hospital:a") == [vitals("hospital:a", 1), vitals("hospital:a", 2)]
    finally:
        again.close()


def test_ping_is_true_on_an_open_log(log: EventLog) -> None:
    """A reachable store answers ping with True."""
    assert log.ping() is True


@pytest.mark.parametrize(
    "url", ["memory://", "postgres://x/y", "sqlite://relative.db", "events.db", "sqlite:///"]
)
def test_an_unknown_url_is_a_value_error(url: str) -> None:
    """Schemes other than sqlite/redis, and sqlite URLs without a path, are refused."""
    with pytest.raises(ValueError, match="event log URL"):
        open_log(url)


# --- stores that go away --------------------------------------------------------------------------
def test_sqlite_ping_false_and_append_fails_once_its_directory_is_deleted(tmp_path: Path) -> None:
    """Appends into a deleted file would vanish on restart, so the log refuses them."""
    folder = tmp_path / "store"
    folder.mkdir()
    log = open_log(f"sqlite:///{folder / 'events.db'}")
    try:
        log.append(1.0, tick(1))
        shutil.rmtree(folder)
        assert log.ping() is False
        with pytest.raises(StoreError):
            log.append(2.0, tick(2))
    finally:
        log.close()
    assert log.ping() is False  # and a closed log is not ready either


def test_redis_ping_false_and_append_fails_once_the_server_stops(
    throwaway_redis: Callable[..., Any],
) -> None:
    """After its redis-server is stopped, ping is False and append raises StoreError."""
    server = throwaway_redis()
    log = open_log(server.url)
    try:
        log.append(1.0, tick(1))
        server.stop()
        assert log.ping() is False
        with pytest.raises(StoreError):
            log.append(2.0, tick(2))
    finally:
        log.close()


@pytest.mark.parametrize(
    "options",
    [("--appendonly", "no"), ("--appendonly", "yes", "--appendfsync", "everysec")],
    ids=["no-aof", "fsync-everysec"],
)
def test_redis_that_does_not_fsync_every_write_is_refused(
    throwaway_redis: Callable[..., Any], options: tuple[str, ...]
) -> None:
    """Without appendonly yes + appendfsync always, opening fails; allow_unsafe bypasses it."""
    server = throwaway_redis("--save", "", *options)
    with pytest.raises(StoreError, match="appendfsync always"):
        open_log(server.url)
    RedisLog.from_url(server.url, allow_unsafe=True).close()


# --- replay ---------------------------------------------------------------------------------------
def journey() -> list[tuple[float, ev.Event]]:
    """Two units, one call, an assignment, all three acks, en route, and a second call."""
    i1, a1 = IncidentId("I1"), UnitId("A1")
    return [
        (0.0, ev.UnitRegistered(a1, Capability.ALS, *NEAR)),
        (0.0, ev.UnitRegistered(UnitId("B2"), Capability.BLS, *MID)),
        (1.0, ev.CallReceived(i1, *INCIDENT, 20.0)),
        (2.0, ev.UnitAssigned(i1, a1)),
        *[(3.0 + k, ev.OfferAcknowledged(i1, a1, d)) for k, d in enumerate(("tablet", "doctor"))],
        (5.0, ev.OfferAcknowledged(i1, a1, "driver")),
        (6.0, ev.UnitStatusReported(a1, UnitStatus.EN_ROUTE)),
        (7.0, ev.CallReceived(IncidentId("I2"), *NEAR, 50.0)),
    ]


def state(engine: Engine) -> tuple[object, object]:
    incidents = {i: (x.timeline, x.unit_id, x.acked_devices) for i, x in engine.incidents.items()}
    units = {u: (x.status, x.incident_id) for u, x in engine.units.items()}
    return incidents, units


def test_replay_rebuilds_the_engine_that_wrote_the_log(log_url: str, router: Router) -> None:
    """Apply-then-append 9 events live; after reopening, replay gives the same incidents/units."""
    live, log = Engine(router), open_log(log_url)
    for at_s, event in journey():
        live.receive(event, at_s)
        log.append(at_s, codec.to_dict(event))
    log.close()
    log = open_log(log_url)
    try:
        again = Engine(router)
        assert replay(log, again) == 9
    finally:
        log.close()
    assert state(again) == state(live)
    assert set(again.incidents) == {"I1", "I2"} and set(again.units) == {"A1", "B2"}


def test_replay_stops_at_a_record_the_engine_refuses(log: EventLog, router: Router) -> None:
    """A second CallReceived for I1 at seq 4 cannot have been applied live: StoreError seq=4."""
    for at_s, event in journey()[:3]:
        log.append(at_s, codec.to_dict(event))
    log.append(8.0, codec.to_dict(journey()[2][1]))
    with pytest.raises(StoreError, match="seq=4"):
        replay(log, Engine(router))


def test_replay_stops_at_an_unknown_event_type(log: EventLog, router: Router) -> None:
    """A record of a type the codec does not know is a corrupted log, not something to skip."""
    log.append(0.0, codec.to_dict(journey()[0][1]))
    log.append(1.0, {"type": "UnitTeleported", "unit_id": "A1"})
    with pytest.raises(StoreError, match="seq=2"):
        replay(log, Engine(router))


def test_sqlite_garbage_body_stops_replay(tmp_path: Path, router: Router) -> None:
    """Bytes that are not JSON written straight into the table: StoreError naming seq 2."""
    path = tmp_path / "events.db"
    log = open_log(f"sqlite:///{path}")
    log.append(0.0, codec.to_dict(journey()[0][1]))
    log.close()
    with sqlite3.connect(path) as db:
        db.execute('INSERT INTO events (at_s, body) VALUES (1.0, \'{"type": "Unit\')')
    db.close()
    log = open_log(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match="seq=2"):
            replay(log, Engine(router))
    finally:
        log.close()


def test_redis_garbage_body_stops_replay(redis_url: str, router: Router) -> None:
    """A stream entry whose body is not JSON, added with XADD behind the log's back: seq 2."""
    url = f"{redis_url}?prefix=garbage:"
    log = open_log(url)
    try:
        log.append(0.0, codec.to_dict(journey()[0][1]))
        client = redis.Redis.from_url(redis_url)
        fields = {"seq": 2, "at_s": "1.0", "body": b"\xff{", "key": ""}
        client.xadd("garbage:events", fields, id="2-0")  # type: ignore[arg-type]
        client.close()
        with pytest.raises(StoreError, match="seq=2"):
            replay(log, Engine(router))
    finally:
        log.close()


# --- crashes --------------------------------------------------------------------------------------
def test_acknowledged_appends_survive_sigkill_of_the_writer(log_url: str, repo_root: Path) -> None:
    """Kill a writer 5 times mid-stream: every key it printed is in the log once, at its seq."""
    acked: dict[str, int] = {}
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    for cycle in range(5):
        cmd = [sys.executable, str(WRITER), log_url, str(cycle * 1_000_000), "1000000"]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(10 + 7 * cycle)]
        proc.send_signal(signal.SIGKILL)
        # Read through proc.stdout itself: readline() may have buffered lines past the ones it
        # returned, and communicate() would bypass that buffer and lose them.
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, err
        for line in [*lines, *rest.splitlines(keepends=True)]:
            assert line.endswith("\n"), f"writer died early: {err}"
            printed_seq, printed_key = line.split()
            acked[printed_key] = int(printed_seq)
    log = open_log(log_url)
    try:
        records = list(log.read())
        seqs, keys = [r.seq for r in records], [r.idem_key for r in records]
        assert seqs == list(range(1, len(records) + 1))  # no gaps, no repeats, in order
        assert len(set(keys)) == len(keys)
        assert len(records) - len(acked) <= 5  # at most one unacknowledged append per kill
        for key, seq in acked.items():
            found = log.by_key(key)
            assert found is not None and found.seq == seq
        key, seq = next(iter(acked.items()))
        old, created = log.append(1.0, tick(1), key)
        assert (old.seq, old.idem_key, created) == (seq, key, False)
        assert log.last_seq() == len(records)
    finally:
        log.close()


def test_sqlite_checkpoints_off_the_commit_path(tmp_path: Path) -> None:
    """Commits leave records in the WAL (the database file alone holds none of them); the
    checkpointer copies them into the file; close() stops the checkpointer thread."""
    from dispatch.store.sqlite_log import SqliteLog

    def rows_in_file_alone() -> int:
        alone = tmp_path / "alone.db"  # the main file without its WAL: what a checkpoint wrote
        shutil.copyfile(tmp_path / "events.db", alone)
        db = sqlite3.connect(alone)
        try:
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name='events'")
            if tables.fetchone()[0] == 0:
                return 0
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            db.close()
            alone.unlink()

    log = SqliteLog(tmp_path / "events.db")
    try:
        log._stop.set()  # hold the background round: this test checkpoints by hand
        log._checkpointer.join(timeout=10)
        for i in range(50):
            log.append(float(i), tick(i))
        assert rows_in_file_alone() == 0
        log.checkpoint()
        assert rows_in_file_alone() == 50
    finally:
        log.close()
    assert not log._checkpointer.is_alive()
