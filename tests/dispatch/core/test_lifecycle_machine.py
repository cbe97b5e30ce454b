"""A hypothesis state machine drives the engine with any order of events and checks invariants.

No unit is ever on two open incidents; no timeline step comes before its predecessor; every
call the engine accepted exists; a refused event changes nothing.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.model import (
    ORDER,
    Capability,
    Complaint,
    IncidentId,
    Priority,
    Step,
    UnitId,
    UnitStatus,
)
from dispatch.errors import DispatchError
from routing.load import load_network
from routing.router import Router

SPOTS = [(30.2803, 120.1465), (30.2790, 120.1480), (30.2850, 120.1400), (30.2950, 120.1650)]
UNITS = [UnitId(f"U{i}") for i in range(4)]
INCIDENTS = [IncidentId(f"I{i}") for i in range(6)]
DEVICES = ("tablet", "doctor", "driver")


@pytest.fixture(scope="module")
def wulin_router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def _state(engine: Engine) -> object:
    """Everything that matters about the engine, comparable with ==."""
    incidents = {
        i: (dict(x.timeline), x.unit_id, x.priority, set(x.acked_devices), set(x.declined))
        for i, x in engine.incidents.items()
    }
    units = {u: (x.status, x.incident_id) for u, x in engine.units.items()}
    return incidents, units


class Lifecycle(RuleBasedStateMachine):
    router: Router  # set by the test below

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(self.router, EngineSettings(ack_timeout_s=30.0))
        self.t = 0.0
        self.accepted: set[IncidentId] = set()

    def _apply(self, event: ev.Event, dt: float) -> None:
        self.t += dt
        before = copy.deepcopy(_state(self.engine))
        try:
            self.engine.receive(event, self.t)
        except DispatchError:
            assert _state(self.engine) == before, "a refused event changed the state"
            return
        if isinstance(event, ev.CallReceived):
            self.accepted.add(event.incident_id)
        self.engine.decisions()

    @rule(u=st.sampled_from(UNITS), spot=st.sampled_from(SPOTS), als=st.booleans())
    def register(self, u: UnitId, spot: tuple[float, float], als: bool) -> None:
        cap = Capability.ALS if als else Capability.BLS
        self._apply(ev.UnitRegistered(u, cap, *spot, DEVICES), 1.0)

    @rule(i=st.sampled_from(INCIDENTS), spot=st.sampled_from(SPOTS), dt=st.floats(0, 20))
    def call(self, i: IncidentId, spot: tuple[float, float], dt: float) -> None:
        self._apply(ev.CallReceived(i, *spot, 25.0), dt)

    @rule(
        i=st.sampled_from(INCIDENTS),
        p=st.sampled_from(list(Priority)),
        c=st.sampled_from(list(Complaint)),
    )
    def triage(self, i: IncidentId, p: Priority, c: Complaint) -> None:
        self._apply(ev.IncidentTriaged(i, p, c), 1.0)

    @rule(i=st.sampled_from(INCIDENTS), u=st.sampled_from(UNITS))
    def assign(self, i: IncidentId, u: UnitId) -> None:
        self._apply(ev.UnitAssigned(i, u), 1.0)

    @rule(i=st.sampled_from(INCIDENTS), u=st.sampled_from(UNITS), d=st.sampled_from(DEVICES))
    def ack(self, i: IncidentId, u: UnitId, d: str) -> None:
        self._apply(ev.OfferAcknowledged(i, u, d), 1.0)

    @rule(u=st.sampled_from(UNITS), s=st.sampled_from(list(UnitStatus)))
    def status(self, u: UnitId, s: UnitStatus) -> None:
        self._apply(ev.UnitStatusReported(u, s), 5.0)

    @rule(i=st.sampled_from(INCIDENTS))
    def handover(self, i: IncidentId) -> None:
        self._apply(ev.HandoverCompleted(i), 5.0)

    @rule(i=st.sampled_from(INCIDENTS))
    def cancel(self, i: IncidentId) -> None:
        self._apply(ev.IncidentCancelled(i), 1.0)

    @rule(dt=st.floats(0, 60))
    def tick(self, dt: float) -> None:
        self._apply(ev.ClockTicked(), dt)

    @invariant()
    def no_unit_on_two_incidents(self) -> None:
        holders: dict[UnitId, IncidentId] = {}
        for inc in self.engine.incidents.values():
            if inc.open and inc.unit_id is not None:
                assert inc.unit_id not in holders, f"{inc.unit_id} on two incidents"
                holders[inc.unit_id] = inc.incident_id
                assert self.engine.units[inc.unit_id].incident_id == inc.incident_id
        for unit in self.engine.units.values():
            if unit.incident_id is not None:
                assert holders.get(unit.unit_id) == unit.incident_id

    @invariant()
    def timeline_in_order(self) -> None:
        for inc in self.engine.incidents.values():
            steps = [s for s in ORDER if s in inc.timeline and s is not Step.TRIAGED]
            times = [inc.timeline[s] for s in steps]
            assert times == sorted(times), f"{inc.incident_id}: {inc.timeline}"
            if Step.CANCELLED in inc.timeline:
                assert Step.LEFT_SCENE not in inc.timeline

    @invariant()
    def accepted_calls_exist(self) -> None:
        assert self.accepted <= set(self.engine.incidents)


def test_lifecycle_state_machine(wulin_router: Router) -> None:
    """Random event sequences keep every invariant (hypothesis stateful test)."""
    Lifecycle.router = wulin_router
    run = Lifecycle.TestCase
    run.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
    run().runTest()
