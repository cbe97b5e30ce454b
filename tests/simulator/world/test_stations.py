"""Station placement: it covers more demand than chance, sizes stations by workload, and the
bundled SYNTHETIC file is exactly what the generator writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.world.coverage import expected, gain_of_adding, loss_of_removing
from simulator.world.stations import (
    PlacementParams,
    Station,
    allocate_units,
    deal_als,
    expected_coverage,
    place,
    random_sites,
    read_stations,
    site_matrix,
    write_stations,
)
from tests.support.fast_world import wulin_world


def test_mexclp_by_hand() -> None:
    """Two zones of weight 0.5, q = 0.5: one unit covering both gives 0.5; a second unit on
    zone 0 adds 0.5 * 0.5 * 0.5 = 0.125; removing the shared unit loses 0.25 + 0.125."""
    w = np.array([0.5, 0.5])
    assert expected(w, np.array([1, 1]), 0.5) == pytest.approx(0.5)
    covers = np.array([[True, True], [True, False]])  # zones x (shared unit, zone-0 unit)
    assert gain_of_adding(w, np.array([1, 1]), covers, 0.5) == pytest.approx([0.25, 0.125])
    loss = loss_of_removing(w, np.array([2, 1]), covers, 0.5)
    assert loss == pytest.approx([0.125 + 0.25, 0.125])


def test_placement_covers_more_than_random_sites() -> None:
    """On the Wulin box (500 m zones, 4 stations, 3-minute reach) the placement's expected
    coverage beats every one of 30 random placements of the same size."""
    world = wulin_world()
    p = PlacementParams(n_stations=4, n_units=8, threshold_s=180.0)
    eta = site_matrix(world.router, world.zones)
    w = world.zones.mean_weights()
    sites, _ = place(eta, w, p)
    ours = expected_coverage(eta, w, sites, [1] * 4, p)
    rng = np.random.default_rng(0)
    chance = [
        expected_coverage(eta, w, random_sites(eta.shape[0], 4, rng), [1] * 4, p) for _ in range(30)
    ]
    assert ours > max(chance)


def test_units_follow_workload() -> None:
    """Demand shares 0.5 / 0.3 / 0.2 and 10 units: one each, then 7 by largest remainder of
    3.5 / 2.1 / 1.4 -> 3 / 2 / 1 plus the remainder to the first -> 5 / 3 / 2."""
    assert allocate_units(np.array([0.5, 0.3, 0.2]), 10) == [5, 3, 2]


def test_als_dealt_busiest_first() -> None:
    """40 % of 10 units is 4 ALS: one per station busiest first, then round again."""
    assert deal_als([5, 3, 2], np.array([0.5, 0.3, 0.2]), 0.4) == [2, 1, 1]


def test_station_rows_round_trip(tmp_path: Path) -> None:
    """Written stations read back equal; a bad row names its line."""
    rows = [Station("S01", 30.28, 120.16, 2, 1), Station("S02", 30.30, 120.10, 1, 0)]
    path = tmp_path / "s.csv"
    write_stations(rows, path)
    assert read_stations(path) == rows
    path.write_text(path.read_text().replace(",2,1,", ",0,1,"))
    with pytest.raises(ValueError, match=":2:"):
        read_stations(path)


@pytest.mark.slow
def test_bundled_station_file_is_what_the_generator_writes(tmp_path: Path, data_dir: Path) -> None:
    """`python -m simulator.world.stations` on the Hangzhou network reproduces the bundled SYNTHETIC
    file byte for byte (placement has no random draw)."""
    from simulator.world.stations import STATIONS_CSV, main

    out = tmp_path / "stations.csv"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == (data_dir / STATIONS_CSV).read_bytes()
