"""One incident's call-out: density, the alerted set, roles kept stable, the end and lapses."""

from __future__ import annotations

import math

import pytest

from aed_map.alerts import EndReason, Role
from aed_map.alerts import VolunteerStatus as S
from aed_map.callout import CallOut, call_out, density_per_km2, plan_roles, tally
from aed_map.errors import InvalidArgument
from aed_map.registry import AedId
from aed_map.volunteers import Acceptor, Volunteer, VolunteerId, VolunteerParams
from location_fusion.geo import EARTH_RADIUS_M

LAT, LON = 30.28, 120.15
AED = AedId("aed-1")
OTHER_AED = AedId("aed-2")


def north(m: float) -> float:
    """The latitude m metres north of LAT (on the sphere haversine uses)."""
    return LAT + math.degrees(m / EARTH_RADIUS_M)


def volunteer(name: str, metres: float, *, verified: bool = True) -> Volunteer:
    """On duty at `metres` north of the incident, reported at 0 s, consent until 3600 s."""
    return Volunteer(VolunteerId(name), verified, True, north(metres), LON, 0.0, 3600.0)


def test_density_counts_the_eligible_inside_the_disc() -> None:
    """Three eligible within 2 km, one at 2.5 km, one unverified: 3 / (pi * 2 km * 2 km)."""
    pool = [
        volunteer("a", 100),
        volunteer("b", 900),
        volunteer("c", 1900),
        volunteer("far", 2500),
        volunteer("x", 50, verified=False),
    ]
    assert density_per_km2(pool, LAT, LON, 10.0) == pytest.approx(3 / (math.pi * 4))
    assert density_per_km2(pool, LAT, LON, 10.0, within_m=1000) == pytest.approx(2 / math.pi)
    assert density_per_km2([], LAT, LON, 10.0) == 0.0
    with pytest.raises(InvalidArgument):
        density_per_km2(pool, LAT, LON, 10.0, within_m=0)
    with pytest.raises(InvalidArgument):
        density_per_km2(pool, math.nan, LON, 10.0)


def test_call_out_alerts_the_nearest_inside_the_radius_up_to_the_cap() -> None:
    """Four volunteers at 100-300 m and 1500 m, cap 2, ambulance here: a 1 km radius (density
    1/km², clamped to the sparse radius) and the two nearest, with their distances."""
    pool = [volunteer("c", 300), volunteer("a", 100), volunteer("b", 200), volunteer("d", 1500)]
    out = call_out("I1", LAT, LON, pool, 0.0, 10.0, VolunteerParams(max_alerted=2))
    assert out.radius_m == 1000.0
    assert out.density_per_km2 == pytest.approx(4 / (math.pi * 4))
    assert list(out.alerts) == ["a", "b"]
    assert all(a.status is S.ALERTED and a.alerted_at_s == 10.0 for a in out.alerts.values())
    assert out.distance_m["a"] == pytest.approx(100, abs=0.01)
    assert out.live and tally(out.alerts.values())["alerted"] == 2


def test_a_far_ambulance_widens_the_radius() -> None:
    """With the ambulance 1000 s away one 1500 m out can still come first: 1.8 m/s * 940 s."""
    out = call_out("I1", LAT, LON, [volunteer("d", 1500)], 1000.0, 0.0)
    assert out.radius_m == pytest.approx(1.8 * 940)
    assert list(out.alerts) == ["d"]


def acceptor(name: str, to_aed: float | None) -> Acceptor:
    return Acceptor(VolunteerId(name), 100.0, {AED: to_aed} if to_aed is not None else {})


def accepted(out: CallOut, *names: str, at_s: float = 1.0) -> None:
    for name in names:
        out.answer(VolunteerId(name), S.ACCEPTED, at_s)


def three() -> CallOut:
    return call_out("I1", LAT, LON, [volunteer(n, 100 + i) for i, n in enumerate("abc")], 600, 0)


