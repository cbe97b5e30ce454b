"""Cell table loading and lookup, observation checks, sectors and the SYNTHETIC cell layout."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from location_fusion.cells import (
    Cell,
    CellObservation,
    CellTable,
    Sector,
    sector_for,
)
from location_fusion.errors import CellTableError, InvalidInput
from location_fusion.geo import LocalFrame, haversine_m
from location_fusion.synthetic_cells import (
    HANGZHOU_BBOX,
    ServingModel,
    hangzhou_layout,
    main,
    make_layout,
    serving_observation,
)

SITE_LON, SITE_LAT = 120.15, 30.3
FRAME = LocalFrame(SITE_LON, SITE_LAT)
OCID_HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)
# Two good OpenCellID rows (an LTE and a GSM cell) in the 14-column layout.
OCID_ROWS = [
    "LTE,460,0,22001,1234,7,120.15,30.3,1000,12,1,1700000000,1700000500,-95",
    "GSM,460,0,4301,77,0,120.16,30.31,2500,3,1,1700000000,1700000500,0",
]


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """Lon, lat of a point east_m/north_m metres from the test site at 30.3 N, 120.15 E."""
    lon, lat = FRAME.to_lonlat(east_m, north_m)
    return float(lon), float(lat)


def lte_cell(azimuth_deg: float | None = 90.0, range_m: float = 1000.0) -> Cell:
    """An LTE cell at the test site: east-facing 120° sector (or omni) reaching range_m."""
    return Cell("LTE", 460, 0, 22001, 1234, SITE_LON, SITE_LAT, range_m, 12, azimuth_deg)


@pytest.fixture
def east_sector() -> Sector:
    """The hand-checkable sector: facing east (90°), ±60°, from the site out to 1000 m."""
    return Sector(SITE_LON, SITE_LAT, 90.0, 60.0, 0.0, 1000.0)


@pytest.fixture(scope="module")
def hangzhou_table(data_dir: Path) -> CellTable:
    """The shipped SYNTHETIC Hangzhou table, loaded once for the serving-cell tests."""
    return CellTable.load(data_dir / "cells" / "hangzhou_cells_synthetic.csv")


# --- the table --------------------------------------------------------------------------------


def test_load_with_header_without_azimuth(tmp_path: Path) -> None:
    """An OpenCellID file with its header loads two cells, both omni with beamwidth 120."""
    path = tmp_path / "cells.csv"
    path.write_text("\n".join([OCID_HEADER, *OCID_ROWS]) + "\n")
    table = CellTable.load(path)
    assert len(table) == 2 and table.skipped == 0
    lte = table.lookup(CellObservation(460, 0, 22001, 1234))
    assert lte == Cell("LTE", 460, 0, 22001, 1234, 120.15, 30.3, 1000.0, 12, None, 120.0)


def test_load_with_azimuth_and_beamwidth(tmp_path: Path) -> None:
    """Extra azimuth/beamwidth columns are read; an empty azimuth means omni."""
    path = tmp_path / "cells.csv"
    path.write_text(f"{OCID_HEADER},azimuth,beamwidth\n{OCID_ROWS[0]},250,65\n{OCID_ROWS[1]},,\n")
    table = CellTable.load(path)
    lte = table.lookup(CellObservation(460, 0, 22001, 1234))
    gsm = table.lookup(CellObservation(460, 0, 4301, 77, radio="GSM"))
    assert lte is not None and lte.azimuth_deg == 250.0 and lte.beamwidth_deg == 65.0
    assert gsm is not None and gsm.azimuth_deg is None and gsm.beamwidth_deg == 120.0


def test_load_headerless_and_gzipped(tmp_path: Path) -> None:
    """A headerless 14-column file, plain or gzipped, reads the same two cells."""
    plain = tmp_path / "cells.csv"
    plain.write_text("\n".join(OCID_ROWS) + "\n")
    packed = tmp_path / "cells.csv.gz"
    with gzip.open(packed, "wt") as f:
        f.write("\n".join(OCID_ROWS) + "\n")
    a, b = CellTable.load(plain), CellTable.load(packed)
    assert len(a) == len(b) == 2 and list(a) == list(b)
    assert a.lookup(CellObservation(460, 0, 4301, 77, radio="GSM")) is not None


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    """NaN lon, lat 95, range 0, a word for a number and radio WIMAX are five skipped rows."""
    bad = [
        "LTE,460,0,1,1,0,nan,30.3,1000,1,1,0,0,0",
        "LTE,460,0,1,2,0,120.1,95,1000,1,1,0,0,0",
        "LTE,460,0,1,3,0,120.1,30.3,0,1,1,0,0,0",
        "LTE,460,0,1,four,0,120.1,30.3,1000,1,1,0,0,0",
        "WIMAX,460,0,1,5,0,120.1,30.3,1000,1,1,0,0,0",
    ]
    path = tmp_path / "cells.csv"
    path.write_text("\n".join([OCID_HEADER, *bad, OCID_ROWS[0], ""]) + "\n")
    table = CellTable.load(path)
    assert len(table) == 1 and table.skipped == 5


def test_missing_or_headless_file_is_a_cell_table_error(tmp_path: Path) -> None:
    """A missing file, or a header without lat/lon, raises CellTableError (an OSError)."""
    with pytest.raises(CellTableError):
        CellTable.load(tmp_path / "nope.csv")
    odd = tmp_path / "odd.csv"
    odd.write_text("radio,mcc,net,area,cell\nLTE,460,0,1,1\n")
    with pytest.raises(OSError, match="lacks"):
        CellTable.load(odd)


def test_lookup_hit_and_miss() -> None:
    """Lookup finds a cell by (mcc, mnc, area, cell), prefers the radio, else returns None."""
    gsm_twin = Cell("GSM", 460, 0, 22001, 1234, 120.2, 30.3, 3000.0, 99)
    table = CellTable.from_cells([lte_cell(), gsm_twin])
    assert table.lookup(CellObservation(460, 0, 22001, 1234)) == lte_cell()
    assert table.lookup(CellObservation(460, 0, 22001, 1234, radio="GSM")) == gsm_twin
    assert table.lookup(CellObservation(460, 0, 22001, 1234, radio="NR")) == gsm_twin
    assert table.lookup(CellObservation(460, 0, 22001, 1235)) is None
    assert table.lookup(CellObservation(460, 1, 22001, 1234)) is None


def test_csv_round_trip(tmp_path: Path) -> None:
    """write_csv then load gives back exactly the same cells, azimuths and beamwidths."""
    cells = make_layout(120.14, 30.29, 120.17, 30.31, np.random.default_rng(5))
    cells.append(lte_cell(azimuth_deg=None, range_m=1234.5))
    path = tmp_path / "round.csv"
    CellTable.from_cells(cells).write_csv(path)
    back = CellTable.load(path)
    assert list(back) == cells and back.skipped == 0


# --- observations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"observed_at_s": math.nan},
        {"mcc": 5},
        {"timing_advance": 5000},
        {"timing_advance": -1},
        {"radio": "GSM", "timing_advance": 64},
        {"cell": 2**36},
        {"area": -1},
        {"radio": "lte"},
    ],
)
def test_observation_rejects_out_of_range(kwargs: dict[str, object]) -> None:
    """NaN time, mcc 5, TA 5000 (LTE tops at 1282), GSM TA 64, a 37-bit cell are InvalidInput."""
    args: dict[str, object] = {"mcc": 460, "mnc": 0, "area": 1, "cell": 1, **kwargs}
    with pytest.raises(InvalidInput):
        CellObservation(**args)  # type: ignore[arg-type]


def test_observation_accepts_edges() -> None:
    """LTE TA 1282, GSM TA 63, an NR 36-bit cell id and NR's own TA are all accepted."""
    CellObservation(460, 0, 1, 1, timing_advance=1282)
    CellObservation(460, 0, 1, 1, radio="GSM", timing_advance=63)
    CellObservation(460, 0, 1, 2**36 - 1, radio="NR", timing_advance=3000)


