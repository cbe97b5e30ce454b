"""An incident's version: one more for every event that changes it, none for a refused one,
the same after a replay of the same events (issue 20 item 4: stale edits are detected by it)."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, UnitId, UnitStatus
from dispatch.errors import IllegalTransition, InvalidEvent
from dispatch.store import codec
from routing.load import load_network
from routing.router import Router

INCIDENT = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture
STATION = (30.2790, 120.1480)
I1, I2, A1 = IncidentId("I1"), IncidentId("I2"), UnitId("A1")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for the module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def journey() -> list[tuple[ev.Event, float]]:
    """A unit, two calls, a triage by a named person, an assignment, an ack and en route."""
    return [
        (ev.UnitRegistered(A1, Capability.ALS, *STATION), 0.0),
        (ev.CallReceived(I1, *INCIDENT, 20.0), 1.0),
        (ev.CallReceived(I2, *INCIDENT, 30.0), 1.5),
        (ev.IncidentTriaged(I1, Priority.P1, Complaint.CARDIAC_ARREST, person="wang.fang"), 2.0),
        (ev.UnitAssigned(I1, A1, person="li.lei"), 3.0),
        (ev.OfferAcknowledged(I1, A1, "tablet"), 4.0),
        (ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE), 5.0),
    ]


def test_each_change_counts_once_and_only_on_its_incident(router: Router) -> None:
    """The call makes version 1; triage, assignment, ack and en route make 2, 3, 4, 5 on I1,
    while I2, changed by nothing after its call, stays at 1."""
    e = Engine(router)
    seen = []
    for event, t in journey():
        e.receive(event, t)
        if I1 in e.incidents:
            seen.append(e.incident(I1).version)
    assert seen == [1, 1, 2, 3, 4, 5]
    assert e.incident(I2).version == 1


def test_a_refused_event_leaves_the_version(router: Router) -> None:
    """Assigning the unit I1 holds to I2 is refused (409) and I2's version stays 1; a repeated
    triage that is accepted counts even if it changes no field (it is an edit)."""
    e = Engine(router)
    for event, t in journey():
        e.receive(event, t)
    with pytest.raises(IllegalTransition):
        e.receive(ev.UnitAssigned(I1, A1), 6.0)  # I1 has its unit already
    assert e.incident(I1).version == 5
    e.receive(ev.IncidentTriaged(I1, Priority.P1, Complaint.CARDIAC_ARREST), 7.0)
    assert e.incident(I1).version == 6


def test_a_replay_rebuilds_the_same_versions(router: Router) -> None:
    """Two engines fed the same events (the log replayed after a restart) agree on every
    incident's version."""
    first, again = Engine(router), Engine(router)
    again.replaying = True
    for event, t in journey():
        first.receive(event, t)
        again.receive(event, t)
    assert {i: inc.version for i, inc in first.incidents.items()} == {
        i: inc.version for i, inc in again.incidents.items()
    }


def test_events_carry_the_person_and_refuse_a_malformed_one() -> None:
    """`person` defaults to None (old records replay unchanged) and must be 1-64 printable
    characters when given."""
    assert ev.IncidentTriaged(I1, Priority.P2, Complaint.OTHER).person is None
    assert ev.UnitAssigned(I1, A1, person="li.lei").person == "li.lei"
    with pytest.raises(InvalidEvent):
        ev.IncidentCancelled(I1, "", person="")
    with pytest.raises(InvalidEvent):
        ev.IncidentTriaged(I1, Priority.P2, Complaint.OTHER, person="x\n")


def test_the_person_round_trips_the_codec_and_an_old_record_has_none() -> None:
    """A logged assignment keeps its person; a record written before `person` existed reads
    back with None."""
    sent = ev.UnitAssigned(I1, A1, person="li.lei")
    assert codec.loads(codec.dumps(sent)) == sent
    old = '{"type": "UnitAssigned", "incident_id": "I1", "unit_id": "A1", "by": "dispatcher"}'
    assert codec.loads(old) == ev.UnitAssigned(I1, A1)
