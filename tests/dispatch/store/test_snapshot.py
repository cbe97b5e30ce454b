"""Snapshots: the state after a snapshot and the log's tail is the state after the whole log.

One journey on the Wulin network (three units, four calls: one treated and handed over, one
cancelled, one still on its way, one waiting; a phone quarantined), written to each backend.
A snapshot is taken after record `MID_SEQ`, while incident I1 is en route, and start-up from
it plus the tail is compared field by field with a full replay (`engine_state.same_state`:
every incident's timeline, unit, place, destination, every unit's status and place, the
quarantine). A snapshot that is corrupt, truncated, of another schema or past the log's end
is skipped with a log line, in favour of an older one or a full replay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dispatch.core import engine_state
from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.engine_state import Exporter, export_state, import_state, same_state
from dispatch.core.model import (
    Capability,
    Complaint,
    IncidentId,
    Priority,
    Step,
    UnitId,
    UnitStatus,
)
from dispatch.store import codec, snapshot
from dispatch.store.eventlog import EventLog, open_log
from dispatch.store.replay import replay, replay_records
from dispatch.store.snapshot import Snapshot, SnapshotInvalid
from routing.load import load_network
from routing.router import Router

INCIDENT, NEAR, MID, FAR = (
    (30.2803, 120.1465),
    (30.2790, 120.1480),
    (30.2850, 120.1400),
    (
        30.2760,
        120.1520,
    ),
)
PHONE = "ab" * 32
A1, B2, C3 = UnitId("A1"), UnitId("B2"), UnitId("C3")
I1, I2, I3, I4 = (IncidentId(f"I{n}") for n in range(1, 5))
MID_SEQ = 12  # the snapshot's last record: I1 en route, I2 just triaged


def journey() -> list[tuple[float, ev.Event]]:
    """Every kind of record a shift writes, in an order the engine accepts."""
    return [
        (0.0, ev.UnitRegistered(A1, Capability.ALS, *NEAR)),
        (0.0, ev.UnitRegistered(B2, Capability.BLS, *MID)),
        (0.0, ev.UnitRegistered(C3, Capability.ALS, *FAR)),
        (1.0, ev.CallReceived(I1, *INCIDENT, 20.0, Complaint.CHEST_PAIN, phone_sha256=PHONE)),
        (2.0, ev.UnitAssigned(I1, A1)),
        (3.0, ev.OfferAcknowledged(I1, A1, "tablet")),
        (4.0, ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE)),
        (5.0, ev.CallRepeated(I1, PHONE, *INCIDENT, 30.0)),
        (6.0, ev.CallReceived(I2, *MID, 40.0)),
        (7.0, ev.UnitPositionReported(A1, 30.2798, 120.1470)),
        (8.0, ev.IncidentTriaged(I2, Priority.P1, Complaint.STROKE, "28C01")),
        (9.0, ev.PatientDescribed(I1, "45-64", "female")),  # seq 12: MID_SEQ
        (10.0, ev.UnitStatusReported(A1, UnitStatus.ON_SCENE)),
        (11.0, ev.UnitAssigned(I2, B2)),
        (12.0, ev.DestinationChosen(I1, "zjpph", "crew")),
        (13.0, ev.UnitStatusReported(A1, UnitStatus.TRANSPORTING)),
        (14.0, ev.HospitalAcknowledged(I1, "zjpph")),
        (15.0, ev.UnitStatusReported(A1, UnitStatus.AT_HOSPITAL)),
        (16.0, ev.HandoverCompleted(I1)),
        (17.0, ev.UnitStatusReported(A1, UnitStatus.AVAILABLE_ON_ROAD)),
        (18.0, ev.CallReceived(I3, *FAR, 15.0)),
        (19.0, ev.IncidentCancelled(I3, "caller says no need")),
        (20.0, ev.PhoneQuarantined("cd" * 32, 40)),
        (21.0, ev.CallQuarantined("cd" * 32, *NEAR, 30.0)),
        (22.0, ev.CallReceived(I4, *NEAR, 25.0)),
        (23.0, ev.UnitStatusReported(B2, UnitStatus.EN_ROUTE)),
    ]


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the small Wulin network, shared: engines only read it."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


@pytest.fixture
def log(log_url: str) -> Iterator[EventLog]:
    """The journey, logged as the server logs it (its type's version in each body), in a
    fresh log of the parametrized backend."""
    opened = open_log(log_url)
    try:
        for at_s, event in journey():
            opened.append(at_s, codec.to_record(event))
        yield opened
    finally:
        opened.close()


def replayed(log: EventLog, router: Router, upto: int | None = None) -> Engine:
    """A fresh engine fed the log (up to seq `upto`)."""
    engine = Engine(router)
    replay_records([r for r in log.read() if upto is None or r.seq <= upto], engine)
    return engine


def snapshot_at(log: EventLog, router: Router, seq: int) -> Snapshot:
    """The snapshot a server would write after record `seq`: the engine's state then."""
    engine = replayed(log, router, seq)
    at_s = next(r.at_s for r in log.read() if r.seq == seq)
    return Snapshot(seq, at_s, {"engine": export_state(engine)})


def start_up(log: EventLog, router: Router) -> tuple[Engine, Snapshot | None]:
    """What the service does at start: the newest usable snapshot, then the tail."""
    engine = Engine(router)

    def use(base: Snapshot) -> None:
        nonlocal engine
        engine = Engine(router)
        import_state(engine, base.state["engine"])

    base = snapshot.load(log, use, log.last_seq())
    replay(log, engine, base.last_seq if base is not None else 0)
    return engine, base


def test_snapshot_and_tail_give_the_state_of_a_full_replay(log: EventLog, router: Router) -> None:
    """Snapshot after seq 12 (I1 en route); start-up reads it, replays 14 records, and every
    incident, unit and quarantine matches a replay of all 26."""
    taken = snapshot_at(log, router, MID_SEQ)
    state = taken.state["engine"]
    timeline = state["incidents"][0][state["incident_fields"].index("timeline")]
    assert timeline[-1][0] == Step.EN_ROUTE.value
    snapshot.Snapshotter(log, 1, 0).write_now(taken)
    engine, base = start_up(log, router)
    full = replayed(log, router)
    assert base is not None and base.last_seq == MID_SEQ
    assert same_state(engine, full)
    assert engine.incidents[I1].step is Step.CLOSED and engine.incidents[I1].destination == "zjpph"
    assert engine.units[B2].status is UnitStatus.EN_ROUTE and engine.incidents[I2].unit_id == B2
    assert [u.view() for u in engine.units.values()] == [u.view() for u in full.units.values()]
    assert engine.repeats == {I1: 1} and engine.quarantine.keys() == full.quarantine.keys()


def test_a_corrupt_snapshot_is_skipped_for_a_full_replay_with_the_same_state(
    log: EventLog, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """One byte of the body flipped: the checksum refuses it, a log line says so, and the
    full replay gives the state a replay of the 26 records gives."""
    blob = bytearray(snapshot.encode(snapshot_at(log, router, MID_SEQ)))
    blob[-10] ^= 0xFF
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    store.put_snapshot(MID_SEQ, bytes(blob))
    with caplog.at_level(logging.WARNING, "jijiu.dispatch"):
        engine, base = start_up(log, router)
    assert base is None
    assert "snapshot at seq 12 skipped: checksum mismatch" in caplog.text
    assert same_state(engine, replayed(log, router))


def test_a_bad_newest_snapshot_falls_back_to_the_older_one(
    log: EventLog, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """Snapshots after seq 8 (good) and 20 (truncated): start-up uses seq 8's and replays 18."""
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    store.put_snapshot(8, snapshot.encode(snapshot_at(log, router, 8)))
    good = snapshot.encode(snapshot_at(log, router, 20))
    store.put_snapshot(20, good[: len(good) - 7])
    with caplog.at_level(logging.WARNING, "jijiu.dispatch"):
        engine, base = start_up(log, router)
    assert base is not None and base.last_seq == 8
    assert "snapshot at seq 20 skipped: truncated" in caplog.text
    assert same_state(engine, replayed(log, router))


def test_a_snapshot_of_another_schema_is_not_read(log: EventLog, router: Router) -> None:
    """A header saying schema 99 (a later release's layout) is refused before its body."""
    blob = snapshot.encode(snapshot_at(log, router, MID_SEQ))
    other = blob.replace(b'"schema":1,', b'"schema":99,', 1)
    assert other != blob
    with pytest.raises(SnapshotInvalid, match="schema 99"):
        snapshot.decode(other)
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    store.put_snapshot(MID_SEQ, other)
    _, base = start_up(log, router)
    assert base is None


def test_an_engine_state_of_another_layout_is_refused_and_skipped(
    log: EventLog, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """A state whose layout fingerprint differs (a field added to Incident since) decodes but
    is refused by the import, so start-up replays in full rather than guess the new field."""
    taken = snapshot_at(log, router, MID_SEQ)
    taken.state["engine"]["version"] = "1-000000000000"
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    store.put_snapshot(MID_SEQ, snapshot.encode(taken))
    with caplog.at_level(logging.WARNING, "jijiu.dispatch"):
        engine, base = start_up(log, router)
    assert base is None and "layout" in caplog.text
    assert same_state(engine, replayed(log, router))


def test_a_snapshot_past_the_end_of_the_log_is_skipped(
    log: EventLog, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """A snapshot claiming seq 40 of a 26-record log (the log lost records, or came from a
    backup older than the snapshot) is not trusted."""
    taken = snapshot_at(log, router, 26)
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    store.put_snapshot(40, snapshot.encode(Snapshot(40, taken.at_s, taken.state)))
    with caplog.at_level(logging.WARNING, "jijiu.dispatch"):
        _, base = start_up(log, router)
    assert base is None and "covers seq 40 but the log ends at 26" in caplog.text


def test_the_store_keeps_the_two_newest_snapshots(log: EventLog, router: Router) -> None:
    """Four snapshots written: seqs 20 and 26 remain, newest first."""
    store = log
    assert isinstance(store, snapshot.SnapshotStore)
    for seq in (4, 12, 20, 26):
        store.put_snapshot(seq, snapshot.encode(snapshot_at(log, router, seq)))
    assert store.snapshot_seqs() == [26, 20]
    assert store.read_snapshot(4) is None
    blob = store.read_snapshot(26)
    assert blob is not None and snapshot.decode(blob, 26).last_seq == 26


def test_encode_and_decode_give_the_state_back_exactly(router: Router) -> None:
    """Long lists are encoded in chunks; the decoded state equals the one encoded, NaN and
    infinities included (an empty engine's clock is -inf)."""
    state = {
        "engine": export_state(Engine(router)),
        "calls": {"keys": {f"k{i}": {"incident_id": f"I{i}"} for i in range(2500)}},
        "long": list(range(2345)),
    }
    back = snapshot.decode(snapshot.encode(Snapshot(7, 1.5, state)), 7)
    assert back.last_seq == 7 and back.at_s == 1.5
    assert back.state["engine"]["now_s"] == float("-inf")
    assert back.state["calls"] == state["calls"] and back.state["long"] == state["long"]


def test_the_exporter_reuses_closed_incidents_and_forgets_a_rebuilt_engine(
    log: EventLog, router: Router
) -> None:
    """A closed incident's plain form is made once per engine; a new engine starts afresh."""
    engine = replayed(log, router)
    exporter = Exporter()
    first = exporter.export(engine)
    again = exporter.export(engine)
    at = first["incident_fields"].index("timeline")
    closed = [i for i, x in enumerate(first["incidents"]) if x[at][-1][0] == "jijiu.closed"]
    assert closed and all(first["incidents"][i] is again["incidents"][i] for i in closed)
    other = exporter.export(replayed(log, router))
    assert other["incidents"][closed[0]] is not first["incidents"][closed[0]]
    assert other == first


def test_every_engine_attribute_is_kept_or_declared_transient(router: Router) -> None:
    """An attribute added to Engine must go into the snapshot (engine_state.KEPT) or be named
    transient: else a restart from a snapshot would silently lose it."""
    assert set(vars(Engine(router))) == engine_state.KEPT | engine_state.TRANSIENT


def test_a_snapshot_is_due_by_records_or_by_time() -> None:
    """Every 10 records, or 60 s after the last snapshot if anything was logged since."""
    now = [0.0]
    store = _MemoryStore()
    taker = snapshot.Snapshotter(store, 10, 60.0, after_seq=5, clock=lambda: now[0])
    assert not taker.due(14) and taker.due(15)
    now[0] = 61.0
    assert taker.due(6) and not taker.due(5)
    taker.write(Snapshot(15, 3.0, {}))
    taker.join()
    assert store.seqs == [15] and not taker.due(16) and taker.written == 1


class _MemoryStore:
    """A snapshot store in memory, for the due-time test."""

    def __init__(self) -> None:
        self.blobs: dict[int, bytes] = {}

    @property
    def seqs(self) -> list[int]:
        return self.snapshot_seqs()

    def put_snapshot(self, last_seq: int, blob: bytes, keep: int = 2) -> None:
        self.blobs[last_seq] = blob

    def snapshot_seqs(self) -> list[int]:
        return sorted(self.blobs, reverse=True)

    def read_snapshot(self, last_seq: int) -> bytes | None:
        return self.blobs.get(last_seq)
