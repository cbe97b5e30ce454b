"""SYNTHETIC cell networks for tests and the demo: a seeded layout and serving-cell draws.

Nothing here is a real carrier's network. `make_layout` puts three-sector LTE macro sites on a
jittered triangular ("hexagonal") grid, denser (~440 m) in the city centre than around it
(~760 m); `serving_observation` picks the cell a handset at a true position would be served by
(path loss, antenna pattern, shadowing) and the timing advance the carrier would report.

    python -m location_fusion.synthetic_cells --out data/cells/hangzhou_cells_synthetic.csv \\
        --seed 20261128
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from location_fusion.cells import LTE_TA_MAX, LTE_TA_STEP_M, Cell, CellObservation, CellTable
from location_fusion.errors import InvalidInput
from location_fusion.geo import F64, LocalFrame, check_lat_lon, haversine_m

MCC_CHINA = 460
SITES_PER_TAC = 30
FIRST_TAC = 22_000  # synthetic tracking-area codes start here
HANGZHOU_BBOX = (120.05, 30.265, 120.215, 30.355)  # lon_min, lat_min, lon_max, lat_max
MARGIN_M = 500.0
PATH_LOSS_EXPONENT = 3.5  # urban macro: 35 dB per decade of distance
SHADOWING_DB = 6.0  # log-normal shadowing, one draw per site and handset
FRONT_TO_BACK_DB = 25.0  # 3GPP sector pattern: -min(12 (off / beamwidth)², 25) dB
P_TIMING_ADVANCE = 0.7  # share of calls whose carrier record carries a timing advance
P_TA_JITTER = 0.15  # share of those off by one step (measurement and reporting noise)


def make_layout(
    lon_min: float,
    lat_min: float,
    lon_max: float,
    lat_max: float,
    rng: np.random.Generator,
    spacing_m: tuple[float, float] = (400.0, 800.0),
) -> list[Cell]:
    """Three-sector LTE sites over the box, three times as many in a central ellipse.

    The ellipse spans 0.7 of the box's half-sizes about its centre. The outer lattice spacing
    is 0.95 * the top of `spacing_m`, the inner one that over sqrt(3) (no inner refinement if
    that falls below the bottom of `spacing_m`). Sites are jittered by up to 8 % of their local
    spacing (the mean distance to the three nearest sites); each cell's range is 1.2-2 times it.
    Azimuths are a random site rotation + 0/120/240°, beamwidths 65, 90 or 120°; tracking areas
    are runs of ~30 neighbouring sites; cell id = site * 3 + sector.
    """
    lo, hi = spacing_m
    if not (0 < lo <= hi < math.inf):
        raise InvalidInput(f"spacing {spacing_m!r} m is not an increasing positive pair")
    if not (lon_min < lon_max and lat_min < lat_max):
        raise InvalidInput("the box is empty")
    frame = LocalFrame((lon_min + lon_max) / 2, (lat_min + lat_max) / 2)
    x_max, y_max = (float(v) for v in frame.to_xy(lon_max, lat_max))
    # Outer lattice spacing a, just under the top of the range; refining a triangular lattice
    # by its triangle centroids gives a lattice of spacing a/sqrt(3) (~0.58 a) turned by 30°.
    a = 0.95 * hi
    xs, ys = _lattice(a, x_max, y_max)
    fine = a / math.sqrt(3)
    inner = (xs / (0.7 * x_max)) ** 2 + (ys / (0.7 * y_max)) ** 2 <= (1.0 if fine >= lo else 0.0)
    add_x = np.concatenate([xs[inner] + a / 2, xs[inner] + a])
    add_y = np.concatenate([ys[inner] + fine / 2, ys[inner] + fine])
    keep = (np.abs(add_x) <= x_max) & (np.abs(add_y) <= y_max)
    xs = np.concatenate([xs, add_x[keep]])
    ys = np.concatenate([ys, add_y[keep]])
    n = xs.size
    xy_m = np.column_stack([xs, ys])
    dist = np.asarray(cKDTree(xy_m).query(xy_m, k=4)[0], dtype=np.float64)
    local = np.clip(dist[:, 1:].mean(axis=1), lo, hi)  # metres to the three nearest sites
    xs = xs + rng.uniform(-0.08, 0.08, n) * local
    ys = ys + rng.uniform(-0.08, 0.08, n) * local
    lon, lat = frame.to_lonlat(xs, ys)
    tac = _tracking_areas(ys, xs)
    cells: list[Cell] = []
    for site in range(n):
        rotation = rng.uniform(0.0, 120.0)
        beamwidth = float(rng.choice([65.0, 90.0, 120.0]))
        for sector in range(3):
            cells.append(
                Cell(
                    radio="LTE",
                    mcc=MCC_CHINA,
                    mnc=0,
                    area=int(tac[site]),
                    cell=site * 3 + sector,
                    lon=round(float(lon[site]), 6),
                    lat=round(float(lat[site]), 6),
                    range_m=float(round(local[site] * rng.uniform(1.2, 2.0))),
                    samples=int(rng.integers(5, 400)),
                    azimuth_deg=round((rotation + 120.0 * sector) % 360.0, 1),
                    beamwidth_deg=beamwidth,
                )
            )
    return cells


def _lattice(a: float, x_max: float, y_max: float) -> tuple[F64, F64]:
    """A triangular lattice of spacing `a` (m) covering [-x_max, x_max] × [-y_max, y_max]."""
    row_m = a * math.sqrt(3) / 2
    rows = np.arange(-math.ceil(y_max / row_m), math.ceil(y_max / row_m) + 1)
    cols = np.arange(-math.ceil(x_max / a) - 1, math.ceil(x_max / a) + 2)
    c, r = np.meshgrid(cols, rows)
    x = (c + 0.5 * (r % 2)) * a
    y = r * row_m
    keep = (np.abs(x) <= x_max) & (np.abs(y) <= y_max)
    return x[keep].astype(np.float64), y[keep].astype(np.float64)


def _tracking_areas(ys: F64, xs: F64) -> NDArray[np.int64]:
    """TAC per site: bands by northing, cut west to east into runs of ~SITES_PER_TAC sites."""
    n = xs.size
    n_bands = max(1, round(math.sqrt(n / SITES_PER_TAC)))
    band = np.minimum((np.argsort(np.argsort(ys)) * n_bands) // n, n_bands - 1)
    order = np.lexsort((xs, band))
    tac = np.empty(n, dtype=np.int64)
    tac[order] = FIRST_TAC + np.arange(n) // SITES_PER_TAC
    return tac


class ServingModel:
    """Which cell serves a handset: the layout's arrays, built once for many draws."""

    def __init__(self, cells: Iterable[Cell]) -> None:
        self.cells = tuple(cells)
        if not self.cells:
            raise InvalidInput("no cells to serve from")
        self.lon = np.array([c.lon for c in self.cells], dtype=np.float64)
        self.lat = np.array([c.lat for c in self.cells], dtype=np.float64)
        az = [math.nan if c.azimuth_deg is None else c.azimuth_deg for c in self.cells]
        self.azimuth_deg = np.array(az, dtype=np.float64)
        self.beamwidth_deg = np.array([c.beamwidth_deg for c in self.cells], dtype=np.float64)
        lonlat = np.column_stack([self.lon, self.lat])
        self.site = np.unique(lonlat, axis=0, return_inverse=True)[1].ravel()
        self.n_sites = int(self.site.max()) + 1

    def observe(
        self,
        lon: float,
        lat: float,
        rng: np.random.Generator,
        p_neighbor: float = 0.1,
        now_s: float = 0.0,
    ) -> CellObservation:
        """The serving cell (and maybe timing advance) a handset at the true lon/lat reports.

        The best cell maximises -path loss + antenna gain + per-site shadowing; with
        probability `p_neighbor` the handset is still on the best cell of the runner-up site
        (no handover yet). 70 % of draws carry a timing advance, 15 % of those one step off.
        """
        check_lat_lon(lat, lon, "true position")
        if not 0.0 <= p_neighbor <= 1.0:
            raise InvalidInput(f"p_neighbor {p_neighbor!r} is not a probability")
        d_m = np.maximum(haversine_m(self.lon, self.lat, lon, lat), 10.0)
        east, north = LocalFrame(lon, lat).to_xy(self.lon, self.lat)
        bearing = np.degrees(np.arctan2(-east, -north))  # from each site towards the handset
        off = np.abs((bearing - self.azimuth_deg + 180.0) % 360.0 - 180.0)
        loss = np.minimum(12.0 * (off / self.beamwidth_deg) ** 2, FRONT_TO_BACK_DB)
        gain = np.where(np.isnan(self.azimuth_deg), 0.0, -loss)
        shadow = rng.normal(0.0, SHADOWING_DB, self.n_sites)[self.site]
        score = -10.0 * PATH_LOSS_EXPONENT * np.log10(d_m) + gain + shadow
        best = int(np.argmax(score))
        if rng.random() < p_neighbor and self.n_sites > 1:
            score = np.where(self.site == self.site[best], -np.inf, score)
            best = int(np.argmax(score))
        serving = self.cells[best]
        ta: int | None = None
        if rng.random() < P_TIMING_ADVANCE:
            ta = round(float(d_m[best]) / LTE_TA_STEP_M)
            if rng.random() < P_TA_JITTER:
                ta += int(rng.choice([-1, 1]))
            ta = min(max(ta, 0), LTE_TA_MAX)
        return CellObservation(
            mcc=serving.mcc,
            mnc=serving.mnc,
            area=serving.area,
            cell=serving.cell,
            radio=serving.radio,
            timing_advance=ta,
            observed_at_s=now_s,
        )


