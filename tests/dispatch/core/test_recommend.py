"""Tests for dispatch.core.recommend: ranked options, joint assignment, swaps and duplicates.

Most places lie on 体育场路 (Tiyuchang Road) at lat 30.2727 in the Wulin fixture, named by
their longitude. Driving times between them (seconds, from the router at free flow; rows drive
to columns, the road is a one-way pair so they are not symmetric):

    from \\ to    .150   .152   .156   .160
    .150            0   85.9  100.0  143.4
    .154         58.9   35.6   11.7   55.1
    .156         96.3   72.9      0   43.4
    .162        100.5   77.1   54.8   12.1
    .170        147.4  124.0  101.7   59.0
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.model import (
    DISPATCHABLE,
    Capability,
    Complaint,
    IncidentId,
    IncidentView,
    Priority,
    UnitId,
    UnitStatus,
    UnitView,
)
from dispatch.core.recommend import (
    Option,
    RecommendParams,
    assign_jointly,
    duplicate_candidates,
    rank_options,
    swap_suggestions,
)
from routing.load import load_network
from routing.router import Router
from routing.snap import Positions, RoadPosition

ROAD_LAT = 30.2727  # 体育场路, running east-west through the fixture
FAR_EAST = (30.282538, 120.184636)  # a node near 环城东路, about 250 s from .160
ALS, BLS = Capability.ALS, Capability.BLS
NOW_S = 1_000.0


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """A router on the Wulin fixture network, compiled into a private cache once per module."""
    cache: Path = tmp_path_factory.mktemp("c")
    net, _ = load_network("wulin", cache=cache)
    return Router(net)


def unit(
    router: Router,
    uid: str,
    lon: float,
    capability: Capability = ALS,
    status: UnitStatus = UnitStatus.AVAILABLE_ON_ROAD,
    lat: float = ROAD_LAT,
    free_at_s: float = 0.0,
) -> UnitView:
    return UnitView(UnitId(uid), capability, status, router.snap(lat, lon), lat, lon, free_at_s)


def incident(
    router: Router,
    iid: str,
    lon: float,
    priority: Priority = Priority.P2,
    received_at_s: float = 0.0,
    lat: float = ROAD_LAT,
    complaint: Complaint = Complaint.OTHER,
) -> IncidentView:
    position = router.snap(lat, lon)
    return IncidentView(IncidentId(iid), priority, complaint, position, lat, lon, received_at_s)


def ids(options: list[Option]) -> list[str]:
    return [o.unit_id for o in options]


def drive_s(router: Router, u: UnitView, inc: IncidentView) -> float:
    return router.rank(Positions.of([u.position]), inc.position, 1)[0].eta_s


# --- rank_options -----------------------------------------------------------------------------
def test_nearest_first_with_router_etas(router: Router) -> None:
    """Four units for a P2 at .160 come back .162 (12 s), .156 (43 s), .170 (59 s), .150 (143 s)."""
    inc = incident(router, "i", 120.160)
    units = [
        unit(router, f"u{round(lon * 1000) % 1000}", lon)
        for lon in (120.150, 120.156, 120.162, 120.170)
    ]
    options = rank_options(router, units, inc, NOW_S)
    assert ids(options) == ["u162", "u156", "u170", "u150"]
    ranked = router.rank(Positions.of([u.position for u in units]), inc.position, 4)
    assert [o.eta_s for o in options] == [r.eta_s for r in ranked]
    assert [o.drive_s for o in options] == [r.eta_s for r in ranked]
    assert options[0].eta_s == pytest.approx(12.1, abs=0.1)
    assert "nearest by road: 0:12" in options[0].reasons


def test_at_most_k_options(router: Router) -> None:
    """With k = 2 only the two nearest of four units are shown."""
    inc = incident(router, "i", 120.160)
    units = [
        unit(router, f"u{round(lon * 1000) % 1000}", lon)
        for lon in (120.150, 120.156, 120.162, 120.170)
    ]
    assert ids(rank_options(router, units, inc, NOW_S, RecommendParams(k=2))) == [
        "u162",
        "u156",
    ]


def test_busy_units_never_recommended(router: Router) -> None:
    """The four nearest units are out of service, assigned, en route, on scene: only .150 shows."""
    inc = incident(router, "i", 120.160)
    units = [
        unit(router, "oos", 120.162, status=UnitStatus.OUT_OF_SERVICE),
        unit(router, "assigned", 120.156, status=UnitStatus.ASSIGNED),
        unit(router, "en_route", 120.170, status=UnitStatus.EN_ROUTE),
        unit(router, "on_scene", 120.154, status=UnitStatus.ON_SCENE),
        unit(router, "free", 120.150),
    ]
    assert ids(rank_options(router, units, inc, NOW_S)) == ["free"]


def test_unit_at_hospital_gets_clearing_delay(router: Router) -> None:
    """A unit clearing at hospital at .162 (12 s drive) ranks as 12 + 120 s, behind .156 (43 s)."""
    inc = incident(router, "i", 120.160)
    clearing = unit(router, "clearing", 120.162, status=UnitStatus.AT_HOSPITAL)
    free = unit(router, "free", 120.156)
    options = rank_options(router, [clearing, free], inc, NOW_S)
    assert ids(options) == ["free", "clearing"]
    assert options[1].eta_s == pytest.approx(options[1].drive_s + 120.0)
    assert "clearing at hospital: +2:00" in options[1].reasons


def test_clearing_until_free_at(router: Router) -> None:
    """A unit at hospital that expects to be free in 300 s waits 300 s, not the 120 s minimum."""
    inc = incident(router, "i", 120.160)
    clearing = unit(router, "c", 120.162, status=UnitStatus.AT_HOSPITAL, free_at_s=NOW_S + 300)
    (option,) = rank_options(router, [clearing], inc, NOW_S)
    assert option.eta_s == pytest.approx(option.drive_s + 300.0)
    assert "clearing at hospital: +5:00" in option.reasons


def test_p1_prefers_slightly_farther_als(router: Router) -> None:
    """For a P1 at .160 the ALS at .156 (43 s) wins over the BLS at .162 (12 s): 31 s < 3:00."""
    inc = incident(router, "i", 120.160, Priority.P1, complaint=Complaint.CARDIAC_ARREST)
    units = [unit(router, "bls", 120.162, BLS), unit(router, "als", 120.156, ALS)]
    options = rank_options(router, units, inc, NOW_S)
    assert ids(options) == ["als"]
    assert options[0].reasons[0] == "ALS for P1 cardiac_arrest"


def test_p1_takes_bls_first_when_als_is_far(router: Router) -> None:
    """For a P1 at .160 the only ALS is ~250 s away, over 3:00 behind the BLS (12 s): BLS first."""
    inc = incident(router, "i", 120.160, Priority.P1, complaint=Complaint.CARDIAC_ARREST)
    far = unit(router, "als", FAR_EAST[1], ALS, lat=FAR_EAST[0])
    units = [far, unit(router, "bls", 120.162, BLS)]
    assert drive_s(router, far, inc) > 12.1 + 180.0  # the data really is "far"
    options = rank_options(router, units, inc, NOW_S)
    assert ids(options) == ["bls", "als"]
    assert options[0].reasons[0] == "no ALS within 3:00 more: BLS first, ALS on the way"
    assert options[1].reasons[0] == "ALS for P1 cardiac_arrest"


def test_far_als_stays_on_a_full_list(router: Router) -> None:
    """With k = 2 and BLS units at .162 (12 s) and .156 (43 s), the far ALS (250 s) keeps slot 2."""
    inc = incident(router, "i", 120.160, Priority.P1)
    units = [
        unit(router, "als", FAR_EAST[1], ALS, lat=FAR_EAST[0]),
        unit(router, "bls162", 120.162, BLS),
        unit(router, "bls156", 120.156, BLS),
    ]
    options = rank_options(router, units, inc, NOW_S, RecommendParams(k=2))
    assert ids(options) == ["bls162", "als"]


def test_p1_with_no_als_takes_bls(router: Router) -> None:
    """With only BLS units free a P1 still gets them, and the reason says no ALS is free."""
    inc = incident(router, "i", 120.160, Priority.P1)
    options = rank_options(router, [unit(router, "bls", 120.162, BLS)], inc, NOW_S)
    assert ids(options) == ["bls"]
    assert options[0].reasons[0] == "no ALS free: BLS first"


def test_p3_keeps_als_free(router: Router) -> None:
    """For a P3 at .160 the BLS at .156 (43 s) beats the ALS at .162 (12 s + 60 s for ordering)."""
    inc = incident(router, "i", 120.160, Priority.P3)
    units = [unit(router, "als", 120.162, ALS), unit(router, "bls", 120.156, BLS)]
    options = rank_options(router, units, inc, NOW_S)
    assert ids(options) == ["bls", "als"]
    assert options[1].eta_s == pytest.approx(options[1].drive_s)  # the ETA shown stays honest
    assert options[1].reasons[0].startswith("ALS kept free")


def test_invalid_params_rejected() -> None:
    """k = 0, a negative penalty and an infinite window are refused when the params are built."""
    with pytest.raises(ValueError):
        RecommendParams(k=0)
    with pytest.raises(ValueError):
        RecommendParams(clearing_penalty_s=-1.0)
    with pytest.raises(ValueError):
        RecommendParams(duplicate_window_s=float("inf"))


# --- assign_jointly ---------------------------------------------------------------------------
def greedy_total_s(router: Router, incidents: list[IncidentView], units: list[UnitView]) -> float:
    """Total driving time when each incident in turn takes its nearest still-free unit."""
    free, total = list(units), 0.0
    for inc in incidents:
        best = min(free, key=lambda u: drive_s(router, u, inc))
        total += drive_s(router, best, inc)
        free.remove(best)
    return total


def test_joint_beats_greedy(router: Router) -> None:
    """Incidents .152 and .160, units .150 and .162: greedy gives 77 + 143 s, joint 86 + 12 s."""
    incs = [
        incident(router, "a", 120.152, received_at_s=0),
        incident(router, "b", 120.160, received_at_s=10),
    ]
    units = [unit(router, "u150", 120.150), unit(router, "u162", 120.162)]
    result = assign_jointly(router, incs, units, NOW_S)
    assert {(a.incident_id, a.option.unit_id) for a in result} == {("a", "u150"), ("b", "u162")}
    joint = sum(a.option.eta_s for a in result)
    greedy = greedy_total_s(router, incs, units)
    assert joint < greedy
    assert joint == pytest.approx(85.9 + 12.1, abs=0.2)
    assert greedy == pytest.approx(77.1 + 143.4, abs=0.2)


def test_p1_tier_served_first(router: Router) -> None:
    """One unit; a P2 received first and a P1 received 30 s later: the P1 gets the unit."""
    incs = [
        incident(router, "p2", 120.160, Priority.P2, received_at_s=0),
        incident(router, "p1", 120.156, Priority.P1, received_at_s=30),
    ]
    result = assign_jointly(router, incs, [unit(router, "u", 120.162)], NOW_S)
    assert [(a.incident_id, a.option.unit_id) for a in result] == [("p1", "u")]


def test_joint_p1_gets_als_within_limit(router: Router) -> None:
    """A lone P1 at .160 gets the ALS at .156 (43 s), not the BLS at .162 (12 s)."""
    inc = incident(router, "p1", 120.160, Priority.P1)
    units = [unit(router, "bls", 120.162, BLS), unit(router, "als", 120.156, ALS)]
    (a,) = assign_jointly(router, [inc], units, NOW_S)
    assert a.option.unit_id == "als"


def test_joint_is_order_independent(router: Router) -> None:
    """Shuffling the input lists does not change the assignment."""
    incs = [incident(router, "a", 120.152), incident(router, "b", 120.160)]
    units = [unit(router, "x", 120.150), unit(router, "y", 120.162), unit(router, "z", 120.156)]
    forward = assign_jointly(router, incs, units, NOW_S)
    backward = assign_jointly(router, incs[::-1], units[::-1], NOW_S)
    assert sorted(forward, key=lambda a: a.incident_id) == sorted(
        backward, key=lambda a: a.incident_id
    )


POOL_LONS = (120.150, 120.152, 120.154, 120.156, 120.158, 120.160, 120.162, 120.166, 120.170)
STATUSES = tuple(UnitStatus)
UnitSpec = tuple[int, Capability, UnitStatus]  # place in POOL_LONS, capability, status
IncidentSpec = tuple[int, Priority, int]  # place in POOL_LONS, priority, received_at_s
Fleet = tuple[list[UnitSpec], list[IncidentSpec]]


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    """Up to 8 units in any status and up to 6 incidents, all at places along 体育场路."""
    units = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(POOL_LONS) - 1),
                st.sampled_from((ALS, BLS)),
                st.sampled_from(STATUSES),
            ),
            max_size=8,
        )
    )
    incs = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(POOL_LONS) - 1),
                st.sampled_from(tuple(Priority)),
                st.integers(0, 600),
            ),
            max_size=6,
        )
    )
    return units, incs


@settings(max_examples=60, deadline=None)
@given(fleet=fleets())
def test_joint_assignment_property(router: Router, fleet: Fleet) -> None:
    """No unit goes twice, no busy unit goes, and min(incidents, free units) incidents get one."""
    unit_specs, inc_specs = fleet
    units = [
        unit(router, f"u{n}", POOL_LONS[p], cap, status, free_at_s=NOW_S + 60 * n)
        for n, (p, cap, status) in enumerate(unit_specs)
    ]
    incs = [
        incident(router, f"i{n}", POOL_LONS[p], prio, received_at_s=t)
        for n, (p, prio, t) in enumerate(inc_specs)
    ]
    result = assign_jointly(router, incs, units, NOW_S)
    used = [a.option.unit_id for a in result]
    assert len(used) == len(set(used))
    assert len({a.incident_id for a in result}) == len(result)
    status = {u.unit_id: u.status for u in units}
    assert all(status[u] in DISPATCHABLE for u in used)
    eligible = sum(u.status in DISPATCHABLE for u in units)
    assert len(result) == min(len(incs), eligible)  # every pool place reaches every other


# --- swap_suggestions -------------------------------------------------------------------------
def test_swap_when_free_unit_much_nearer(router: Router) -> None:
    """A unit en route from .150 (143 s) to .160 is swapped for a free one at .162 (12 s)."""
    inc = incident(router, "i", 120.160)
    coming = unit(router, "coming", 120.150, status=UnitStatus.EN_ROUTE)
    free = unit(router, "free", 120.162)
    (swap,) = swap_suggestions(router, [(inc, coming)], [free], NOW_S)
    assert (swap.incident_id, swap.current_unit, swap.better_unit) == ("i", "coming", "free")
    assert swap.current_eta_s == pytest.approx(143.4, abs=0.1)
    assert swap.better_eta_s == pytest.approx(12.1, abs=0.1)


def test_no_swap_for_small_gain(router: Router) -> None:
    """A unit en route from .154 (55 s) stays when the free one at .156 (43 s) gains only 12 s."""
    inc = incident(router, "i", 120.160)
    coming = unit(router, "coming", 120.154, status=UnitStatus.EN_ROUTE)
    free = unit(router, "free", 120.156)
    assert swap_suggestions(router, [(inc, coming)], [free], NOW_S) == []


def test_swap_uses_each_free_unit_once(router: Router) -> None:
    """Two incidents both gain from the one free unit at .162: it is suggested once, best gain."""
    near = incident(router, "near", 120.160)  # coming from .150: 143 s, the free unit 12 s
    other = incident(router, "other", 120.156)  # coming from .170: 102 s, the free unit 55 s
    pairs = [
        (near, unit(router, "c1", 120.150, status=UnitStatus.EN_ROUTE)),
        (other, unit(router, "c2", 120.170, status=UnitStatus.EN_ROUTE)),
    ]
    swaps = swap_suggestions(router, pairs, [unit(router, "free", 120.162)], NOW_S)
    assert [(s.incident_id, s.better_unit) for s in swaps] == [("near", "free")]


def test_no_swap_takes_als_off_p1(router: Router) -> None:
    """A P1's ALS coming from .150 (143 s) is not swapped for a free BLS at .162 (12 s)."""
    inc = incident(router, "i", 120.160, Priority.P1)
    coming = unit(router, "als", 120.150, ALS, status=UnitStatus.EN_ROUTE)
    free = unit(router, "bls", 120.162, BLS)
    assert swap_suggestions(router, [(inc, coming)], [free], NOW_S) == []


