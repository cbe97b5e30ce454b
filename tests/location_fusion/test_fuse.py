"""Fusion: robust to a biased fix, honest about its region, raises conflicts, order-free."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from location_fusion.cells import Sector
from location_fusion.fixes import DeviceFix
from location_fusion.fuse import fuse
from location_fusion.gazetteer import Place
from location_fusion.geo import DEG_M, haversine_m

LAT, LON = 30.28, 120.15  # the true spot in these hand-made calls
KX = DEG_M * math.cos(math.radians(LAT))


def at(north_m: float, east_m: float) -> tuple[float, float]:
    """lat, lon of a point north_m / east_m from the true spot."""
    return LAT + north_m / DEG_M, LON + east_m / KX


def gnss(north_m: float, east_m: float, acc68_m: float, t: float = 0.0) -> DeviceFix:
    lat, lon = at(north_m, east_m)
    return DeviceFix(lat, lon, acc68_m, 0.68, "gnss", t)


def sector_over_truth() -> Sector:
    """A 120 deg sector whose site is 500 m west of the truth, pointing east, range 1 km."""
    lat, lon = at(0, -500)
    return Sector(lon, lat, 90.0, 60.0, 0.0, 1000.0)


def junction_at(north_m: float, east_m: float, conf: float = 0.9) -> Place:
    lat, lon = at(north_m, east_m)
    return Place("intersection", "文三路与学院路", lon, lat, 40.0, conf, ("文三路", "学院路"))


def err_m(lat: float, lon: float) -> float:
    return float(haversine_m(lon, lat, LON, LAT))


def test_no_evidence_is_no_estimate() -> None:
    """Nothing known about a call gives None, not a point."""
    assert fuse([], None, [], now_s=0.0) is None


def test_a_good_fix_alone() -> None:
    """One honest 10 m fix: the estimate is on it and the circle is its own 95 % circle."""
    f = gnss(3, -4, 10.0)
    est = fuse([f], None, [], now_s=5.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 8
    r95 = f.sigma_m * 2.4477
    assert est.radius95_m >= r95 * 0.99  # never tighter than the source can justify
    assert est.conflict is None


def test_canyon_fix_loses_to_cell_and_words() -> None:
    """A fix 220 m off claiming 10 m is outvoted by the sector and a junction said at the truth;
    the disagreement widens the circle (100-300 m) rather than hiding the fix's chance, and
    raises no alarm: 220 m is an everyday canyon error, under the 250 m the alarm is for."""
    est = fuse([gnss(150, 160, 10.0)], sector_over_truth(), [junction_at(10, -5)], now_s=5.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 30
    assert 100 < est.radius95_m < 300
    assert est.conflict is None


def test_a_fix_far_off_is_named_by_the_alarm() -> None:
    """A fix 350 m off claiming 10 m beside a sector and a junction said at the truth: the
    alarm names the fix (about 350 m apart) and its share drops to zero."""
    est = fuse([gnss(250, 245, 10.0)], sector_over_truth(), [junction_at(10, -5)], now_s=5.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 30
    assert est.conflict is not None and est.conflict.sources == ("gnss",)
    assert 300 < est.conflict.distance_m < 360
    shares = {s.source: s.weight for s in est.sources}
    assert shares["gnss"] == 0.0 and shares["speech"] > 0.5


def test_a_stale_fix_far_away_raises_the_alarm() -> None:
    """A 10-minute-old fix 600 m away beside a fresh fix at the truth: the estimate stays on
    the fresh fix, the old one is set aside as stale and named by the alarm."""
    old, new = gnss(600, 0, 8.0, t=0.0), gnss(2, 2, 8.0, t=595.0)
    est = fuse([old, new], sector_over_truth(), [], now_s=600.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 15
    assert any(s.stale for s in est.sources)
    assert est.conflict is not None and est.conflict.sources == ("gnss",)
    assert 580 < est.conflict.distance_m < 620
    near = fuse([gnss(100, 0, 8.0, t=0.0), new], sector_over_truth(), [], now_s=600.0)
    assert near is not None and near.conflict is None  # 100 m away: the caller walked


def test_a_street_120_m_away_raises_no_alarm() -> None:
    """A good fix at the truth and words naming a street 120 m away (a caller in a compound
    names the street outside): no alarm, the issue's false-alarm case."""
    lat, lon = at(120, 0)
    line = np.array([[lon - 0.005, lat], [lon + 0.005, lat]])
    line = np.column_stack([np.linspace(line[0, 0], line[1, 0], 100), np.full(100, lat)])
    street = Place("street", "文三路", lon, lat, 500.0, 1.0, ("文三路",), line)
    est = fuse([gnss(0, 0, 8.0)], sector_over_truth(), [street], now_s=1.0)
    assert est is not None and est.conflict is None


