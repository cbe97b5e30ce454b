"""Ambulance stations placed to cover demand, and the SYNTHETIC station file they are kept in.

No public list of Hangzhou's ambulance bases was found, so the bundled one is made here and
labelled SYNTHETIC. Sites are chosen among the demand zones' representative points by maximal
expected coverage (MEXCLP, `simulator.world.coverage`) over a many-to-many driving-time matrix from
the routing core (`Router.matrix`, candidate sites to zones):

1. greedy: add the site whose first unit adds most expected covered demand, until n stations
   (ties go to the lower demand-weighted mean time to the nearest site, the p-median cost);
2. interchange (Teitz and Bart, Operations Research 16:955-961, 1968): swap a chosen site for an
   unchosen one while that raises the expected coverage;
3. units by workload: each station's share of the demand it is nearest to (largest
   remainder, at least one each). MEXCLP would also size the stations, but in a compact city
   where every zone is in reach of several sites it sends the extra units to the sparse edge,
   whose few zones have the least backup, and leaves downtown short; real services size
   stations by the calls they answer;
4. ALS units dealt one per station, busiest station first, round the stations again if needed.

A site counts as covering a zone within 5 minutes' drive (daytime traffic): the placement is
tighter than the 8-minute coverage the maps show, so that stations follow demand downtown
instead of merely touching every zone once.

    python -m simulator.world.stations  # writes data/stations/hangzhou_stations_synthetic.csv
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.network import F64, I64
from routing.router import Router
from simulator.world.coverage import check_q, expected, gain_of_adding
from simulator.world.zones import Zones

STATIONS_CSV = Path("stations") / "hangzhou_stations_synthetic.csv"
COLUMNS = ("station_id", "lat", "lon", "units", "als_units", "source")


@dataclass(frozen=True)
class PlacementParams:
    n_stations: int = 16
    n_units: int = 32
    als_share: float = 0.4  # of the units
    threshold_s: float = 300.0  # a zone within this driving time of a site is covered
    busy_q: float = 0.3  # MEXCLP: the chance a unit is busy
    swap_passes: int = 3

    def __post_init__(self) -> None:
        if not (isinstance(self.n_stations, int) and self.n_stations >= 1):
            raise ValueError("n_stations must be an integer >= 1")
        if not (isinstance(self.n_units, int) and self.n_units >= self.n_stations):
            raise ValueError("n_units must be an integer >= n_stations")
        if not (0.0 <= self.als_share <= 1.0):
            raise ValueError("als_share must be in 0..1")
        if not (math.isfinite(self.threshold_s) and self.threshold_s > 0):
            raise ValueError("threshold_s must be positive")
        check_q(self.busy_q)


@dataclass(frozen=True)
class Station:
    station_id: str
    lat: float
    lon: float
    units: int
    als_units: int

    def __post_init__(self) -> None:
        if not (1 <= len(self.station_id) <= 32 and self.station_id.isprintable()):
            raise ValueError("station_id must be 1-32 printable characters")
        if not (abs(self.lat) <= 90 and abs(self.lon) <= 180):
            raise ValueError(f"station {self.station_id}: invalid coordinate")
        if not (self.units >= 1 and 0 <= self.als_units <= self.units):
            raise ValueError(f"station {self.station_id}: need units >= 1, 0 <= ALS <= units")


def site_matrix(router: Router, zones: Zones) -> F64:
    """(zones, zones): driving seconds from each zone's point (a candidate site) to each zone."""
    ll = zones.lonlat
    pos = router.snap_many(ll[:, 1], ll[:, 0])
    return router.matrix(pos, pos).eta_s


def expected_coverage(
    eta_s: F64, weights: F64, sites: Sequence[int], units: Sequence[int], p: PlacementParams
) -> float:
    """Expected covered demand of `units[i]` units at each site `sites[i]` (rows of eta_s)."""
    covers = eta_s[list(sites)] <= p.threshold_s  # (sites, zones)
    counts = np.asarray(units, dtype=np.float64) @ covers
    return expected(weights, counts, p.busy_q)


