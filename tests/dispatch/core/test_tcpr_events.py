"""Telephone CPR in the engine (issue 20 item 2): coaching starts only on an open cardiac
arrest and not twice at once, stops only when under way, and a replay takes the logged record
as it is; the protocol's fields on a triage are checked when the event is made."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import Complaint, IncidentId, Priority
from dispatch.errors import IllegalTransition, InvalidEvent
from routing.load import load_network
from routing.router import Router

INCIDENT = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture
I1 = IncidentId("I1")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for the module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def arrest(router: Router, complaint: Complaint = Complaint.CARDIAC_ARREST) -> Engine:
    """An engine with one call at t=1, triaged at t=2 as `complaint`."""
    e = Engine(router)
    e.receive(ev.CallReceived(I1, *INCIDENT, 20.0), 1.0)
    e.receive(ev.IncidentTriaged(I1, Priority.P1, complaint, "ARR-E1"), 2.0)
    return e


def test_start_then_stop_records_both_times(router: Router) -> None:
    """Start at t=3 and stop at t=9: started 3.0, stopped 9.0; a new start at t=10 (the
    caller rang back) clears the stop."""
    e = arrest(router)
    e.receive(ev.TcprStarted(I1, person="chen.jing"), 3.0)
    e.receive(ev.TcprStopped(I1, "crew on scene"), 9.0)
    inc = e.incident(I1)
    assert (inc.tcpr_started_at_s, inc.tcpr_stopped_at_s) == (3.0, 9.0)
    e.receive(ev.TcprStarted(I1), 10.0)
    assert (inc.tcpr_started_at_s, inc.tcpr_stopped_at_s) == (10.0, None)


def test_start_is_refused_twice_and_off_an_arrest_and_stop_without_start(router: Router) -> None:
    """A second start while coaching, a start on a chest-pain call, a stop with none under
    way: IllegalTransition, and nothing changes."""
    e = arrest(router)
    with pytest.raises(IllegalTransition):
        e.receive(ev.TcprStopped(I1), 3.0)
    e.receive(ev.TcprStarted(I1), 3.0)
    with pytest.raises(IllegalTransition):
        e.receive(ev.TcprStarted(I1), 4.0)
    assert e.incident(I1).tcpr_started_at_s == 3.0
    chest = arrest(router, Complaint.CHEST_PAIN)
    with pytest.raises(IllegalTransition):
        chest.receive(ev.TcprStarted(I1), 3.0)
    assert chest.incident(I1).tcpr_started_at_s is None


def test_a_replay_applies_a_logged_start_whatever_the_rules(router: Router) -> None:
    """Replaying, a start logged on a call that was not (yet) an arrest is taken as it is."""
    e = arrest(router, Complaint.CHEST_PAIN)
    e.replaying = True
    e.receive(ev.TcprStarted(I1), 3.0)
    assert e.incident(I1).tcpr_started_at_s == 3.0


@pytest.mark.parametrize(
    ("protocol_id", "version", "answers"),
    [
        ("", "2026.1", ()),  # a version without a set
        ("", "", ("awake=no",)),  # answers without a set
        ("arrest", "", ("awake=no",)),  # a set without its version
        ("arrest", "2026.1", ("awake",)),  # an answer that is not question=answer
    ],
)
def test_a_triage_with_half_a_protocol_is_invalid(
    protocol_id: str, version: str, answers: tuple[str, ...]
) -> None:
    """The set, its version and the answers go together: InvalidEvent otherwise."""
    with pytest.raises(InvalidEvent):
        ev.IncidentTriaged(
            I1,
            Priority.P1,
            Complaint.CARDIAC_ARREST,
            protocol_id=protocol_id,
            protocol_version=version,
            answers=answers,
        )
