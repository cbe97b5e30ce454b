"""Old logs stay readable: the frozen log replays, old versions are upcast, rules do not re-judge.

`tests/data/frozen-log-v1.db` is a real server's log from before events carried versions
(`tests/support/frozen_log.py` says how it was made): 511 records, 62 calls, 24 units, 13
handovers. If a change to an event type or to the engine makes it unreadable, these tests fail:
that change would strand every real log, and needs an upcaster instead.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatch.core import engine as engine_module
from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.engine_state import export_state, import_state, same_state
from dispatch.core.model import IncidentId, Step, UnitId, UnitStatus
from dispatch.errors import IllegalTransition, InvalidEvent
from dispatch.store import codec, snapshot
from dispatch.store.eventlog import Record
from dispatch.store.replay import replay_records
from dispatch.store.sqlite_log import SqliteLog
from dispatch.store.upcast import Upcaster
from routing.load import load_network
from routing.router import Router

FROZEN = Path(__file__).resolve().parents[2] / "data" / "frozen-log-v1.db"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """The Wulin network the frozen log's city ran on."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Record]]:
    """The frozen log's records, read through a copy (opening a log may write to its file)."""
    copy = tmp_path_factory.mktemp("frozen") / "events.db"
    shutil.copy(FROZEN, copy)
    log = SqliteLog(copy)
    try:
        yield list(log.read())
    finally:
        log.close()


def replayed(records: list[Record], router: Router, **decode: Any) -> Engine:
    engine = Engine(router)
    replay_records(records, engine, decode=functools.partial(codec.from_dict, **decode))
    return engine


def test_the_frozen_log_replays_with_todays_code(frozen: list[Record], router: Router) -> None:
    """All 511 records apply: 24 units, 62 incidents, 13 handed over; no body has a version."""
    assert len(frozen) == 511 and not any("v" in r.event for r in frozen)
    engine = replayed(frozen, router)
    assert len(engine.units) == 24 and len(engine.incidents) == 62
    handed = [i for i in engine.incidents.values() if Step.TRANSFER_OF_CARE in i.timeline]
    assert len(handed) == 13
    kinds = Counter(r.event["type"] for r in frozen)
    assert kinds["UnitStatusReported"] == 118 and kinds["OfferAcknowledged"] == 102


def test_fields_added_since_the_frozen_log_take_their_defaults(frozen: list[Record]) -> None:
    """Every field a v1 body lacks (added to its type since) decodes as the field's default."""
    for record in frozen:
        event = codec.from_dict(record.event)
        for f in dataclasses.fields(event):  # type: ignore[arg-type]
            if f.name not in record.event:
                assert f.default is not dataclasses.MISSING, (record.seq, f.name)
                assert getattr(event, f.name) == f.default


def test_a_snapshot_of_the_frozen_log_and_its_tail_give_a_full_replay(
    frozen: list[Record], router: Router
) -> None:
    """Snapshot after record 300 (incidents mid-life), replay 211 more: the full state."""
    first = replayed(frozen[:300], router)
    assert any(i.open and i.unit_id for i in first.incidents.values())
    taken = snapshot.Snapshot(300, frozen[299].at_s, {"engine": export_state(first)})
    engine = Engine(router)
    import_state(engine, snapshot.decode(snapshot.encode(taken), 300).state["engine"])
    replay_records(frozen[300:], engine, 300)
    assert same_state(engine, replayed(frozen, router))


# --- a type that changes: UnitAssigned v2 -------------------------------------------------------
@dataclass(frozen=True)
class UnitAssigned:
    """UnitAssigned v2, as a later release might have it (same name: the engine finds its
    handler by it): `by` renamed `assigned_by`, and a new field with no default, `channel`
    (how the crew was told)."""

    incident_id: IncidentId
    unit_id: UnitId
    assigned_by: str
    channel: str

    def __post_init__(self) -> None:
        if self.channel not in ("radio", "tablet"):
            raise InvalidEvent("channel is radio or tablet")

    @property
    def by(self) -> str:  # what today's engine reads
        return self.assigned_by


def assigned_v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: `by` is `assigned_by` now; v1 offers went to the crew's tablets."""
    out = {k: v for k, v in body.items() if k != "by"}
    return {**out, "assigned_by": body.get("by", "dispatcher"), "channel": "tablet"}


