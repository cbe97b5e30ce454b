"""The places layer (location_fusion.places): its CSV layouts, one place per name, house numbers.

Small hand-written files and rows; no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from location_fusion.errors import InvalidInput
from location_fusion.places import (
    KIND_RADIUS_M,
    NUMBER_STEP_M,
    NamedPlace,
    house_number,
    locate_number,
    merge_places,
    named_place,
    read_places_csv,
)


def test_city_init_layout(tmp_path: Path) -> None:
    """`name,lat,lon,kind` (what `jijiu city init` writes): each kind gets its own radius."""
    path = tmp_path / "places.csv"
    path.write_text(
        "name,lat,lon,kind\n"
        "Revolution Cafe,37.806264,-122.298461,poi\n"
        "Campbell Village,37.808447,-122.298978,residential\n"
        "12 Wood Street,37.8070,-122.3020,address\n"
        ",37.8,-122.3,poi\n",  # no name: skipped
        encoding="utf-8",
    )
    places = read_places_csv(path)
    assert [(p.name, p.kind, p.radius_m) for p in places] == [
        ("Revolution Cafe", "poi", 80.0),
        ("Campbell Village", "residential", 200.0),
        ("12 Wood Street", "address", 40.0),
    ]
    assert not any(p.approximate for p in places)


def test_hand_list_layout(tmp_path: Path) -> None:
    """A row's own radius_m and approximate flag win over its kind's defaults."""
    path = tmp_path / "places.csv"
    path.write_text(
        "name,lat,lon,kind,radius_m,approximate,source\n"
        "武林广场,30.2733,120.1597,landmark,250,1,by hand\n",
        encoding="utf-8",
    )
    [square] = read_places_csv(path)
    assert square == NamedPlace("武林广场", 30.2733, 120.1597, "landmark", 250.0, True)


def test_hospitals_layout(tmp_path: Path) -> None:
    """A hospitals-style file is read by `name_zh`, as hospitals (120 m)."""
    path = tmp_path / "hospitals.csv"
    path.write_text(
        "hospital_id,name_zh,name_en,lat,lon\nzjpph,浙江省人民医院,ZPPH,30.2938,120.1562\n",
        encoding="utf-8",
    )
    [row] = read_places_csv(path)
    assert (row.name, row.kind, row.radius_m) == ("浙江省人民医院", "hospital", 120.0)


def test_bad_rows_refused(tmp_path: Path) -> None:
    """An unknown kind, a radius of 0 or a latitude of 95 is InvalidInput naming the place."""
    for row in ("X,30,120,castle,,", "X,30,120,poi,0,", "X,95,120,poi,,"):
        path = tmp_path / "bad.csv"
        path.write_text("name,lat,lon,kind,radius_m,approximate\n" + row + "\n", encoding="utf-8")
        with pytest.raises(InvalidInput, match="X"):
            read_places_csv(path)


def test_bare_tuples_are_hospitals() -> None:
    """A bare (name, lat, lon), as the gazetteer was first given, is a 120 m hospital."""
    place = named_place(("浙江省人民医院", 30.2938, 120.1562))
    assert (
        (place.kind, place.radius_m)
        == ("hospital", 120.0)
        == ("hospital", KIND_RADIUS_M["hospital"])
    )


def test_one_place_per_name() -> None:
    """Two rows of one name 120 m apart (a way and its node) merge at their mean; a third
    2 km away (another branch) is dropped, the first kept."""
    rows = [
        NamedPlace("Oakland Main Post Office", 37.806274, -122.301164, "poi", 80.0),
        NamedPlace("Oakland Main Post Office", 37.805724, -122.300458, "poi", 80.0),
        NamedPlace("Oakland Main Post Office", 37.825, -122.30, "poi", 80.0),
    ]
    [(name, merged)] = merge_places(rows).items()
    assert name == "Oakland Main Post Office"
    assert merged.lat == pytest.approx((37.806274 + 37.805724) / 2)
    assert merged.lon == pytest.approx((-122.301164 + -122.300458) / 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("文一西路588号", ("文一西路", 588)),
        ("上塘路158号附近", ("上塘路", 158)),
        ("12 Wood Street", ("Wood Street", 12)),
        ("武林广场", None),
        ("7th Street", None),
    ],
)
def test_house_number(text: str, expected: tuple[str, int] | None) -> None:
    """A Chinese "<street><n>号" or an English "<n> <street>" is (street, n); a name is not."""
    assert house_number(text) == expected


def test_locate_number_same_side() -> None:
    """162 is placed at 158 (same side, even), not at 161 (odd, other side of the road), its
    radius grown by 4 numbers of 4 m; a number 100 away from any known one is not placed."""
    even = NamedPlace("上塘路158号", 30.2938, 120.1562, "address", 200.0)
    odd = NamedPlace("上塘路161号", 30.2950, 120.1570, "address", 40.0)
    lon, lat, radius = locate_number(162, [(158, even), (161, odd)]) or (0.0, 0.0, 0.0)
    assert (lon, lat) == (even.lon, even.lat)
    assert radius == 200.0 + 4 * NUMBER_STEP_M
    assert locate_number(262, [(158, even), (161, odd)]) is None
