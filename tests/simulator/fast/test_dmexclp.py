"""DMEXCLP dispatch as published: in time if any unit is, and then the least coverage lost."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.core.model import Priority
from routing.snap import Positions
from simulator.fast.engine import FastSim, RunParams
from simulator.fast.policies import Dmexclp, make_policy
from simulator.fast.study import CallSource
from simulator.world.calls import CALL_PROCESSING_URGENT, TURNOUT_AT_STATION
from simulator.world.coverage import loss_of_removing
from tests.support.fast_world import wulin_world

TWO_HOURS = RunParams(horizon_s=2 * 3600.0, warmup_s=600.0, drain_s=3 * 3600.0)


def test_each_choice_is_in_time_and_loses_least_coverage() -> None:
    """With T = 150 s on the Wulin box: when some idle unit's ETA is within T the one sent is
    one of those, and no other such unit's departure loses less expected coverage (q = 0.3);
    when none is, the closest goes."""
    world = wulin_world()
    policy = Dmexclp(threshold_s=150.0, busy_q=0.3)
    calls = CallSource().calls(world, 4, TWO_HOURS)
    sim = FastSim(world, policy, calls, 4, TWO_HOURS)
    seen = {"in_time": 0, "closest": 0}
    original = sim._assign

    def check(i: int, u: int, drive_s: float) -> None:
        idle = sim.idle()
        pos = Positions.of([sim.engine.units[sim.ids[v]].position for v in idle])
        inc = sim.engine.incidents[calls[i].incident_id]
        ranked = world.router.rank(pos, inc.position, len(idle))
        in_time = [idle[r.unit] for r in ranked if r.eta_s <= 150.0]
        if not in_time:
            assert u == idle[ranked[0].unit]
            seen["closest"] += 1
        else:
            assert u in in_time
            covers = sim.coverage_times(idle) <= 150.0
            loss = loss_of_removing(
                sim.zone_weights(), covers.sum(axis=1).astype(np.float64), covers, 0.3
            )
            col = {v: c for c, v in enumerate(idle)}
            assert loss[col[u]] <= min(loss[col[v]] for v in in_time) + 1e-12
            seen["in_time"] += 1
        original(i, u, drive_s)

    sim._assign = check  # type: ignore[method-assign]
    sim.run()
    assert seen["in_time"] > 10 and seen["closest"] > 0  # both branches ran


def test_the_p1_variant_sends_the_closest_to_p2_and_p3() -> None:
    """`dmexclp-p1` keeps the rule for P1 and sends P2 and P3 the closest idle unit."""
    policy = make_policy("dmexclp-p1")
    assert isinstance(policy, Dmexclp)
    assert policy.rule_for == frozenset({Priority.P1})


def test_busy_fraction_follows_the_committed_units() -> None:
    """After a busy two hours (600 calls a day on 8 units) the measured busy fraction lies
    strictly between 0 and 1 and above the 0.3 prior."""
    world = wulin_world()
    calls = CallSource().calls(world, 2, TWO_HOURS)
    sim = FastSim(world, make_policy("dmexclp"), calls, 2, TWO_HOURS)
    sim.run()
    assert 0.3 < sim.busy_fraction() < 1.0


def test_exact_calls_take_their_eta_and_median_intervals() -> None:
    """`CallSource(exact=True)`: the same calls with noise 1 and the median call processing
    and station turnout."""
    world = wulin_world()
    drawn = CallSource().calls(world, 3, TWO_HOURS)
    exact = CallSource(exact=True).calls(world, 3, TWO_HOURS)
    assert [c.at_s for c in drawn] == [c.at_s for c in exact]
    for c in exact:
        assert c.drive_noise == c.transport_noise == c.return_noise == 1.0
        assert c.turnout_station_s == pytest.approx(TURNOUT_AT_STATION.median_s)
        if c.priority is not Priority.P3:
            assert c.triage_s == pytest.approx(CALL_PROCESSING_URGENT.median_s)