def test_words_far_from_everything_raise_a_conflict() -> None:
    """Fix and sector agree; the spoken junction is 1.2 km away: speech is named, fix wins."""
    est = fuse([gnss(0, 0, 8.0)], sector_over_truth(), [junction_at(1200, 0)], now_s=1.0)
    assert est is not None
    assert est.conflict is not None and "speech" in est.conflict.sources
    assert est.conflict.distance_m > 1000
    assert err_m(est.lat, est.lon) < 15


def test_agreeing_sources_raise_nothing_and_tighten() -> None:
    """Fix, sector and words agree: no alarm, and the circle is no wider than the fix's."""
    f = gnss(5, 5, 15.0)
    est = fuse([f], sector_over_truth(), [junction_at(-5, 0)], now_s=1.0)
    assert est is not None and est.conflict is None
    assert err_m(est.lat, est.lon) < 20
    assert est.radius95_m <= f.sigma_m * 2.4477 * 1.5


def test_stale_fix_counts_less() -> None:
    """Two equal fixes 100 m apart: the estimate sits nearer the fresh one than the old one."""
    old, new = gnss(0, 0, 10.0, t=0.0), gnss(0, 100, 10.0, t=590.0)
    est = fuse([old, new], None, [], now_s=600.0)
    assert est is not None
    d_new = float(haversine_m(est.lon, est.lat, new.lon, new.lat))
    d_old = float(haversine_m(est.lon, est.lat, old.lon, old.lat))
    assert d_new < d_old


fix_st = st.builds(
    gnss,
    st.floats(-400, 400),
    st.floats(-400, 400),
    st.floats(2.0, 300.0),
    st.floats(0.0, 60.0),
)


@settings(max_examples=60, deadline=None)
@given(
    fixes=st.lists(fix_st, max_size=4),
    with_sector=st.booleans(),
    junction=st.one_of(st.none(), st.tuples(st.floats(-800, 800), st.floats(-800, 800))),
)
def test_fusion_is_finite_honest_and_order_free(
    fixes: list[DeviceFix], with_sector: bool, junction: tuple[float, float] | None
) -> None:
    """Any mix: finite numbers, a circle no smaller than the sources' combined precision
    allows (1/r^2 add up: agreeing fixes shrink it), the same for any order."""
    sector = sector_over_truth() if with_sector else None
    places = [junction_at(*junction)] if junction else []
    est = fuse(fixes, sector, places, now_s=60.0)
    if not fixes and sector is None and not places:
        assert est is None
        return
    assert est is not None
    assert all(math.isfinite(v) for v in (est.lat, est.lon, est.radius95_m))
    floors = [f.sigma_m * 2.4477 for f in fixes] + ([40.0] if places else [])
    if sector is not None:
        floors.append(math.sqrt(0.95 * (math.pi / 3) * 1000.0**2 / math.pi))
    assert est.radius95_m >= sum(f**-2 for f in floors) ** -0.5 * 0.99
    again = fuse(list(reversed(fixes)), sector, places, now_s=60.0)
    assert again == est
    assert np.isclose(sum(s.weight for s in est.sources), 1.0) or est.conflict is not None


def test_a_lone_good_fix_gets_a_few_times_its_claim() -> None:
    """A fresh 10 m GNSS fix alone: a 95 % radius of 15-30 m, not the canyon tail's 480 m."""
    for acc in (5.0, 10.0, 20.0):
        est = fuse([gnss(0, 0, acc)], None, [], now_s=0.0)
        assert est is not None
        assert 1.5 * acc < est.radius95_m <= 3 * acc


