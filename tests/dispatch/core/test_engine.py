"""The dispatch engine: the journey, refusals that change nothing, escalation, replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.model import (
    Capability,
    Complaint,
    IncidentId,
    Priority,
    Step,
    UnitId,
    UnitStatus,
)
from dispatch.errors import IllegalTransition, InvalidEvent, UnitUnavailable, UnknownIncident
from routing.load import load_network
from routing.router import Router

# Points in the Wulin fixture (lat, lon): an incident near 文三路 and three stations around it.
INCIDENT = (30.2803, 120.1465)
NEAR, MID, FAR = (30.2790, 120.1480), (30.2850, 120.1400), (30.2950, 120.1650)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine in this module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def fleet(engine: Engine, t: float = 0.0) -> None:
    """Three units: ALS near, BLS at mid distance, ALS far."""
    for uid, cap, (lat, lon) in (
        ("A1", Capability.ALS, NEAR),
        ("B2", Capability.BLS, MID),
        ("A3", Capability.ALS, FAR),
    ):
        engine.receive(ev.UnitRegistered(UnitId(uid), cap, lat, lon), t)


def call(engine: Engine, iid: str = "I1", t: float = 1.0, **kw: object) -> IncidentId:
    engine.receive(ev.CallReceived(IncidentId(iid), *INCIDENT, 20.0, **kw), t)  # type: ignore[arg-type]
    return IncidentId(iid)


def test_the_whole_journey(router: Router) -> None:
    """Call, recommendation, assignment, ack, en route ... back in service; timeline in order."""
    e = Engine(router)
    fleet(e)
    iid = call(e)
    recs = [d for d in e.decisions() if isinstance(d, ev.Recommended)]
    etas = [o.eta_s for o in recs[-1].options]
    assert len(etas) == 3 and etas == sorted(etas)  # untriaged (P2): nearest first, any kind
    e.receive(ev.IncidentTriaged(iid, Priority.P1, Complaint.CARDIAC_ARREST, "09E01"), 5.0)
    recs = [d for d in e.decisions() if isinstance(d, ev.Recommended)]
    assert recs[-1].options[0].capability is Capability.ALS  # P1: advanced life support first
    e.receive(ev.UnitAssigned(iid, UnitId("A1")), 10.0)
    offers = [d for d in e.decisions() if isinstance(d, ev.OfferSent)]
    assert offers and offers[0].devices == ("tablet", "doctor", "driver")
    for i, device in enumerate(("tablet", "doctor", "driver")):
        e.receive(ev.OfferAcknowledged(iid, UnitId("A1"), device), 12.0 + i)
    assert e.incident(iid).acked_devices == {"tablet", "doctor", "driver"}
    t = 20.0
    for status in (
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.TRANSPORTING,
        UnitStatus.AT_HOSPITAL,
    ):
        e.receive(ev.UnitStatusReported(UnitId("A1"), status), t)
        t += 60
    e.receive(ev.HandoverCompleted(iid), t)
    e.receive(ev.UnitStatusReported(UnitId("A1"), UnitStatus.AVAILABLE_ON_ROAD), t + 60)
    inc = e.incident(iid)
    steps = [s for s in inc.timeline if s is not Step.TRIAGED]
    assert steps == [
        Step.CALL_RECEIVED,
        Step.LOCATED,
        Step.UNIT_NOTIFIED,
        Step.UNIT_ACKNOWLEDGED,
        Step.EN_ROUTE,
        Step.ON_SCENE,
        Step.LEFT_SCENE,
        Step.AT_DESTINATION,
        Step.TRANSFER_OF_CARE,
        Step.BACK_IN_SERVICE,
        Step.CLOSED,
    ]
    times = [inc.timeline[s] for s in steps]
    assert times == sorted(times)
    assert e.unit(UnitId("A1")).status is UnitStatus.AVAILABLE_ON_ROAD
    assert e.unit(UnitId("A1")).incident_id is None


def test_refused_events_change_nothing(router: Router) -> None:
    """Illegal steps raise a typed error and leave incidents and units exactly as they were."""
    e = Engine(router)
    fleet(e)
    iid = call(e)
    before = (dict(e.incident(iid).timeline), e.unit(UnitId("A1")).status)
    with pytest.raises(IllegalTransition):
        e.receive(ev.UnitStatusReported(UnitId("A1"), UnitStatus.ON_SCENE), 2.0)
    with pytest.raises(IllegalTransition):
        e.receive(ev.HandoverCompleted(iid), 2.0)
    with pytest.raises(UnknownIncident):
        e.receive(ev.UnitAssigned(IncidentId("nope"), UnitId("A1")), 2.0)
    with pytest.raises(InvalidEvent):
        e.receive(ev.ClockTicked(), 0.5)  # time going back
    assert (dict(e.incident(iid).timeline), e.unit(UnitId("A1")).status) == before


def test_a_unit_is_never_on_two_incidents(router: Router) -> None:
    """Assigning a unit that is already out is a 409-style UnitUnavailable."""
    e = Engine(router)
    fleet(e)
    a, b = call(e, "I1"), call(e, "I2", t=2.0)
    e.receive(ev.UnitAssigned(a, UnitId("A1")), 3.0)
    with pytest.raises(UnitUnavailable):
        e.receive(ev.UnitAssigned(b, UnitId("A1")), 4.0)
    with pytest.raises(IllegalTransition):
        e.receive(ev.UnitAssigned(a, UnitId("B2")), 4.0)  # a already has a unit


def test_unacknowledged_offer_escalates(router: Router) -> None:
    """No ack within the timeout: the console is told and the next best unit gets the offer."""
    e = Engine(router, EngineSettings(ack_timeout_s=30.0))
    fleet(e)
    iid = call(e)
    e.receive(ev.UnitAssigned(iid, UnitId("A1")), 10.0)
    e.decisions()
    e.receive(ev.ClockTicked(), 39.0)
    assert not [d for d in e.decisions() if isinstance(d, ev.OfferEscalated)]
    e.receive(ev.ClockTicked(), 41.0)
    out = e.decisions()
    esc = [d for d in out if isinstance(d, ev.OfferEscalated)]
    assert len(esc) == 1 and esc[0].unit_id == "A1" and esc[0].next_unit_id is not None
    nxt = esc[0].next_unit_id
    assert e.incident(iid).unit_id == nxt != "A1"
    assert any(isinstance(d, ev.OfferSent) and d.by == "escalation" for d in out)
    assert e.unit(UnitId("A1")).status is UnitStatus.AVAILABLE_ON_ROAD


def test_auto_dispatch_for_cardiac_arrest(router: Router) -> None:
    """With the setting on, a cardiac-arrest call is offered to the best ALS unit at once."""
    e = Engine(router, EngineSettings(auto_dispatch_p1=True))
    fleet(e)
    iid = call(e, complaint=Complaint.CARDIAC_ARREST)
    inc = e.incident(iid)
    assert inc.priority is Priority.P1 and inc.unit_id == "A1"
    assert any(isinstance(d, ev.OfferSent) and d.by == "auto" for d in e.decisions())


def test_duplicate_calls_are_suggested_for_linking(router: Router) -> None:
    """A second call from the same spot within minutes names the first incident."""
    e = Engine(router)
    fleet(e)
    call(e, "I1", t=1.0)
    e.decisions()
    call(e, "I2", t=60.0)
    dups = [d for d in e.decisions() if isinstance(d, ev.DuplicateSuggested)]
    assert dups and dups[0].incident_id == "I2" and dups[0].candidates == ("I1",)


def test_cancel_frees_the_unit(router: Router) -> None:
    """Cancelling before transport closes the incident and frees its unit."""
    e = Engine(router)
    fleet(e)
    iid = call(e)
    e.receive(ev.UnitAssigned(iid, UnitId("A1")), 3.0)
    e.receive(ev.IncidentCancelled(iid, "caller says no longer needed"), 4.0)
    inc = e.incident(iid)
    assert Step.CANCELLED in inc.timeline and not inc.open
    assert e.unit(UnitId("A1")).status is UnitStatus.AVAILABLE_ON_ROAD
    with pytest.raises(IllegalTransition):
        e.receive(ev.UnitAssigned(iid, UnitId("B2")), 5.0)


def test_replay_rebuilds_the_same_state(router: Router) -> None:
    """Feeding the same timed events to a fresh engine gives the same incidents and units."""
    log: list[tuple[ev.Event, float]] = []

    def feed(engine: Engine, event: ev.Event, t: float) -> None:
        engine.receive(event, t)
        log.append((event, t))

    e = Engine(router)
    for uid, cap, (lat, lon) in (("A1", Capability.ALS, NEAR), ("B2", Capability.BLS, MID)):
        feed(e, ev.UnitRegistered(UnitId(uid), cap, lat, lon), 0.0)
    feed(e, ev.CallReceived(IncidentId("I1"), *INCIDENT, 20.0), 1.0)
    feed(e, ev.UnitAssigned(IncidentId("I1"), UnitId("A1")), 2.0)
    feed(e, ev.ClockTicked(), 100.0)  # escalates to B2
    feed(e, ev.UnitStatusReported(UnitId("B2"), UnitStatus.EN_ROUTE), 101.0)
    again = Engine(router)
    for event, t in log:
        again.receive(event, t)
    for iid, inc in e.incidents.items():
        other = again.incident(iid)
        assert (other.timeline, other.unit_id, other.declined) == (
            inc.timeline,
            inc.unit_id,
            inc.declined,
        )
    for uid, unit in e.units.items():
        assert (again.unit(uid).status, again.unit(uid).incident_id) == (
            unit.status,
            unit.incident_id,
        )


def test_events_validate_their_fields() -> None:
    """NaN, lat 95, empty ids and oversized text are refused when the event is made."""
    with pytest.raises(InvalidEvent):
        ev.CallReceived(IncidentId("I1"), float("nan"), 120.0, 10.0)
    with pytest.raises(InvalidEvent):
        ev.UnitPositionReported(UnitId("A1"), 95.0, 120.0)
    with pytest.raises(InvalidEvent):
        ev.UnitAssigned(IncidentId(""), UnitId("A1"))
    with pytest.raises(InvalidEvent):
        ev.IncidentCancelled(IncidentId("I1"), "x" * 10_000)


def test_off_network_call_is_held_until_placed(router: Router, tmp_path: Path) -> None:
    """A call 30 km from every road is held unplaced (never refused): no ranking, even for an
    arrest, and no assignment until a dispatcher places it; then it is ranked as any call."""
    e = Engine(router)
    fleet(e)
    far = ev.CallReceived(IncidentId("far"), 30.0, 120.5, 10.0, Complaint.CARDIAC_ARREST)
    e.receive(far, 1.0)
    inc = e.incident(IncidentId("far"))
    assert inc.location_status == "off_road" and not inc.placed and inc.unit_id is None
    assert e.recommend(inc.incident_id, 1.0) == []
    with pytest.raises(IllegalTransition):
        e.receive(ev.UnitAssigned(inc.incident_id, UnitId("A1")), 2.0)
    e.receive(ev.IncidentLocated(inc.incident_id, *INCIDENT, 20.0), 3.0)
    assert inc.placed and inc.location_status == "located" and Step.LOCATED in inc.timeline
    assert e.recommend(inc.incident_id, 3.0)


def test_replaying_skips_advice_but_not_state(router: Router) -> None:
    """While replaying, advice is computed only where auto-dispatch needs it; state matches."""
    events: list[tuple[ev.Event, float]] = [
        (ev.UnitRegistered(UnitId("A1"), Capability.ALS, *NEAR), 0.0),
        (ev.UnitRegistered(UnitId("B2"), Capability.BLS, *MID), 0.0),
        (ev.CallReceived(IncidentId("I1"), *INCIDENT, 20.0, Complaint.CARDIAC_ARREST), 1.0),
        (ev.CallReceived(IncidentId("I2"), *INCIDENT, 20.0), 2.0),
    ]
    live = Engine(router, EngineSettings(auto_dispatch_p1=True))
    again = Engine(router, EngineSettings(auto_dispatch_p1=True))
    again.replaying = True
    for event, t in events:
        live.receive(event, t)
        again.receive(event, t)
    replayed = {d.incident_id for d in again.decisions() if isinstance(d, ev.Recommended)}
    assert replayed == {"I1"}  # the P1 needs its ranking to auto-dispatch; I2 gets none
    assert {d.incident_id for d in live.decisions() if isinstance(d, ev.Recommended)} == {
        "I1",
        "I2",
    }
    for iid in ("I1", "I2"):
        a, b = live.incident(IncidentId(iid)), again.incident(IncidentId(iid))
        assert (a.timeline, a.unit_id) == (b.timeline, b.unit_id)
    assert again.incident(IncidentId("I1")).unit_id == "A1"  # the P1 was auto-dispatched


def test_a_reported_position_counts_at_the_next_recommendation(router: Router) -> None:
    """A3 (far) reports a position at the incident: it ranks first; an off-road report later
    keeps its last road position (the unit is still routed from where it left the road)."""
    e = Engine(router)
    fleet(e)
    iid = call(e, complaint=Complaint.CARDIAC_ARREST)  # P1: ALS, nearest first
    assert e.recommend(iid, 2.0)[0].unit_id == "A1"
    e.receive(ev.UnitPositionReported(UnitId("A3"), *INCIDENT), 3.0)
    assert e.unit(UnitId("A3")).lat == INCIDENT[0]
    assert e.recommend(iid, 3.0)[0].unit_id == "A3"
    on_road = e.unit(UnitId("A3")).position
    e.receive(ev.UnitPositionReported(UnitId("A3"), INCIDENT[0], INCIDENT[1] + 0.5), 4.0)
    e.refresh_positions()
    assert e.unit(UnitId("A3")).position == on_road and e.unit(UnitId("A3")).lon > 120.5


def test_the_receiving_hospital_acknowledges_or_the_console_is_alerted(router: Router) -> None:
    """Routed at t=10 with 60 s to acknowledge: nothing at 69 s, one alert at 70 s and none
    after; a re-route restarts the clock; only the hospital routed to may acknowledge, once."""
    e = Engine(router, EngineSettings(hospital_ack_s=60.0))
    iid = call(e)
    e.receive(ev.DestinationChosen(iid, "H1"), 10.0)
    e.decisions()
    e.receive(ev.ClockTicked(), 69.0)
    assert not [d for d in e.decisions() if isinstance(d, ev.HospitalAckOverdue)]
    e.receive(ev.ClockTicked(), 70.0)
    assert [d for d in e.decisions() if isinstance(d, ev.HospitalAckOverdue)] == [
        ev.HospitalAckOverdue(iid, "H1", 60.0)
    ]
    e.receive(ev.ClockTicked(), 200.0)
    assert not e.decisions()
    e.receive(ev.DestinationChosen(iid, "H2"), 210.0)
    with pytest.raises(UnknownIncident):
        e.receive(ev.HospitalAcknowledged(iid, "H1"), 215.0)  # no longer routed there
    e.receive(ev.HospitalAcknowledged(iid, "H2"), 230.0)
    assert e.decisions() == [ev.HospitalAcked(iid, "H2", 20.0)]
    e.receive(ev.HospitalAcknowledged(iid, "H2"), 231.0)  # a repeat: recorded once
    e.receive(ev.ClockTicked(), 1000.0)
    assert not e.decisions() and e.incident(iid).hospital_ack_at_s == 230.0


def test_a_crew_at_hospital_takes_a_new_job_only_after_the_handover(router: Router) -> None:
    """At hospital with the patient not yet handed over, A1 is neither recommended nor
    assignable; after the handover it is, and the new offer closes its old incident."""
    e = Engine(router)
    e.receive(ev.UnitRegistered(UnitId("A1"), Capability.ALS, *NEAR), 0.0)
    first = call(e, "I1")
    e.receive(ev.UnitAssigned(first, UnitId("A1")), 2.0)
    for i, status in enumerate(
        (UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL)
    ):
        e.receive(ev.UnitStatusReported(UnitId("A1"), status), 10.0 + i)
    second = call(e, "I2", t=20.0)
    assert e.recommend(second, 20.0) == []
    with pytest.raises(UnitUnavailable):
        e.receive(ev.UnitAssigned(second, UnitId("A1")), 21.0)
    e.receive(ev.HandoverCompleted(first), 30.0)
    assert [o.unit_id for o in e.recommend(second, 31.0)] == ["A1"]
    e.decisions()
    e.receive(ev.UnitAssigned(second, UnitId("A1")), 32.0)
    assert Step.CLOSED in e.incident(first).timeline
    assert e.unit(UnitId("A1")).incident_id == second
    steps = [d.step for d in e.decisions() if isinstance(d, ev.IncidentStepped)]
    assert steps[:2] == [Step.BACK_IN_SERVICE, Step.CLOSED]


def test_advice_is_worked_out_on_the_state_its_event_left(router: Router) -> None:
    """A call's recommendation is computed when the decisions are drained (so the server can
    start the disk write first), but against the state right after the call: a later event
    received before the drain does not change it, and nothing is lost or repeated."""
    e = Engine(router)
    fleet(e)
    e.decisions()
    iid = call(e)
    assert e.advice_due
    e.receive(ev.UnitStatusReported(UnitId("A1"), UnitStatus.OUT_OF_SERVICE), 2.0)
    assert not e.advice_due  # worked out before the status change was applied
    recs = [d for d in e.decisions() if isinstance(d, ev.Recommended)]
    assert [r.incident_id for r in recs] == [iid]
    assert "A1" in [o.unit_id for o in recs[0].options]  # free at the time of the call
    e.receive(ev.IncidentTriaged(iid, Priority.P2, Complaint.TRAUMA), 3.0)
    again = [d for d in e.decisions() if isinstance(d, ev.Recommended)]
    assert "A1" not in [o.unit_id for o in again[0].options]  # out of service by now
    assert e.decisions() == [] and not e.advice_due
