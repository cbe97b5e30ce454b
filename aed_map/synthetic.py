"""A SYNTHETIC, seeded AED registry for the bundled Hangzhou network (tests and the demo).

No row describes a real defibrillator. Public AEDs cluster where people gather: metro
stations, malls, offices, schools, sports venues, hospitals. Those sit along the big roads, so
sites are drawn at junctions of two or more named roads, weighted towards fast roads and the
dense centre around Wulin Square, at least `MIN_SITE_SPACING_M` apart, and each AED is set
back 25-90 m from its junction (buildings stand back from the kerb). Each kind of site has
its own hours (metro 06:00-23:30, malls 10:00-22:00, offices on weekdays, ...); a few carry
the free-text hours real registries hold, so "unknown" is exercised.

    python -m aed_map.synthetic --out data/aed/hangzhou_aeds_synthetic.csv --seed 20261206
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aed_map.registry import Access, Aed, AedId, write_csv
from routing.network import EARTH_RADIUS_M, F64, I64, RoadNetwork

DEG_M = EARTH_RADIUS_M * math.pi / 180.0  # metres per degree of latitude
CENTRE_LONLAT = (120.1636, 30.2745)  # Wulin Square, the busiest part of the bundled box
CENTRE_SCALE_M = 2_500.0  # site weight falls by e every 2.5 km from the centre
FAST_KPH = 45.0  # an edge at least this fast (ambulance free-flow) counts as a major road
MIN_SITE_SPACING_M = 200.0
SETBACK_M = (25.0, 90.0)
DEFAULT_SEED = 20261206
#: Free-text hours seen in real registries; none is valid OSM, so each reads as unknown.
UNREADABLE_HOURS = ("工作日 9:00-17:00", "营业时间内", 'Mo-Fr 08:30-17:30 "需联系保安"', "")
P_UNREADABLE = 0.06


@dataclass(frozen=True)
class Kind:
    """One kind of site: how common, its hours, and how its AEDs are tagged."""

    key: str
    weight: float
    hours: tuple[str, ...]  # drawn uniformly
    indoor: bool
    levels: tuple[str, ...]
    access: tuple[Access, ...]
    operator: str
    description: str
    locations: tuple[str, ...]
    per_site: int = 1


KINDS = (
    Kind("metro", 0.13, ("06:00-23:30",), True, ("-1",), (Access.YES,), "地铁运营方",
         "地铁站站厅", ("A 口附近客服中心旁", "B 口内客服中心旁", "C 口闸机外"), 2),
    Kind("mall", 0.13, ("10:00-22:00", "Mo-Th 10:00-22:00; Fr-Su 10:00-22:30"), True,
         ("0", "1", "2", "3"), (Access.CUSTOMERS,), "商场物业", "购物中心",
         ("服务台旁", "中庭电梯口", "卫生间通道口"), 2),
    Kind("office", 0.17, ("Mo-Fr 08:30-18:00", "Mo-Fr 08:00-19:00; Sa 09:00-12:00"), True,
         ("0",), (Access.PERMISSIVE, Access.PERMISSIVE, Access.PRIVATE), "写字楼物业",
         "写字楼", ("大堂前台", "大堂消防栓旁")),
    Kind("school", 0.11, ("Mo-Fr 07:30-17:30; PH off",), True, ("0", "1"),
         (Access.PERMISSIVE, Access.PRIVATE), "校方", "学校", ("医务室", "体育馆入口")),
    Kind("sports", 0.07, ("06:00-22:00", "Mo-Fr 06:30-21:30; Sa-Su 07:00-21:00"), True,
         ("0",), (Access.YES,), "体育场馆", "体育馆", ("入口大厅", "游泳馆前台")),
    Kind("hospital", 0.07, ("24/7",), True, ("0",), (Access.YES,), "医院", "医院门诊楼",
         ("门诊大厅导医台旁", "急诊入口")),
    Kind("clinic", 0.07, ("Mo-Fr 08:00-17:00; Sa 08:00-12:00",), True, ("0",),
         (Access.YES,), "社区卫生服务中心", "社区卫生服务中心", ("一楼挂号处旁",)),
    Kind("hotel", 0.06, ("24/7",), True, ("0",), (Access.CUSTOMERS,), "酒店", "酒店",
         ("大堂前台",)),
    Kind("nightlife", 0.04, ("10:00-02:00", "Mo-Th 18:00-01:00; Fr-Sa 18:00-03:00"), True,
         ("0", "1"), (Access.CUSTOMERS,), "娱乐场所", "影院与 KTV", ("前台",)),
    Kind("bank", 0.05, ("Mo-Fr 09:00-17:00",), True, ("0",), (Access.PERMISSIVE,), "银行",
         "银行网点", ("营业厅大堂",)),
    Kind("outdoor", 0.07, ("24/7",), False, ("",), (Access.YES,), "街道办事处",
         "户外 AED 柜", ("公交站旁 AED 柜", "公园入口 AED 柜", "广场东侧 AED 柜")),
    Kind("police", 0.03, ("24/7",), True, ("0",), (Access.YES,), "公安", "派出所",
         ("值班室",)),
)  # fmt: skip


def candidate_sites(net: RoadNetwork) -> tuple[I64, F64]:
    """Junction nodes of two or more named roads at least one of which is fast, and weights.

    Weight = (1 + fast named roads at the node) * exp(-distance to the centre / 2.5 km).
    """
    named = net.edge_name >= 0
    kph = net.length_m / np.maximum(net.base_time_s, 1e-9) * 3.6
    node = np.concatenate([net.edge_tail[named], net.edge_head[named]]).astype(np.int64)
    name = np.concatenate([net.edge_name[named], net.edge_name[named]]).astype(np.int64)
    fast = np.concatenate([kph[named], kph[named]]) >= FAST_KPH
    pairs, inv = np.unique(node << 20 | name, return_inverse=True)  # one per (node, street)
    pair_fast = np.zeros(pairs.shape[0], dtype=bool)
    np.logical_or.at(pair_fast, inv.ravel(), fast)
    n_names = np.bincount(pairs >> 20, minlength=net.n_nodes)
    n_fast = np.bincount(pairs >> 20, weights=pair_fast, minlength=net.n_nodes)
    ok = np.flatnonzero((n_names >= 2) & (n_fast >= 1)).astype(np.int64)
    x_m, y_m = _to_xy_m(net.node_lonlat[ok])
    weight = (1.0 + n_fast[ok]) * np.exp(-np.hypot(x_m, y_m) / CENTRE_SCALE_M)
    return ok, weight.astype(np.float64)


def make_registry(net: RoadNetwork, rng: np.random.Generator, n_aeds: int = 220) -> list[Aed]:
    """About `n_aeds` SYNTHETIC AEDs at junction sites (see the module docstring)."""
    nodes, weight = candidate_sites(net)
    kinds_p = np.array([k.weight for k in KINDS]) / sum(k.weight for k in KINDS)
    # A weighted random order of all candidates: heavier junctions tend to come first.
    n = nodes.shape[0]
    order = np.asarray(rng.choice(n, size=n, replace=False, p=weight / weight.sum()))
    site_xy: list[tuple[float, float]] = []
    aeds: list[Aed] = []
    for i in order:
        if len(aeds) >= n_aeds:
            break
        xs, ys = _to_xy_m(net.node_lonlat[nodes[i]][None, :])
        x, y = float(xs[0]), float(ys[0])
        if any(math.hypot(x - a, y - b) < MIN_SITE_SPACING_M for a, b in site_xy):
            continue
        site_xy.append((x, y))
        kind = KINDS[int(rng.choice(len(KINDS), p=kinds_p))]
        hours = kind.hours[int(rng.integers(len(kind.hours)))]
        if rng.random() < P_UNREADABLE:
            hours = UNREADABLE_HOURS[int(rng.integers(len(UNREADABLE_HOURS)))]
        access = kind.access[int(rng.integers(len(kind.access)))]
        for _ in range(min(kind.per_site, n_aeds - len(aeds))):
            setback = rng.uniform(*SETBACK_M)
            angle = rng.uniform(0.0, 2.0 * math.pi)
            lon, lat = _to_lonlat(x + setback * math.cos(angle), y + setback * math.sin(angle))
            aeds.append(
                Aed(
                    id=AedId(f"SYN-AED-{len(aeds) + 1:04d}"),
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    indoor=kind.indoor,
                    level=kind.levels[int(rng.integers(len(kind.levels)))],
                    opening_hours=hours,
                    access=access,
                    operator=kind.operator,
                    description=kind.description,
                    location=kind.locations[int(rng.integers(len(kind.locations)))],
                    source="synthetic",
                )
            )
    return aeds


def _to_xy_m(lonlat: F64) -> tuple[F64, F64]:
    """Metres east and north of the centre (equirectangular; fine over a city)."""
    kx = DEG_M * math.cos(math.radians(CENTRE_LONLAT[1]))
    return (lonlat[:, 0] - CENTRE_LONLAT[0]) * kx, (lonlat[:, 1] - CENTRE_LONLAT[1]) * DEG_M


def _to_lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    kx = DEG_M * math.cos(math.radians(CENTRE_LONLAT[1]))
    return CENTRE_LONLAT[0] + x_m / kx, CENTRE_LONLAT[1] + y_m / DEG_M


def hangzhou_registry(seed: int = DEFAULT_SEED, n_aeds: int = 220) -> list[Aed]:
    """The SYNTHETIC registry over the bundled Hangzhou network (loads the network)."""
    from routing.load import load_network  # the I/O shell; kept off make_registry's path

    net, _ = load_network("hangzhou")
    return make_registry(net, np.random.default_rng(seed), n_aeds)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the SYNTHETIC Hangzhou AED registry as CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=220)
    args = parser.parse_args(argv)
    aeds = hangzhou_registry(args.seed, args.count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        write_csv(aeds, f)
    print(f"wrote {len(aeds)} SYNTHETIC AEDs to {args.out}")


if __name__ == "__main__":
    main()
