"""GCJ-02 to WGS-84 at the boundary, checked against published test vectors."""

from __future__ import annotations

import pytest

from location_fusion.crs import gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from location_fusion.errors import InvalidInput
from location_fusion.geo import haversine_m

# (WGS-84 lat, lon), (GCJ-02 lat, lon): googollee/eviltransform's test vectors.
VECTORS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_forward_matches_the_published_vectors(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """WGS-84 to GCJ-02 reproduces each published GCJ-02 point to 1e-9 degrees."""
    lat, lon = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-9) and lon == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_inverse_lands_within_a_metre_of_truth(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """A published GCJ-02 point converts back to within 1 m (in fact millimetres) of WGS-84."""
    lat, lon = gcj02_to_wgs84(*gcj)
    assert float(haversine_m(lon, lat, wgs[1], wgs[0])) < 1.0
    raw = float(haversine_m(gcj[1], gcj[0], wgs[1], wgs[0]))
    assert raw > 100  # the shift being undone is hundreds of metres


def test_outside_china_nothing_moves() -> None:
    """A point in Denver is the same in both systems."""
    assert gcj02_to_wgs84(39.7392, -104.9903) == (39.7392, -104.9903)
    assert to_wgs84(39.7392, -104.9903, "gcj02") == (39.7392, -104.9903)


def test_an_unknown_crs_is_refused() -> None:
    """Only wgs84 and gcj02 are known."""
    with pytest.raises(InvalidInput):
        to_wgs84(30.0, 120.0, "bd09")
