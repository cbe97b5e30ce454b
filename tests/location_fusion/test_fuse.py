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
    """A fix 220 m off claiming 10 m is outvoted by the sector and a junction said at the truth."""
    est = fuse([gnss(150, 160, 10.0)], sector_over_truth(), [junction_at(10, -5)], now_s=5.0)
    assert est is not None
    assert err_m(est.lat, est.lon) < 30
    assert est.radius95_m < 150
    assert est.conflict is not None and est.conflict.sources == ("gnss",)
    assert 150 < est.conflict.distance_m < 260
    shares = {s.source: s.weight for s in est.sources}
    assert shares["gnss"] == 0.0 and shares["speech"] > 0.5


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
    """Any mix: finite numbers, a circle no smaller than the best source's, same for any order."""
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
    assert est.radius95_m >= min(floors) * 0.99
    again = fuse(list(reversed(fixes)), sector, places, now_s=60.0)
    assert again == est
    assert np.isclose(sum(s.weight for s in est.sources), 1.0) or est.conflict is not None