# --- duplicate_candidates ---------------------------------------------------------------------
def view_at(iid: str, lat: float, received_at_s: float) -> IncidentView:
    """An incident at (lat, 120.16); duplicate search reads lat/lon only, not the road position."""
    road = RoadPosition(0, 0.0, 0.0, 120.16, lat)
    return IncidentView(
        IncidentId(iid), Priority.P2, Complaint.OTHER, road, lat, 120.16, received_at_s
    )


def test_duplicates_within_radius_and_window() -> None:
    """Calls 56 m and 111 m away within 10 min match, nearest first; 222 m or 11 min away do not."""
    new = view_at("new", 30.2727, 1_000.0)
    others = [
        view_at("far", 30.2747, 1_000.0),  # 0.002 deg lat = 222 m
        view_at("north111", 30.2737, 1_300.0),  # 111 m, 5 min later
        view_at("late", 30.2732, 1_660.0),  # 56 m but 11 min later
        view_at("north56", 30.2732, 500.0),  # 56 m, 500 s earlier
        new,  # the incident itself is never its own duplicate
    ]
    assert duplicate_candidates(new, others) == ["north56", "north111"]


# --- no units ---------------------------------------------------------------------------------
def test_empty_fleet_gives_empty_answers(router: Router) -> None:
    """With no units every function answers with an empty list, not an error."""
    inc = incident(router, "i", 120.160)
    assert rank_options(router, [], inc, NOW_S) == []
    assert assign_jointly(router, [inc], [], NOW_S) == []
    assert swap_suggestions(router, [], [], NOW_S) == []
    assert duplicate_candidates(inc, []) == []