def place(eta_s: F64, weights: F64, p: PlacementParams) -> tuple[list[int], list[int]]:
    """Chosen candidate rows and the units at each: greedy MEXCLP, interchange, workload."""
    n_cand = eta_s.shape[0]
    n = min(p.n_stations, n_cand)
    covers = (eta_s <= p.threshold_s).T  # (zones, candidates)
    chosen: list[int] = []
    counts = np.zeros(eta_s.shape[1])
    nearest = np.full(eta_s.shape[1], np.inf)
    for _ in range(n):
        gain = gain_of_adding(weights, counts, covers, p.busy_q)
        median = (weights * np.minimum(nearest[None, :], eta_s)).sum(axis=1)  # p-median cost
        gain[chosen] = -np.inf
        best = max(range(n_cand), key=lambda c: (round(float(gain[c]), 12), -median[c], -c))
        chosen.append(best)
        counts += covers[:, best]
        nearest = np.minimum(nearest, eta_s[best])
    ones = [1] * len(chosen)
    score = expected_coverage(eta_s, weights, chosen, ones, p)
    for _ in range(p.swap_passes):
        improved = False
        for i in range(len(chosen)):
            for c in range(n_cand):
                if c in chosen:
                    continue
                trial = [*chosen[:i], c, *chosen[i + 1 :]]
                s = expected_coverage(eta_s, weights, trial, ones, p)
                if s > score + 1e-12:
                    chosen, score, improved = trial, s, True
        if not improved:
            break
    return chosen, allocate_units(first_demand(eta_s, weights, chosen), p.n_units)


def first_demand(eta_s: F64, weights: F64, sites: list[int]) -> F64:
    """Each site's share of the demand it is nearest to by road."""
    first = np.argmin(eta_s[sites], axis=0)
    out: F64 = np.bincount(first, weights=weights, minlength=len(sites)) / weights.sum()
    return out


def allocate_units(demand: F64, n_units: int) -> list[int]:
    """Units per station in proportion to demand: one each, the rest by largest remainder."""
    spare = n_units - demand.shape[0]
    quota = demand / demand.sum() * spare
    units = np.floor(quota).astype(np.int64)
    rest = spare - int(units.sum())
    order = sorted(range(demand.shape[0]), key=lambda i: (-(quota[i] - units[i]), i))
    for i in order[:rest]:
        units[i] += 1
    return [int(u) + 1 for u in units]


def deal_als(units: list[int], demand: F64, share: float) -> list[int]:
    """ALS units per station: one each, busiest station first, round again if more remain."""
    left = round(share * sum(units))
    als = [0] * len(units)
    order = sorted(range(len(units)), key=lambda i: (-float(demand[i]), i))
    while left > 0 and any(a < u for a, u in zip(als, units, strict=True)):
        for i in order:
            if left and als[i] < units[i]:
                als[i] += 1
                left -= 1
    return als


def stations_for(router: Router, zones: Zones, p: PlacementParams) -> list[Station]:
    """Place stations on a network and describe them as Station rows."""
    eta = site_matrix(router, zones)
    weights = zones.mean_weights()
    sites, units = place(eta, weights, p)
    als = deal_als(units, first_demand(eta, weights, sites), p.als_share)
    return [
        Station(
            f"S{k + 1:02d}",
            round(float(zones.lonlat[s, 1]), 6),
            round(float(zones.lonlat[s, 0]), 6),
            u,
            a,
        )
        for k, (s, u, a) in enumerate(zip(sites, units, als, strict=True))
    ]


def random_sites(n_cand: int, n: int, rng: np.random.Generator) -> list[int]:
    """n distinct candidate rows at random (the baseline a placement must beat)."""
    picked: I64 = rng.choice(n_cand, size=n, replace=False)
    return [int(v) for v in picked]


def write_stations(stations: Sequence[Station], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for s in stations:
            w.writerow(
                [s.station_id, f"{s.lat:.6f}", f"{s.lon:.6f}", s.units, s.als_units, "synthetic"]
            )


def read_stations(path: Path) -> list[Station]:
    """Stations from a CSV in the bundled layout; ValueError names the bad row."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for i, row in enumerate(rows, start=2):
        try:
            out.append(
                Station(
                    row["station_id"],
                    float(row["lat"]),
                    float(row["lon"]),
                    int(row["units"]),
                    int(row["als_units"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{i}: bad station row: {exc}") from exc
    if not out:
        raise ValueError(f"{path}: no station")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the SYNTHETIC station file (deterministic: no random draw is involved)."""
    from routing.load import data_dir, load_network
    from simulator.world.rhythm import Rhythm, apply_period, road_classes
    from simulator.world.zones import build_zones

    ap = argparse.ArgumentParser(prog="python -m simulator.world.stations", description=__doc__)
    ap.add_argument("--network", default="hangzhou")
    ap.add_argument("--stations", type=int, default=PlacementParams.n_stations)
    ap.add_argument("--units", type=int, default=PlacementParams.n_units)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    params = PlacementParams(n_stations=args.stations, n_units=args.units)
    net, _ = load_network(args.network)
    router = Router(net)
    # Placed for daytime traffic, when most calls come.
    apply_period(router, road_classes(net), Rhythm().factors("day"))
    stations = stations_for(router, build_zones(net), params)
    out = args.out or data_dir() / STATIONS_CSV
    write_stations(stations, out)
    print(f"{len(stations)} stations, {sum(s.units for s in stations)} units -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