# --- sectors ----------------------------------------------------------------------------------


def test_contains_by_angle_and_radius(east_sector: Sector) -> None:
    """500 m east and 500 m at 140° are in; 500 m west, north and 1500 m east are out."""
    b140 = math.radians(140)  # 50° off the boresight: inside the ±60° wedge
    inside = [at(500, 0), at(500 * math.sin(b140), 500 * math.cos(b140))]
    outside = [at(-500, 0), at(0, 500), at(1500, 0)]
    lon, lat = np.array(inside + outside).T
    assert east_sector.contains(lon, lat).tolist() == [True, True, False, False, False]


def test_log_likelihood_higher_inside(east_sector: Sector) -> None:
    """Inside the wedge beats 500 m west and 1500 m east; inside is flat to within 1 %."""
    lon, lat = np.array([at(500, 0), at(900, 300), at(-500, 0), at(1500, 0)]).T
    ll = east_sector.log_likelihood(lon, lat)
    assert abs(ll[0] - ll[1]) < 0.01
    assert ll[0] > ll[2] + 1.0 and ll[0] > ll[3] + 1.0


def test_log_likelihood_integrates_to_about_one(east_sector: Sector) -> None:
    """Summed over a 20 m grid 16 km across, the likelihood is a density: total 0.97-1.01."""
    g = np.arange(-8000.0, 8000.0, 20.0)
    lon, lat = FRAME.to_lonlat(*np.meshgrid(g, g))
    total = float(np.exp(east_sector.log_likelihood(lon, lat)).sum() * 400.0)
    assert 0.97 < total < 1.01


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_log_likelihood_finite_anywhere_on_earth(lat: float, lon: float) -> None:
    """Any valid lon/lat, even the antipode, gets a finite log-likelihood."""
    sector = Sector(SITE_LON, SITE_LAT, 90.0, 60.0, 0.0, 1000.0)
    assert np.isfinite(sector.log_likelihood([lon], [lat])).all()