V2 = Upcaster({"UnitAssigned": 2}, {("UnitAssigned", 1): assigned_v1_to_v2})
V2_TYPES = {**codec.EVENT_TYPES, "UnitAssigned": UnitAssigned}


def test_the_upcaster_turns_a_v1_body_into_v2() -> None:
    """A v1 body without a version, and one saying v1, come out as the same v2 body."""
    body = {"type": "UnitAssigned", "incident_id": "I1", "unit_id": "A1", "by": "auto"}
    want = {**body, "assigned_by": "auto", "channel": "tablet"}
    del want["by"]
    assert V2.upcast(body) == want == V2.upcast({**body, "v": 1})


def test_the_frozen_log_replays_when_a_type_gains_a_field(
    frozen: list[Record], router: Router
) -> None:
    """With UnitAssigned at v2, all 35 v1 assignments of the frozen log are upcast (channel
    "tablet", assigned_by kept) and the replayed state is the one v1 gives."""
    events = [codec.from_dict(r.event, upcaster=V2, types=V2_TYPES) for r in frozen]
    assigned = [e for e in events if isinstance(e, UnitAssigned)]
    assert len(assigned) == 35 and {e.channel for e in assigned} == {"tablet"}
    originals = [r.event for r in frozen if r.event["type"] == "UnitAssigned"]
    assert [e.assigned_by for e in assigned] == [b.get("by", "dispatcher") for b in originals]
    again = replayed(frozen, router, upcaster=V2, types=V2_TYPES)
    assert same_state(again, replayed(frozen, router))


def test_a_v2_body_is_written_with_its_version_and_read_as_it_is() -> None:
    """`to_record` stamps today's version; a v2 body needs no step; v3 is from the future."""
    assert codec.to_record(ev.ClockTicked()) == {"type": "ClockTicked", "v": 1}
    body = {"type": "UnitAssigned", "v": 2, "incident_id": "I1", "unit_id": "A1"}
    event = codec.from_dict(
        {**body, "assigned_by": "x", "channel": "radio"}, upcaster=V2, types=V2_TYPES
    )
    assert isinstance(event, UnitAssigned) and event.channel == "radio"
    with pytest.raises(InvalidEvent, match="newer than this release"):
        codec.from_dict({**body, "v": 3}, upcaster=V2, types=V2_TYPES)
    with pytest.raises(InvalidEvent, match="not a positive integer"):
        codec.from_dict({"type": "ClockTicked", "v": "1"})


def test_a_version_without_its_upcasters_is_refused_at_once() -> None:
    """UnitAssigned at v3 with only the v1 -> v2 step is a programming error, found on import."""
    with pytest.raises(ValueError, match="no upcaster from v2"):
        Upcaster({"UnitAssigned": 3}, {("UnitAssigned", 1): assigned_v1_to_v2})


# --- rules change, history stands --------------------------------------------------------------
def test_a_rule_added_later_refuses_new_commands_but_not_old_records(
    frozen: list[Record], router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new rule (a crew may not report on scene at all) refuses the command at the door,
    but the frozen log's 32 on-scene records, legal when written, replay to the same state."""
    before = replayed(frozen, router)
    monkeypatch.setitem(
        engine_module._STATUS_STEP, UnitStatus.ON_SCENE, (Step.ON_SCENE, frozenset())
    )
    on_scene = [r for r in frozen if r.event.get("status") == "on_scene"]
    assert len(on_scene) == 32
    live = replayed(frozen[: on_scene[0].seq - 1], router)
    with pytest.raises(IllegalTransition):
        live.receive(codec.from_dict(on_scene[0].event), on_scene[0].at_s)
    assert same_state(replayed(frozen, router), before)


def test_replay_applies_a_status_today_refuses_for_a_unit_without_a_job(router: Router) -> None:
    """A unit reported en route with no job (refused at the door) is en route after replay."""
    unit = ev.UnitRegistered(UnitId("A1"), engine_module.Capability.ALS, 30.2790, 120.1480)
    moved = ev.UnitStatusReported(UnitId("A1"), UnitStatus.EN_ROUTE)
    door = Engine(router)
    door.receive(unit, 0.0)
    with pytest.raises(IllegalTransition):
        door.receive(moved, 1.0)
    records = [Record(1, 0.0, codec.to_record(unit)), Record(2, 1.0, codec.to_record(moved))]
    engine = Engine(router)
    assert replay_records(records, engine) == 2
    assert engine.units[UnitId("A1")].status is UnitStatus.EN_ROUTE
