"""Several units on one incident, unassign, reassign and divert, and positions with their time."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.engine_state import export_state, import_state, same_state
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, Step, UnitId
from dispatch.core.model import UnitStatus as S
from dispatch.core.recommend import RecommendParams
from dispatch.errors import IllegalTransition, InvalidEvent
from routing.load import load_network
from routing.router import Router

# Points in the Wulin fixture (lat, lon), as in test_engine: an incident and three stations.
INCIDENT = (30.2803, 120.1465)
NEAR, MID, FAR = (30.2790, 120.1480), (30.2850, 120.1400), (30.2950, 120.1650)
A1, B2, A3 = UnitId("A1"), UnitId("B2"), UnitId("A3")
I1, I2 = IncidentId("I1"), IncidentId("I2")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine here (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


class Driven:
    """An engine and every event it was given, with its time, to replay them elsewhere."""

    def __init__(self, router: Router, settings: EngineSettings | None = None) -> None:
        self.engine = Engine(router, settings)
        self.log: list[tuple[ev.Event, float]] = []

    def __call__(self, event: ev.Event, at_s: float) -> None:
        self.engine.receive(event, at_s)
        self.log.append((event, at_s))

    def replayed(self, router: Router) -> Engine:
        other = Engine(router, self.engine.settings)
        other.replaying = True
        for event, at_s in self.log:
            other.receive(event, at_s)
        other.replaying = False
        return other


def start(router: Router, settings: EngineSettings | None = None) -> Driven:
    """A1 (ALS, near), B2 (BLS, mid), A3 (ALS, far) and a call I1 at t=1."""
    d = Driven(router, settings)
    for uid, cap, (lat, lon) in ((A1, Capability.ALS, NEAR), (B2, Capability.BLS, MID)):
        d(ev.UnitRegistered(uid, cap, lat, lon), 0.0)
    d(ev.UnitRegistered(A3, Capability.ALS, *FAR), 0.0)
    d(ev.CallReceived(I1, *INCIDENT, 20.0), 1.0)
    return d


def test_two_units_work_one_incident_which_closes_when_both_are_clear(router: Router) -> None:
    """A1 then B2 (one more) on I1: unit_id stays A1, each unit moves on its own steps; A1 back
    in service leaves I1 open with B2 as its unit; B2 back closes it."""
    d = start(router)
    d(ev.UnitAssigned(I1, A1), 2.0)
    with pytest.raises(IllegalTransition):  # the one-unit assignment stays refused
        d.engine.receive(ev.UnitAssigned(I1, B2), 3.0)
    d(ev.UnitAssigned(I1, B2, additional=True), 3.0)
    inc = d.engine.incident(I1)
    assert inc.unit_id == A1 and inc.active() == [A1, B2]
    d(ev.UnitStatusReported(A1, S.EN_ROUTE), 4.0)
    d(ev.UnitStatusReported(A1, S.ON_SCENE), 100.0)
    d(ev.UnitStatusReported(B2, S.EN_ROUTE), 110.0)  # B2 is only now on its way
    assert inc.crew_step(B2) is Step.EN_ROUTE and inc.crew_step(A1) is Step.ON_SCENE
    assert inc.timeline[Step.EN_ROUTE] == 4.0  # the incident's time is its first unit's
    d(ev.UnitStatusReported(B2, S.EN_ROUTE), 111.0)  # resent: acknowledged, nothing changes
    d(ev.UnitStatusReported(A1, S.AVAILABLE_ON_ROAD), 300.0)
    assert inc.open and inc.unit_id == B2 and d.engine.units[A1].incident_id is None
    d(ev.UnitStatusReported(B2, S.ON_SCENE), 320.0)
    d(ev.UnitStatusReported(B2, S.AVAILABLE_ON_ROAD), 500.0)
    assert not inc.open and inc.timeline[Step.CLOSED] == 500.0
    assert same_state(d.replayed(router), d.engine)


def test_unassigning_the_last_unit_puts_the_incident_back_in_the_queue(router: Router) -> None:
    """A1 en route to I1 is taken off with a reason: free on the road, I1 back at LOCATED with
    no unit steps, a fresh recommendation without A1; a missing reason is refused."""
    d = start(router)
    d(ev.UnitAssigned(I1, A1), 2.0)
    d(ev.UnitStatusReported(A1, S.EN_ROUTE), 4.0)
    d.engine.decisions()
    with pytest.raises(InvalidEvent):
        ev.UnitUnassigned(I1, A1, " ")
    d(ev.UnitUnassigned(I1, A1, "wrong unit: crew off sick", person="li.wei"), 10.0)
    inc, out = d.engine.incident(I1), d.engine.decisions()
    assert inc.unit_id is None and inc.step is Step.LOCATED and Step.EN_ROUTE not in inc.timeline
    assert d.engine.units[A1].status is S.AVAILABLE_ON_ROAD
    assert ev.UnitWithdrawn(I1, A1, "wrong unit: crew off sick", None, True) in out
    recs = [o for o in out if isinstance(o, ev.Recommended)]
    assert recs and A1 not in [o.unit_id for o in recs[-1].options]
    with pytest.raises(IllegalTransition):  # not on it any more
        d.engine.receive(ev.UnitUnassigned(I1, A1, "again"), 11.0)
    d(ev.UnitAssigned(I1, B2), 12.0)
    assert inc.unit_id == B2 and inc.step is Step.UNIT_NOTIFIED
    assert same_state(d.replayed(router), d.engine)


def test_a_unit_on_a_p3_is_suggested_and_diverted_to_a_new_p1(router: Router) -> None:
    """With B2 and A3 out of service, a P1 call gets the divert of A1 (en route to the P3 I1)
    suggested; the divert sends A1 to I2 and I1 back to the queue; the reverse is refused."""
    d = start(router)
    d(ev.IncidentTriaged(I1, Priority.P3, Complaint.OTHER, ""), 1.5)
    d(ev.UnitAssigned(I1, A1), 2.0)
    d(ev.UnitStatusReported(A1, S.EN_ROUTE), 4.0)
    for uid in (B2, A3):
        d(ev.UnitStatusReported(uid, S.OUT_OF_SERVICE), 5.0)
    d(ev.CallReceived(I2, *INCIDENT, 20.0, complaint=Complaint.CARDIAC_ARREST), 30.0)
    diverts = [o for o in d.engine.decisions() if isinstance(o, ev.DivertSuggested)]
    assert len(diverts) == 1
    s = diverts[0]
    assert (s.incident_id, s.unit_id, s.from_incident_id, s.from_priority) == (
        I2,
        A1,
        I1,
        Priority.P3,
    )
    assert s.free_eta_s is None and s.gain_s is None and s.eta_s > 0  # nothing else is free
    before = d.engine.incident(I1).version
    d(ev.UnitReassigned(I1, A1, I2, "cardiac arrest nearby", divert=True, person="li.wei"), 35.0)
    e = d.engine
    assert e.incident(I2).unit_id == A1 and e.units[A1].status is S.ASSIGNED
    assert e.incident(I1).unit_id is None and e.incident(I1).version == before + 1
    with pytest.raises(IllegalTransition):  # a divert goes to a higher priority only
        e.receive(ev.UnitReassigned(I2, A1, I1, "back", divert=True), 36.0)
    d(ev.UnitStatusReported(A1, S.EN_ROUTE), 37.0)
    d(ev.UnitStatusReported(A1, S.ON_SCENE), 90.0)
    d(ev.UnitStatusReported(A1, S.AVAILABLE_ON_ROAD), 400.0)
    assert not e.incident(I2).open and e.incident(I1).open
    assert same_state(d.replayed(router), e)


def test_the_snapshot_keeps_the_units_of_an_incident(router: Router) -> None:
    """Two units on I1 survive export and import: the same state, each unit's own steps."""
    d = start(router)
    d(ev.UnitAssigned(I1, A1), 2.0)
    d(ev.UnitAssigned(I1, B2, additional=True), 3.0)
    d(ev.UnitStatusReported(B2, S.EN_ROUTE), 4.0)
    copy = Engine(router)
    import_state(copy, export_state(d.engine))
    assert same_state(copy, d.engine)
    assert copy.incident(I1).crews == {
        A1: {Step.UNIT_NOTIFIED: 2.0},
        B2: {Step.UNIT_NOTIFIED: 3.0, Step.UNIT_ACKNOWLEDGED: 4.0, Step.EN_ROUTE: 4.0},
    }