@settings(max_examples=300, deadline=None)
@given(r_m=st.floats(0, 20_000), bearing=st.floats(0, 360))
def test_clearly_outside_scores_below_inside(r_m: float, bearing: float) -> None:
    """No point beats the wedge's best; 450 m past the band or 45° past the edge loses to all."""
    sector = Sector(SITE_LON, SITE_LAT, 90.0, 60.0, 0.0, 1000.0)
    inside = sector.log_likelihood(*sector.sample(400, np.random.default_rng(0)))
    lon, lat = at(r_m * math.sin(math.radians(bearing)), r_m * math.cos(math.radians(bearing)))
    ll = float(sector.log_likelihood([lon], [lat])[0])
    off = abs((bearing - 90.0 + 180.0) % 360.0 - 180.0)
    assert ll <= inside.max() + 1e-3
    if r_m > 1450 or (r_m > 300 and off > 105):
        assert ll < inside.min()


def test_timing_advance_narrows_the_band() -> None:
    """TA 10 (781 m ±78 m): 300 m east falls out of the band, 781 m east stays in."""
    sector = sector_for(lte_cell(), CellObservation(460, 0, 22001, 1234, timing_advance=10))
    assert sector.r_min_m == pytest.approx(703.08) and sector.r_max_m == pytest.approx(859.32)
    lon, lat = np.array([at(300, 0), at(781, 0)]).T
    assert sector.contains(lon, lat).tolist() == [False, True]
    no_ta = sector_for(lte_cell(), CellObservation(460, 0, 22001, 1234))
    assert (no_ta.r_min_m, no_ta.r_max_m) == (0.0, 1000.0)


def test_timing_advance_band_is_clipped_to_range_unless_beyond_it() -> None:
    """TA 12 (937 m) clips to the 1000 m range; TA 20 (1562 m) beyond it keeps its own band."""
    near = sector_for(lte_cell(), CellObservation(460, 0, 22001, 1234, timing_advance=12))
    assert near.r_max_m == 1000.0 and near.r_min_m == pytest.approx(859.32)
    far = sector_for(lte_cell(), CellObservation(460, 0, 22001, 1234, timing_advance=20))
    assert (far.r_min_m, far.r_max_m) == pytest.approx((1484.28, 1640.52))


def test_gsm_timing_advance_uses_553_m_steps() -> None:
    """GSM TA 2 puts the handset 553.5-1660.5 m out; a UMTS TA is ignored."""
    gsm = Cell("GSM", 460, 0, 4301, 77, SITE_LON, SITE_LAT, 5000.0, 3)
    s = sector_for(gsm, CellObservation(460, 0, 4301, 77, radio="GSM", timing_advance=2))
    assert (s.r_min_m, s.r_max_m) == pytest.approx((553.5, 1660.5))
    umts = sector_for(gsm, CellObservation(460, 0, 4301, 77, radio="UMTS", timing_advance=2))
    assert (umts.r_min_m, umts.r_max_m) == (0.0, 5000.0)


def test_omni_cell_covers_every_bearing() -> None:
    """An omni cell's sector holds 500 m north, south, east and west, but not 1500 m east."""
    sector = sector_for(lte_cell(azimuth_deg=None), CellObservation(460, 0, 22001, 1234))
    assert sector.omni and sector.centroid() == (SITE_LON, SITE_LAT)
    pts = [at(0, 500), at(0, -500), at(500, 0), at(-500, 0), at(1500, 0)]
    lon, lat = np.array(pts).T
    assert sector.contains(lon, lat).tolist() == [True, True, True, True, False]


def test_narrow_beam_still_serves_its_third() -> None:
    """A 65° beam on a three-sector site serves ±60° of its boresight, not just ±32.5°."""
    cell = Cell("LTE", 460, 0, 1, 1, SITE_LON, SITE_LAT, 1000.0, 1, 90.0, 65.0)
    assert sector_for(cell, CellObservation(460, 0, 1, 1)).half_width_deg == 60.0


