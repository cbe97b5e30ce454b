"""The queue (sickest, then longest waiting, first), the overdue alarm, notes and duplicates."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.cockpit import Row, overdue_counts
from dispatch.core.engine import Engine
from dispatch.core.engine_state import export_state, import_state, same_state
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, Step, UnitId
from dispatch.core.queue import OverdueLimits, is_overdue, overdue_at_s, queue_order
from dispatch.errors import IllegalTransition, InvalidEvent
from routing.load import load_network
from routing.router import Router

INCIDENT = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture
STATION = (30.2790, 120.1480)
LIMITS = OverdueLimits()  # P1 60 s, P2 180 s, P3 600 s


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine here (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def call(e: Engine, iid: str, t: float, priority: Priority = Priority.P2) -> IncidentId:
    """A call at `t`, triaged to `priority` in the same second."""
    e.receive(ev.CallReceived(IncidentId(iid), *INCIDENT, 20.0), t)
    complaint = Complaint.CARDIAC_ARREST if priority is Priority.P1 else Complaint.OTHER
    e.receive(ev.IncidentTriaged(IncidentId(iid), priority, complaint), t)
    return IncidentId(iid)


def test_a_p1_older_than_a_p2_comes_first_and_p2s_oldest_first(router: Router) -> None:
    """P1 at 10 s, P2s at 20 s and 30 s: P1, then the P2 of 20 s, then that of 30 s; a P1
    at 40 s goes before both P2s, after the older P1."""
    e = Engine(router)
    call(e, "arrest", 10.0, Priority.P1)
    call(e, "old", 20.0)
    call(e, "new", 30.0)
    assert [i.incident_id for i in queue_order(e.incidents.values())] == ["arrest", "old", "new"]
    call(e, "arrest2", 40.0, Priority.P1)
    order = [i.incident_id for i in queue_order(e.incidents.values())]
    assert order == ["arrest", "arrest2", "old", "new"]


def test_the_overdue_alarm_is_per_priority_and_stops_with_a_unit(router: Router) -> None:
    """A P1 called at 10 s is overdue at 70 s, not at 69 s; a P2 at 20 s only at 200 s; a
    unit on the P1 ends its alarm."""
    e = Engine(router)
    e.receive(ev.UnitRegistered(UnitId("A1"), Capability.ALS, *STATION), 0.0)
    p1 = e.incident(call(e, "arrest", 10.0, Priority.P1))
    p2 = e.incident(call(e, "fall", 20.0))
    assert overdue_at_s(p1, LIMITS) == 70.0 and overdue_at_s(p2, LIMITS) == 200.0
    assert not is_overdue(p1, 69.0, LIMITS) and is_overdue(p1, 70.0, LIMITS)
    assert not is_overdue(p2, 199.0, LIMITS) and is_overdue(p2, 200.0, LIMITS)
    e.receive(ev.UnitAssigned(p1.incident_id, UnitId("A1")), 80.0)
    assert overdue_at_s(p1, LIMITS) is None and not is_overdue(p1, 500.0, LIMITS)
    assert [i.incident_id for i in queue_order(e.incidents.values())] == ["fall"]


def test_overdue_limits_must_be_positive() -> None:
    """A zero or NaN limit is refused when the settings are made."""
    with pytest.raises(ValueError):
        OverdueLimits(p1_s=0)
    with pytest.raises(ValueError):
        OverdueLimits(p2_s=float("nan"))


def test_the_cockpit_counts_overdue_calls_per_priority() -> None:
    """A P1 sent a unit after 90 s and one still waiting 30 s: one P1 overdue; a P3 closed
    after 700 s without a unit: one P3 overdue."""
    rows = [
        Row("a", 0.0, {Step.CALL_RECEIVED: 0.0, Step.UNIT_NOTIFIED: 90.0}, Priority.P1, "x",
            30.0, 120.0, 10.0, False),
        Row("b", 70.0, {Step.CALL_RECEIVED: 70.0}, Priority.P1, "x", 30.0, 120.0, 10.0, False),
        Row("c", 0.0, {Step.CALL_RECEIVED: 0.0, Step.CLOSED: 700.0}, Priority.P3, "x",
            30.0, 120.0, 10.0, False),
    ]  # fmt: skip
    assert overdue_counts(rows, now_s=100.0) == {"P1": 1, "P2": 0, "P3": 1}


def test_notes_are_kept_in_order_with_their_person_and_a_retry_adds_none(router: Router) -> None:
    """Two notes, the second sent twice with its key: two notes, oldest first."""
    e = Engine(router)
    iid = call(e, "I1", 1.0)
    e.receive(ev.NoteAdded(iid, "door code 1234", "k1", person="alice"), 5.0)
    e.receive(ev.NoteAdded(iid, "patient on 3rd floor", "k2"), 9.0)
    e.receive(ev.NoteAdded(iid, "patient on 3rd floor", "k2"), 10.0)
    notes = e.incident(iid).notes
    assert [(n[0], n[1], n[2]) for n in notes] == [
        (5.0, "alice", "door code 1234"),
        (9.0, None, "patient on 3rd floor"),
    ]
    posted = [d for d in e.decisions() if isinstance(d, ev.NotePosted)]
    assert [d.text for d in posted] == ["door code 1234", "patient on 3rd floor"]


def test_a_note_is_checked_on_construction() -> None:
    """An empty, a 1001-character or a control-character note is not an event."""
    for text in ("", "   ", "x" * 1001, "bell\x07"):
        with pytest.raises(InvalidEvent):
            ev.NoteAdded(IncidentId("I1"), text)
    assert ev.NoteAdded(IncidentId("I1"), "a\nb").text == "a\nb"


def test_linking_closes_the_duplicate_and_the_primary_takes_its_callers(router: Router) -> None:
    """I2 and I3 linked into I1 (I3 via I2): I1 lists both, both are closed as linked."""
    e = Engine(router)
    i1, i2, i3 = call(e, "I1", 1.0), call(e, "I2", 2.0), call(e, "I3", 3.0)
    e.receive(ev.IncidentLinked(i3, i2, person="bob"), 4.0)
    e.receive(ev.IncidentLinked(i2, i1, person="bob"), 5.0)
    assert e.incident(i1).linked == (i2, i3)
    assert e.incident(i2).linked_to == i1 and e.incident(i3).linked_to == i1
    assert not e.incident(i2).open and e.incident(i1).open
    linked = [d for d in e.decisions() if isinstance(d, ev.CallersLinked)]
    assert linked[-1].primary_id == i1 and linked[-1].person == "bob"
    assert [i.incident_id for i in queue_order(e.incidents.values())] == [i1]


def test_a_duplicate_with_a_unit_or_a_closed_primary_is_not_linked(router: Router) -> None:
    """Linking refused (nothing changed): the duplicate has a unit; the primary is closed."""
    e = Engine(router)
    e.receive(ev.UnitRegistered(UnitId("A1"), Capability.ALS, *STATION), 0.0)
    i1, i2 = call(e, "I1", 1.0), call(e, "I2", 2.0)
    e.receive(ev.UnitAssigned(i2, UnitId("A1")), 3.0)
    with pytest.raises(IllegalTransition):
        e.receive(ev.IncidentLinked(i2, i1), 4.0)
    assert e.incident(i2).linked_to is None and e.incident(i1).linked == ()
    e.receive(ev.IncidentCancelled(i1), 5.0)
    i3 = call(e, "I3", 6.0)
    with pytest.raises(IllegalTransition):
        e.receive(ev.IncidentLinked(i3, i1), 7.0)
    with pytest.raises(InvalidEvent):
        ev.IncidentLinked(i3, i3)


def test_kept_apart_is_remembered_on_both(router: Router) -> None:
    """I2 kept apart from I1: both stay open and name each other."""
    e = Engine(router)
    i1, i2 = call(e, "I1", 1.0), call(e, "I2", 2.0)
    e.receive(ev.DuplicateKeptApart(i2, i1, person="carol"), 3.0)
    assert e.incident(i1).kept_apart == (i2,) and e.incident(i2).kept_apart == (i1,)
    assert e.incident(i1).open and e.incident(i2).open
    apart = [d for d in e.decisions() if isinstance(d, ev.DuplicateSetApart)]
    assert apart == [ev.DuplicateSetApart(i2, i1, "carol")]


def test_notes_and_links_survive_a_snapshot(router: Router) -> None:
    """A snapshot of an engine with notes, a link and a kept-apart pair reads back the same."""
    e = Engine(router)
    i1, i2, i3 = call(e, "I1", 1.0), call(e, "I2", 2.0), call(e, "I3", 3.0)
    e.receive(ev.NoteAdded(i1, "gate B", "k", person="alice"), 4.0)
    e.receive(ev.IncidentLinked(i2, i1), 5.0)
    e.receive(ev.DuplicateKeptApart(i3, i1), 6.0)
    back = Engine(router)
    import_state(back, export_state(e))
    assert same_state(e, back)
    assert back.incident(i1).notes == ((4.0, "alice", "gate B", "k"),)
    assert back.incident(i1).linked == (i2,) and back.incident(i3).kept_apart == (i1,)