def serving_observation(
    table_cells: Iterable[Cell],
    lon: float,
    lat: float,
    rng: np.random.Generator,
    p_neighbor: float = 0.1,
    now_s: float = 0.0,
) -> CellObservation:
    """One draw of `ServingModel(table_cells).observe(...)`; build the model once for many."""
    return ServingModel(table_cells).observe(lon, lat, rng, p_neighbor, now_s)


def hangzhou_layout(seed: int) -> list[Cell]:
    """The SYNTHETIC layout over the bundled Hangzhou network's box plus a 500 m margin."""
    lon_min, lat_min, lon_max, lat_max = HANGZHOU_BBOX
    frame = LocalFrame((lon_min + lon_max) / 2, (lat_min + lat_max) / 2)
    dlon = MARGIN_M / frame.kx
    dlat = float(frame.to_lonlat(0.0, MARGIN_M)[1]) - frame.lat0
    rng = np.random.default_rng(seed)
    return make_layout(lon_min - dlon, lat_min - dlat, lon_max + dlon, lat_max + dlat, rng)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the SYNTHETIC Hangzhou cell table as an OpenCellID-style CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    cells = hangzhou_layout(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    CellTable.from_cells(cells).write_csv(args.out)
    print(f"wrote {len(cells)} SYNTHETIC cells ({len(cells) // 3} sites) to {args.out}")


if __name__ == "__main__":
    main()
