"""A city's own fleet: `fleet.csv` in the city folder is what a new event log registers (its
unit ids, kinds and stations), a bad row stops the start with its row number, and the pure
parser refuses what a fleet cannot be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.core.fleet import fleet_from_rows
from dispatch.core.model import Capability
from dispatch.settings import Settings
from routing.errors import CityError
from tests.support.cities import city_settings, name_layer, oakland_city
from tests.support.server import start

FLEET = """\
unit_id,capability,lat,lon,station_id
OAK-M1,ALS,37.80738,-122.29894,st-7th
OAK-B2,BLS,37.80738,-122.29894,st-7th
OAK-B3,bls,37.80898,-122.29951,st-8th
"""


def _settings(folder: Path, tmp: Path) -> Settings:
    return city_settings(folder, tmp, 7)  # 7 seeded units asked for: the city lists its own


def test_the_city_fleet_is_what_a_new_log_registers(tmp_path: Path) -> None:
    """West Oakland with a three-unit fleet.csv: the server holds exactly those units, with
    their kinds, and has a token for each."""
    folder = oakland_city(tmp_path / "city")
    (folder / "fleet.csv").write_text(FLEET, encoding="utf-8")
    name_layer(folder, "fleet", "fleet.csv")
    live = start(_settings(folder, tmp_path))
    try:
        with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
            snapshot = json.loads(console.recv(timeout=10))
        got = {u["unit_id"]: u["capability"] for u in snapshot["units"]}
        assert got == {"OAK-M1": "als", "OAK-B2": "bls", "OAK-B3": "bls"}
        assert set(live.tokens["units"]) == set(got)
    finally:
        live.stop()


def test_a_bad_fleet_row_stops_the_start_with_its_row_number(tmp_path: Path) -> None:
    """A fleet.csv whose second unit is a helicopter: the server does not start, and the
    error names the file and row 2."""
    folder = oakland_city(tmp_path / "city")
    bad = FLEET.replace("OAK-B2,BLS", "OAK-B2,HEMS")
    (folder / "fleet.csv").write_text(bad, encoding="utf-8")
    name_layer(folder, "fleet", "fleet.csv")
    from dispatch.service.city import city_fleet, city_of

    with pytest.raises(CityError, match=r"fleet\.csv: fleet row 2: capability"):
        city_fleet(city_of(_settings(folder, tmp_path)))


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"unit_id": "", "capability": "ALS", "lat": "1", "lon": "2"}, "unit_id is required"),
        ({"unit_id": "A", "capability": "als", "lat": "x", "lon": "2"}, "are numbers"),
        ({"unit_id": "A", "capability": "als", "lat": "nan", "lon": "2"}, "finite"),
        ({"unit_id": "A", "capability": "als", "lat": "91", "lon": "2"}, "out of range"),
        ({"unit_id": "A", "capability": "", "lat": "1", "lon": "2"}, "ALS or BLS"),
    ],
)
def test_rows_a_fleet_cannot_have_are_refused(row: dict[str, str], says: str) -> None:
    """Each bad row is refused with a reason naming row 1."""
    with pytest.raises(ValueError, match=f"fleet row 1: .*{says}"):
        fleet_from_rows([row])


def test_a_unit_listed_twice_is_refused_and_a_good_fleet_is_read() -> None:
    """Row 2 repeating row 1's id is refused; two distinct rows give two units in order."""
    one = {"unit_id": "A", "capability": "ALS", "lat": "30.1", "lon": "120.2"}
    with pytest.raises(ValueError, match="fleet row 2: unit_id 'A' is listed twice"):
        fleet_from_rows([one, one])
    units = fleet_from_rows([one, {**one, "unit_id": "B", "capability": "BLS"}])
    assert [(u.unit_id, u.capability) for u in units] == [
        ("A", Capability.ALS),
        ("B", Capability.BLS),
    ]
