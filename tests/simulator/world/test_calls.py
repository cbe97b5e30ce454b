"""Synthetic calls and the daily rhythm: seeded, at the stated rate and mix."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.core.model import Priority
from simulator.world.calls import COMPLAINT_MIX, DemandParams, generate_calls
from simulator.world.rhythm import HOURLY_CALLS, Rhythm, RoadClass, hour_of, road_classes
from tests.support.fast_world import wulin_world


def test_same_seed_same_calls() -> None:
    """One seed gives identical calls; another seed different ones."""
    w = wulin_world()
    args = (w.zones, w.net, Rhythm(), DemandParams(300.0))
    a = generate_calls(*args, 1, 0.0, 86400.0)
    assert a == generate_calls(*args, 1, 0.0, 86400.0)
    assert a != generate_calls(*args, 2, 0.0, 86400.0)


def test_rate_mix_and_hours() -> None:
    """Ten days at 300 a day: 3,000 calls within 4 %; P1 about 14 %; around noon (11-14 h)
    at least 1.5 times the calls of the small hours (03-06 h), as the profile says (3.67
    against 1.85)."""
    w = wulin_world()
    calls = generate_calls(w.zones, w.net, Rhythm(), DemandParams(300.0), 9, 0.0, 10 * 86400.0)
    assert len(calls) == pytest.approx(3000, rel=0.04)
    p1 = np.mean([c.priority is Priority.P1 for c in calls])
    expected_p1 = sum(share * p1_ for share, p1_, _, _ in COMPLAINT_MIX.values())
    assert p1 == pytest.approx(expected_p1, abs=0.02)
    hours = np.bincount([hour_of(c.at_s) for c in calls], minlength=24)
    assert hours[11:14].sum() > 1.5 * hours[3:6].sum()
    assert all(c.triage_s > 0 and c.on_scene_s > 0 and c.at_hospital_s > 0 for c in calls)


def test_rhythm() -> None:
    """Hours wrap (-1 s is 23:00); the profile averages 1; peaks are slower than nights."""
    r = Rhythm()
    assert hour_of(-1.0) == 23
    assert np.mean([r.call_weight(h * 3600.0) for h in range(24)]) == pytest.approx(1.0)
    assert sum(HOURLY_CALLS) / 24 == pytest.approx(1.0, abs=0.01)
    assert r.period(8 * 3600.0) == "peak" and r.period(3 * 3600.0) == "night"
    assert all(p >= n for p, n in zip(r.factors("peak"), r.factors("night"), strict=True))
    assert Rhythm(congestion=False).factors(Rhythm(congestion=False).period(8 * 3600)) == (1, 1, 1)
    with pytest.raises(ValueError):
        Rhythm(hourly_calls=(1.0,) * 23)


def test_road_classes_by_speed() -> None:
    """Every Wulin edge has a class; the fastest edges are arterial, the slowest local."""
    net = wulin_world().net
    cls = road_classes(net)
    kph = net.length_m / net.base_time_s * 3.6
    assert cls[np.argmax(kph)] == RoadClass.ARTERIAL
    assert cls[np.argmin(kph)] == RoadClass.LOCAL