def test_centroid_and_samples(east_sector: Sector) -> None:
    """The ±60° wedge to 1000 m has its centroid 2 sin60/pi km = 551 m east; samples fall in it."""
    lon, lat = east_sector.centroid()
    assert haversine_m(SITE_LON, SITE_LAT, lon, lat) == pytest.approx(551.3, abs=0.5)
    assert lat == pytest.approx(SITE_LAT)
    assert east_sector.contains(*east_sector.sample(1000, np.random.default_rng(3))).all()


def test_sector_rejects_an_empty_band() -> None:
    """A band from 500 m to 500 m, or an azimuth of 360, is InvalidInput."""
    with pytest.raises(InvalidInput):
        Sector(SITE_LON, SITE_LAT, 90.0, 60.0, 500.0, 500.0)
    with pytest.raises(InvalidInput):
        Sector(SITE_LON, SITE_LAT, 360.0, 60.0, 0.0, 500.0)


# --- the SYNTHETIC layout ---------------------------------------------------------------------


def test_layout_spacing_ids_and_sectors() -> None:
    """Sites sit 400-800 m apart (±16 % jitter); ids are unique; 3 sectors 120° apart a site."""
    cells = make_layout(*HANGZHOU_BBOX, np.random.default_rng(7))
    assert len({c.cell for c in cells}) == len(cells)
    sites: dict[tuple[float, float], list[Cell]] = {}
    for c in cells:
        sites.setdefault((c.lon, c.lat), []).append(c)
    assert all(len(s) == 3 for s in sites.values())
    for s in sites.values():
        az = sorted(c.azimuth_deg or 0.0 for c in s)
        assert az[1] - az[0] == pytest.approx(120, abs=0.2)
        assert az[2] - az[1] == pytest.approx(120, abs=0.2)
        assert {c.cell // 3 for c in s} == {s[0].cell // 3}
    lonlat = np.array(list(sites))
    x, y = LocalFrame(120.13, 30.31).to_xy(lonlat[:, 0], lonlat[:, 1])
    nearest = np.asarray(cKDTree(np.c_[x, y]).query(np.c_[x, y], k=2)[0])[:, 1]
    assert nearest.min() > 400 * 0.84 and nearest.max() < 800 * 1.16
    assert 400 <= np.median(nearest) <= 800
    tac_sizes = np.unique([c.area for c in cells], return_counts=True)[1] // 3
    assert tac_sizes.max() == 30


def test_shipped_csv_is_the_seeded_layout(hangzhou_table: CellTable) -> None:
    """The shipped CSV is exactly what seed 20261128 generates, 2007 cells, none skipped."""
    assert hangzhou_table.skipped == 0 and len(hangzhou_table) == 2007
    assert list(hangzhou_table) == hangzhou_layout(20261128)


def test_serving_sector_contains_the_true_position(hangzhou_table: CellTable) -> None:
    """For 500 random spots in the city, the serving cell's sector holds >= 85 % of them."""
    rng = np.random.default_rng(42)
    model = ServingModel(hangzhou_table)
    lon_min, lat_min, lon_max, lat_max = HANGZHOU_BBOX
    hits = with_ta = 0
    for _ in range(500):
        lon, lat = rng.uniform(lon_min, lon_max), rng.uniform(lat_min, lat_max)
        obs = model.observe(lon, lat, rng)
        cell = hangzhou_table.lookup(obs)
        assert cell is not None
        hits += bool(sector_for(cell, obs).contains(lon, lat)[()])
        with_ta += obs.timing_advance is not None
    assert hits >= 0.85 * 500
    assert 0.6 * 500 <= with_ta <= 0.8 * 500


def test_serving_observation_prefers_the_site_in_front() -> None:
    """With no neighbour draws, a spot 200 m east of a site is served by its east sector."""
    cells = [
        Cell("LTE", 460, 0, 1, i, SITE_LON, SITE_LAT, 1000.0, 1, az, 65.0)
        for i, az in enumerate((0.0, 120.0, 240.0))
    ]
    lon, lat = at(200, 0)
    obs = serving_observation(cells, lon, lat, np.random.default_rng(0), p_neighbor=0.0)
    assert obs.cell == 1  # 120° is 30° off the bearing; 0° and 240° are 90° and 150° off


def test_main_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`main` writes a loadable CSV and says it is synthetic."""
    out = tmp_path / "sub" / "cells.csv"
    main(["--out", str(out), "--seed", "1"])
    assert "SYNTHETIC" in capsys.readouterr().out
    assert len(CellTable.load(out)) > 1000