def test_an_old_position_is_ranked_but_marked_stale(router: Router) -> None:
    """A1's fix observed at t=0 is 120 s old at t=120 (threshold 60): its option says
    stale_position with that age; B2, which reported at t=110, is fresh."""
    settings = EngineSettings(recommend=RecommendParams(stale_after_s=60.0))
    d = start(router, settings)
    d(ev.UnitPositionReported(A1, *NEAR, observed_at_s=0.0, accuracy_m=8.0), 100.0)
    d(ev.UnitPositionReported(B2, *MID, observed_at_s=110.0), 110.0)
    d(ev.ClockTicked(), 120.0)
    options = {o.unit_id: o for o in d.engine.recommend(I1, 120.0)}
    assert options[A1].stale_position and options[A1].position_age_s == 120.0
    assert any("old" in r for r in options[A1].reasons)
    assert not options[B2].stale_position and options[B2].position_age_s == 10.0
    assert d.engine.units[A1].accuracy_m == 8.0


def test_a_crew_clearing_at_hospital_is_sent_on_without_stranding_its_incident(
    router: Router,
) -> None:
    """A1 takes I1's patient to hospital while B2 stays on scene; after the handover A1 is sent
    to I2: on I1 only A1 is back in service (I1 stays open with B2), and B2 back closes it."""
    d = start(router)
    d(ev.UnitAssigned(I1, A1), 2.0)
    d(ev.UnitAssigned(I1, B2, additional=True), 3.0)
    steps = [(A1, S.EN_ROUTE), (B2, S.EN_ROUTE), (A1, S.ON_SCENE), (B2, S.ON_SCENE)]
    steps += [(A1, S.TRANSPORTING), (A1, S.AT_HOSPITAL)]
    for at_s, (uid, status) in enumerate(steps, start=10):
        d(ev.UnitStatusReported(uid, status), float(at_s))
    d(ev.HandoverCompleted(I1), 20.0)
    inc = d.engine.incident(I1)
    assert Step.TRANSFER_OF_CARE in inc.crews[A1] and Step.TRANSFER_OF_CARE not in inc.crews[B2]
    d(ev.CallReceived(I2, *INCIDENT, 20.0), 21.0)
    d(ev.UnitAssigned(I2, A1), 22.0)
    assert inc.open and inc.unit_id == B2 and inc.active() == [B2]
    d(ev.UnitStatusReported(B2, S.AVAILABLE_ON_ROAD), 30.0)
    assert not inc.open and d.engine.incident(I2).unit_id == A1
    assert same_state(d.replayed(router), d.engine)


def test_no_divert_is_suggested_while_a_free_unit_is_within_the_target(router: Router) -> None:
    """A1 on its way to a P3 and B2, A3 free within 480 s of the same place: a P1 there is
    recommended the free units and no divert."""
    d = start(router)
    d(ev.IncidentTriaged(I1, Priority.P3, Complaint.OTHER, ""), 1.5)
    d(ev.UnitAssigned(I1, A1), 2.0)
    d(ev.CallReceived(I2, *INCIDENT, 20.0, complaint=Complaint.CARDIAC_ARREST), 30.0)
    out = d.engine.decisions()
    recs = [o for o in out if isinstance(o, ev.Recommended) and o.incident_id == I2]
    assert recs and recs[-1].options[0].eta_s <= 480.0
    assert not [o for o in out if isinstance(o, ev.DivertSuggested)]
