"""The AED registry: CSV and GeoJSON load, bad input is refused with a typed error."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from aed_map.errors import (
    DuplicateAed,
    RegistryError,
    RegistryLoadError,
    RegistryTooLarge,
    UnknownAed,
)
from aed_map.registry import (
    CSV_COLUMNS,
    Access,
    Aed,
    AedId,
    Limits,
    Registry,
    read_csv,
    read_geojson,
    write_csv,
)

HEADER = ",".join(CSV_COLUMNS)
GOOD = "a1,30.27,120.16,yes,-1,24/7,yes,地铁,地铁站站厅,B 口内客服中心旁,synthetic"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def feature(fid: object = "node/1", lon: object = 120.16, lat: object = 30.27, **tags: object):
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"emergency": "defibrillator", **tags},
    }


def collection(*features: object) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def test_one_good_csv_row() -> None:
    """Every column lands in its field; `defibrillator:location` becomes `location`."""
    (a,) = read_csv(csv_text(GOOD))
    assert a == Aed(
        AedId("a1"),
        30.27,
        120.16,
        True,
        "-1",
        "24/7",
        Access.YES,
        "地铁",
        "地铁站站厅",
        "B 口内客服中心旁",
        "synthetic",
    )


def test_csv_needs_only_id_lat_lon() -> None:
    """A CSV with just id, lat, lon loads; absent tags are empty, indoor and access unknown."""
    (a,) = read_csv(csv_text("x,30.2,120.1", header="id,lat,lon"))
    assert (a.indoor, a.access, a.opening_hours) == (None, Access.UNKNOWN, "")
    assert a.public_use


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("a1,95,120.16,,,,,,,,", RegistryError),  # latitude off the globe
        ("a1,30.2,190,,,,,,,,", RegistryError),  # longitude off the globe
        ("a1,nan,120.16,,,,,,,,", RegistryError),
        ("a1,inf,120.16,,,,,,,,", RegistryError),
        ("a1,north,120.16,,,,,,,,", RegistryError),
        (",30.2,120.16,,,,,,,,", RegistryError),  # no id
        ("a1,30.2,120.16,maybe,,,,,,,", RegistryError),  # indoor is yes or no
        ("a1,30.2,120.16,,,,everyone,,,,", RegistryError),  # access outside the OSM vocabulary
        ("a1,30.2,120.16,,,,", RegistryError),  # too few fields
    ],
)
def test_bad_csv_rows_are_refused(row: str, error: type[Exception]) -> None:
    """Each bad row raises its typed error, naming line 2."""
    with pytest.raises(error, match="line 2"):
        list(read_csv(csv_text(row)))


def test_duplicate_id_is_refused() -> None:
    """The same id twice raises DuplicateAed (a RegistryError) with reason duplicate_aed."""
    with pytest.raises(DuplicateAed) as info:
        list(read_csv(csv_text(GOOD, GOOD)))
    assert info.value.reason == "duplicate_aed" and isinstance(info.value, ValueError)


def test_unknown_or_missing_columns_are_refused() -> None:
    """A misspelt column (opening_hour) or a missing lon fails the whole file."""
    with pytest.raises(RegistryError, match="opening_hour"):
        list(read_csv(csv_text("a,1,2,x", header="id,lat,lon,opening_hour")))
    with pytest.raises(RegistryError, match="lon"):
        list(read_csv(csv_text("a,1", header="id,lat")))


def test_oversize_is_refused() -> None:
    """Too many rows, too many bytes or an over-long tag raise RegistryTooLarge."""
    rows = [f"a{i},30.2,120.1" for i in range(4)]
    with pytest.raises(RegistryTooLarge):
        list(read_csv(csv_text(*rows, header="id,lat,lon"), Limits(max_aeds=3)))
    with pytest.raises(RegistryTooLarge):
        list(read_csv(csv_text(*rows, header="id,lat,lon"), Limits(max_bytes=20)))
    long = "a1,30.2,120.1," + "x" * 30
    with pytest.raises(RegistryTooLarge, match="description"):
        list(read_csv(csv_text(long, header="id,lat,lon,description"), Limits(max_text_chars=20)))


def test_load_csv_file_and_lookup(tmp_path: Path) -> None:
    """load_csv reads a file (BOM tolerated); ids look up, unknown ids raise UnknownAed."""
    path = tmp_path / "aeds.csv"
    path.write_text("\ufeff" + csv_text(GOOD), encoding="utf-8")
    reg = Registry.load_csv(path)
    assert len(reg) == 1 and "a1" in reg and reg.aed("a1").lat == 30.27
    with pytest.raises(UnknownAed) as info:
        reg.aed("zz")
    assert str(info.value) == "unknown AED 'zz'" and isinstance(info.value, KeyError)


def test_missing_or_empty_files_raise_load_errors(tmp_path: Path) -> None:
    """A missing file and an empty one raise RegistryLoadError (an OSError)."""
    with pytest.raises(RegistryLoadError):
        Registry.load_csv(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("  \n", encoding="utf-8")
    with pytest.raises(RegistryLoadError):
        Registry.load_csv(tmp_path / "empty.csv")
    big = tmp_path / "big.csv"
    big.write_text(csv_text(GOOD), encoding="utf-8")
    with pytest.raises(RegistryTooLarge):
        Registry.load_csv(big, Limits(max_bytes=10))


def test_private_and_no_access_are_not_public() -> None:
    """access=private and access=no stay in the registry but not in public()."""
    aeds = tuple(Aed(AedId(a.value or "unknown"), 30.2, 120.1, access=a) for a in Access)
    reg = Registry(aeds)
    assert len(reg) == len(Access)
    assert {a.access for a in reg.public()} == set(Access) - {Access.PRIVATE, Access.NO}


def test_csv_round_trip() -> None:
    """write_csv then read_csv gives the same AEDs."""
    aeds = list(read_csv(csv_text(GOOD, "b,30.1,120.2,no,,,private,,,,")))
    out = io.StringIO()
    write_csv(aeds, out)
    assert list(read_csv(out.getvalue())) == aeds


def test_geojson_overpass_style() -> None:
    """An Overpass-style feature loads: its id, [lon, lat] order, tags; other tags ignored."""
    text = collection(
        feature(
            "node/42",
            120.16,
            30.27,
            indoor="yes",
            level="0",
            access="customers",
            opening_hours="10:00-22:00",
            **{"defibrillator:location": "服务台旁"},
            name="某商场",
            wheelchair="yes",
        ),
    )
    (a,) = read_geojson(text)
    assert (a.id, a.lat, a.lon, a.indoor, a.access) == (
        "node/42",
        30.27,
        120.16,
        True,
        Access.CUSTOMERS,
    )
    assert (a.opening_hours, a.location) == ("10:00-22:00", "服务台旁")


def test_geojson_id_from_properties() -> None:
    """Without a feature id, the @id property (or id) names the AED; numbers become text."""
    f = feature(None)
    del f["id"]
    f["properties"]["@id"] = 7
    (a,) = read_geojson(collection(f))
    assert a.id == "7"


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        '{"type": "Feature"}',  # not a collection
        collection({"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}}),
        collection(feature(lon="east")),
        collection(feature(lat=95)),
        collection(feature(lon=1e400)),  # JSON's way to write infinity
        collection(feature(emergency="fire_hydrant")),
        collection(feature(indoor=True)),  # a boolean is not an OSM tag value
        collection(feature(fid=[1])),
        '{"type": "FeatureCollection", "features": ['
        + json.dumps(feature())[:-1]
        + ', "x": NaN}]}',
    ],
)
def test_bad_geojson_is_refused(bad: str) -> None:
    """Malformed documents, non-points, bad coordinates and foreign tags raise RegistryError."""
    with pytest.raises(RegistryError):
        list(read_geojson(bad))


def test_geojson_duplicates_and_size() -> None:
    """Two features with one id raise DuplicateAed; too many features RegistryTooLarge."""
    with pytest.raises(DuplicateAed):
        list(read_geojson(collection(feature("n/1"), feature("n/1"))))
    with pytest.raises(RegistryTooLarge):
        list(read_geojson(collection(feature("n/1"), feature("n/2")), Limits(max_aeds=1)))


def test_load_geojson_file(tmp_path: Path) -> None:
    """Registry.load_geojson reads a file into a registry."""
    path = tmp_path / "aeds.geojson"
    path.write_text(collection(feature("n/1"), feature("n/2", access="private")), "utf-8")
    reg = Registry.load_geojson(path)
    assert len(reg) == 2 and [a.id for a in reg.public()] == ["n/1"]