def test_the_acceptor_nearest_the_aed_fetches_it_and_the_others_go_to_cpr() -> None:
    """a accepts first (AED 300 s away), b second (60 s): AED at the patient 260 s via b, 500 s
    via a, crew at 720 s; b fetches, a goes to CPR."""
    out = three()
    accepted(out, "a", "b")
    walks = {"a": acceptor("a", 300), "b": acceptor("b", 60)}
    roles, plan = plan_roles(out.in_acceptance_order(), walks, {AED: 200.0}, 600.0)
    assert roles == {"a": (Role.CPR, None), "b": (Role.FETCH_AED, AED)}
    assert plan is not None and plan.fetch is not None and plan.fetch.aed_at_patient_s == 260
    changed = out.set_roles(roles, plan, 2.0)
    assert {a.volunteer_id for a in changed} == {"a", "b"} and out.note == plan.note
    assert out.set_roles(roles, plan, 3.0) == []  # nothing changed: nobody told again


def test_a_fetch_under_way_is_kept() -> None:
    """b set off to fetch; c accepts standing at the AED: b keeps the fetch, c goes to CPR."""
    out = three()
    accepted(out, "a", "b")
    walks = {"a": acceptor("a", 300), "b": acceptor("b", 60), "c": acceptor("c", 0)}
    out.set_roles(*plan_roles(out.in_acceptance_order(), walks, {AED: 200.0}, 600.0), 2.0)
    out.answer(VolunteerId("b"), S.EN_ROUTE, 3.0)
    accepted(out, "c", at_s=4.0)
    roles, plan = plan_roles(out.in_acceptance_order(), walks, {AED: 200.0}, 600.0)
    assert plan is None
    assert roles == {"a": (Role.CPR, None), "b": (Role.FETCH_AED, AED), "c": (Role.CPR, None)}


def test_a_fetcher_who_withdraws_before_setting_off_is_replaced() -> None:
    """b was to fetch and withdrew while still only accepted: a fetches instead."""
    out = three()
    accepted(out, "a", "b")
    walks = {"a": acceptor("a", 300), "b": acceptor("b", 60)}
    out.set_roles(*plan_roles(out.in_acceptance_order(), walks, {AED: 200.0}, 600.0), 2.0)
    out.answer(VolunteerId("b"), S.CANCELLED, 3.0)
    roles, _ = plan_roles(out.in_acceptance_order(), walks, {AED: 200.0}, 600.0)
    assert roles == {"a": (Role.FETCH_AED, AED)}


def test_nobody_fetches_an_aed_that_would_come_after_the_crew() -> None:
    """Crew in 60 + 120 s; the AED 300 + 200 s away: everyone to CPR, the note says why."""
    out = three()
    accepted(out, "a")
    roles, plan = plan_roles(
        out.in_acceptance_order(), {"a": acceptor("a", 300)}, {AED: 200.0, OTHER_AED: 10.0}, 60.0
    )
    assert roles == {"a": (Role.CPR, None)}
    assert plan is not None and plan.fetch is None and "before the ambulance" in plan.note


def test_walking_times_are_needed_for_every_acceptor() -> None:
    out = three()
    accepted(out, "a", "b")
    with pytest.raises(InvalidArgument):
        plan_roles(out.in_acceptance_order(), {"a": acceptor("a", 1)}, {AED: 1.0}, 600.0)


def test_the_end_and_lapses_touch_live_alerts_only() -> None:
    """After 120 s the unanswered alert lapses, the declined one stays declined; the end then
    cancels only the accepted one, once; the eta counts down from the call-out's estimate."""
    out = three()
    accepted(out, "a")
    out.answer(VolunteerId("b"), S.DECLINED, 5.0)
    assert out.lapse(100.0) == []
    lapsed = out.lapse(120.0)
    assert [(a.volunteer_id, a.ended) for a in lapsed] == [("c", EndReason.NO_ANSWER)]
    ended = out.end(EndReason.AMBULANCE_ARRIVED, 130.0)
    assert [(a.volunteer_id, a.status) for a in ended] == [("a", S.CANCELLED)]
    assert out.end(EndReason.INCIDENT_CANCELLED, 140.0) == [] and not out.live
    assert tally(out.alerts.values()) == {
        "alerted": 0,
        "accepted": 0,
        "declined": 1,
        "en_route": 0,
        "with_aed": 0,
        "on_scene": 0,
        "cancelled": 2,
    }
    assert out.eta_s(100.0) == 500.0 and out.eta_s(1000.0) == 0.0
