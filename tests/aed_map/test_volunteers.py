"""Volunteers: the alert radius adapts, only the eligible are alerted, roles split sensibly."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aed_map.errors import InvalidArgument
from aed_map.registry import AedId
from aed_map.volunteers import (
    Acceptor,
    AlertArea,
    Volunteer,
    VolunteerId,
    VolunteerParams,
    alert_radius_m,
    assign_roles,
    ineligible,
    select_volunteers,
)

P = VolunteerParams()
NOW = 10_000.0
LAT, LON = 30.28, 120.16
DLAT_M = 1 / 111_195  # degrees of latitude per metre


def vol(vid: str, north_m: float = 100.0, **changes: Any) -> Volunteer:
    """A verified, on-duty volunteer `north_m` north of the incident, fresh position, consent."""
    fields: dict[str, object] = {
        "cpr_verified": True,
        "on_duty": True,
        "lat": LAT + north_m * DLAT_M,
        "lon": LON,
        "reported_at_s": NOW - 30,
        "consent_expires_at_s": NOW + 86_400,
    }
    fields.update(changes)
    return Volunteer(VolunteerId(vid), **fields)  # type: ignore[arg-type]


# --- radius -----------------------------------------------------------------------------------


def test_radius_dense_sparse_and_between() -> None:
    """Many volunteers: 500 m; very few: 1 km; in between, the radius holding ~10 of them."""
    assert alert_radius_m(300, 100.0) == 500.0
    assert alert_radius_m(300, 0.5) == 1_000.0
    assert alert_radius_m(300, 0.0) == 1_000.0
    r = alert_radius_m(300, 5.0)
    assert 500 < r < 1_000 and math.pi * (r / 1000) ** 2 * 5.0 == pytest.approx(10.0)


def test_radius_grows_when_the_ambulance_is_far() -> None:
    """With the ambulance 15 min out, volunteers 1.8 m/s * 840 s = 1,512 m away still beat it."""
    assert alert_radius_m(900, 100.0) == pytest.approx(1.8 * 840)
    assert alert_radius_m(3_600, 100.0) == 2_000.0  # capped
    assert alert_radius_m(60, 100.0) == 500.0  # a near ambulance never shrinks it below 500 m


@given(
    eta=st.floats(0, 7_200), more=st.floats(0, 3_600),
    density=st.floats(0, 1e4), denser=st.floats(0, 1e4),
)  # fmt: skip
def test_radius_is_monotone_and_bounded(
    eta: float, more: float, density: float, denser: float
) -> None:
    """The radius never falls as the ambulance gets further or volunteers fewer; 500-2,000 m."""
    r = alert_radius_m(eta, density)
    assert 500.0 <= r <= 2_000.0
    assert alert_radius_m(eta + more, density) >= r
    assert alert_radius_m(eta, density + denser) <= r


def test_radius_refuses_nonsense() -> None:
    """NaN or negative inputs and inconsistent parameters raise InvalidArgument."""
    with pytest.raises(InvalidArgument):
        alert_radius_m(math.nan, 10)
    with pytest.raises(InvalidArgument):
        alert_radius_m(300, -1)
    with pytest.raises(InvalidArgument):
        VolunteerParams(dense_radius_m=1_500)  # above the sparse radius
    with pytest.raises(InvalidArgument):
        VolunteerParams(max_alerted=0)


# --- selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"cpr_verified": False}, "unverified"),
        ({"on_duty": False}, "off_duty"),
        ({"consent_expires_at_s": NOW}, "consent_expired"),
        ({"reported_at_s": NOW - 601}, "stale_position"),
        ({"reported_at_s": NOW + 120}, "position_from_future"),
        ({}, None),
        ({"reported_at_s": NOW + 30}, None),  # a phone clock slightly ahead is fine
    ],
)
def test_eligibility(changes: dict[str, Any], reason: str | None) -> None:
    """Each filter says why a volunteer is left out, in one machine-readable word."""
    assert ineligible(vol("v", **changes), NOW, P) == reason


def test_selection_filters_and_orders() -> None:
    """Only eligible volunteers inside the radius are chosen, nearest first."""
    volunteers = [
        vol("far", 700),
        vol("near", 50),
        vol("mid", 300),
        vol("unverified", 10, cpr_verified=False),
        vol("stale", 20, reported_at_s=NOW - 3_600),
        vol("expired", 30, consent_expires_at_s=1.0),
        vol("off", 40, on_duty=False),
    ]
    chosen = select_volunteers(volunteers, AlertArea(LAT, LON, 500.0), NOW)
    assert [c.volunteer.id for c in chosen] == ["near", "mid"]
    assert chosen[0].distance_m == pytest.approx(50, abs=0.5)


def test_selection_keeps_the_closest_n() -> None:
    """With 30 eligible volunteers in range, the 15 closest are alerted."""
    volunteers = [vol(f"v{i:02d}", 10.0 * (30 - i)) for i in range(30)]
    chosen = select_volunteers(volunteers, AlertArea(LAT, LON, 1_000.0), NOW)
    assert [c.volunteer.id for c in chosen] == [f"v{i:02d}" for i in range(29, 14, -1)]
    assert select_volunteers([], AlertArea(LAT, LON, 500.0), NOW) == []


def test_volunteer_refuses_bad_positions() -> None:
    """A volunteer at lat 95 or with a NaN report time cannot be built."""
    with pytest.raises(InvalidArgument):
        vol("v", lat=95.0)
    with pytest.raises(InvalidArgument):
        vol("v", reported_at_s=math.nan)


# --- roles ------------------------------------------------------------------------------------

A1, A2 = AedId("aed-1"), AedId("aed-2")


def test_one_fetches_the_quickest_aed_others_go_to_cpr() -> None:
    """The pair bringing an AED soonest fetches: b via aed-2 (120 + 100 s); a and c do CPR."""
    acceptors = [
        Acceptor(VolunteerId("a"), 60, {A1: 200, A2: 400}),
        Acceptor(VolunteerId("b"), 200, {A1: 300, A2: 120}),
        Acceptor(VolunteerId("c"), 90, {}),
    ]
    plan = assign_roles(acceptors, {A1: 150, A2: 100}, ambulance_eta_s=600)
    assert plan.fetch is not None
    assert (plan.fetch.volunteer_id, plan.fetch.aed_id) == ("b", A2)
    assert plan.fetch.aed_at_patient_s == 220
    assert plan.to_patient == ("a", "c")
    assert plan.ambulance_defib_s == 720


def test_nobody_fetches_when_the_ambulance_is_sooner() -> None:
    """If no AED can beat the crew's defibrillator (ETA + 120 s), everyone goes to CPR."""
    acceptors = [Acceptor(VolunteerId("a"), 60, {A1: 200}), Acceptor(VolunteerId("b"), 80, {})]
    plan = assign_roles(acceptors, {A1: 150}, ambulance_eta_s=200)  # 350 s vs 320 s
    assert plan.fetch is None and plan.to_patient == ("a", "b")
    assert "no AED would arrive before" in plan.note