def test_agreeing_sources_shrink_and_disagreeing_ones_widen() -> None:
    """A Wi-Fi fix on the GNSS fix tightens the circle; one 200 m away widens it past 100 m."""
    alone = fuse([gnss(0, 0, 12.0)], None, [], now_s=0.0)
    wifi_on = DeviceFix(*at(2, 1), 12.0, 0.68, "wifi", 0.0)
    wifi_off = DeviceFix(*at(200, 0), 12.0, 0.68, "wifi", 0.0)
    agree = fuse([gnss(0, 0, 12.0), wifi_on], None, [], now_s=0.0)
    disagree = fuse([gnss(0, 0, 12.0), wifi_off], None, [], now_s=0.0)
    assert alone is not None and agree is not None and disagree is not None
    assert agree.radius95_m < 0.85 * alone.radius95_m
    assert disagree.radius95_m > 100


def test_a_stale_fix_beside_a_fresh_cell_is_not_the_position() -> None:
    """A fix 10 minutes old, 700 m from the sector: the estimate stays in the sector, off the
    fix, and the fix is listed as stale with weight 0 and its age."""
    stale = gnss(0, 700, 8.0, t=0.0)  # the sector covers 0-1000 m east of its site at -500
    est = fuse([stale], sector_over_truth(), [], now_s=600.0)
    assert est is not None
    assert float(haversine_m(est.lon, est.lat, stale.lon, stale.lat)) > 150
    listed = [s for s in est.sources if s.stale]
    assert len(listed) == 1 and listed[0].weight == 0.0 and listed[0].age_s == 600.0
    fresh = fuse([gnss(0, 700, 8.0, t=590.0)], sector_over_truth(), [], now_s=600.0)
    assert fresh is not None and not any(s.stale for s in fresh.sources)
    assert float(haversine_m(fresh.lon, fresh.lat, stale.lon, stale.lat)) < 30


def test_a_stale_fix_alone_is_still_an_answer() -> None:
    """With nothing fresher, a 5-minute-old fix is used, widened by the drift since."""
    est = fuse([gnss(0, 0, 8.0, t=0.0)], None, [], now_s=300.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 30
    assert est.radius95_m > 60  # 0.2 m/s for 300 s


def test_a_handsets_fixes_of_one_kind_count_as_one_witness() -> None:
    """Two GNSS fixes 200 m off (multipath moves them together) do not outvote a Wi-Fi fix at
    the truth: the circle holds the truth."""
    canyon = [gnss(200, 10, 10.0, t=20.0), gnss(190, 0, 12.0, t=40.0)]
    wifi = DeviceFix(*at(5, 5), 25.0, 0.68, "wifi", 40.0)
    est = fuse([*canyon, wifi], None, [], now_s=40.0)
    assert est is not None
    assert err_m(est.lat, est.lon) <= est.radius95_m


def test_successive_fixes_that_disagree_widen_the_circle() -> None:
    """Two 8 m GNSS fixes 60 m apart (multipath) get a wider circle than two 3 m apart."""
    calm = fuse([gnss(0, 0, 8.0, t=30.0), gnss(3, 0, 8.0, t=40.0)], None, [], now_s=40.0)
    jumpy = fuse([gnss(0, 0, 8.0, t=30.0), gnss(60, 0, 8.0, t=40.0)], None, [], now_s=40.0)
    assert calm is not None and jumpy is not None
    assert calm.radius95_m < 25
    assert jumpy.radius95_m > 2 * 60


def test_the_newest_fix_wins_over_one_of_its_kind_far_away() -> None:
    """A GNSS fix 3 km from the newer one is set aside (the handset moved on): the estimate
    sits on the newer fix with its own small circle."""
    old, new = gnss(0, 3000, 10.0, t=30.0), gnss(0, 0, 10.0, t=40.0)
    est = fuse([old, new], None, [], now_s=40.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 10 and est.radius95_m < 30
    assert [(s.stale, s.age_s) for s in est.sources] == [(False, 0.0), (True, 10.0)]