def test_no_aed_in_reach() -> None:
    """Without walking times to any AED, everyone goes to CPR and the note says why."""
    plan = assign_roles([Acceptor(VolunteerId("a"), 60, {A1: 100})], {}, ambulance_eta_s=900)
    assert plan.fetch is None and plan.to_patient == ("a",) and "no AED" in plan.note


def test_lone_acceptor_fetches_and_ties_go_to_the_earlier() -> None:
    """One acceptor may fetch (the caller does CPR); equal times favour the first to accept."""
    lone = assign_roles([Acceptor(VolunteerId("a"), 60, {A1: 100})], {A1: 100}, 900)
    assert lone.fetch is not None and lone.to_patient == ()
    tie = assign_roles(
        [
            Acceptor(VolunteerId("first"), 60, {A1: 100}),
            Acceptor(VolunteerId("second"), 60, {A1: 100}),
        ],
        {A1: 100},
        900,
    )
    assert tie.fetch is not None and tie.fetch.volunteer_id == "first"


def test_roles_refuse_nonsense() -> None:
    """A NaN ambulance ETA raises InvalidArgument; NaN walking times are ignored."""
    with pytest.raises(InvalidArgument):
        assign_roles([], {}, math.nan)
    plan = assign_roles([Acceptor(VolunteerId("a"), 60, {A1: math.nan})], {A1: 10}, 900)
    assert plan.fetch is None
