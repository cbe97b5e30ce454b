"""`jijiu demo` for the routing core: load the bundled city, rank 500 units, draw the answer.

Prints the network's size, the cold (parse + compile) and cached load times, and the five
fastest of 500 random units to a random incident with their ETAs and first streets, then
(with --plot) writes a picture of the network, the units and the winners' routes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from routing.load import load_network
from routing.route import Route
from routing.router import Router


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jijiu rank-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="hangzhou", help="bundled name or OSM file")
    parser.add_argument("--units", type=int, default=500, help="idle units to place")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG picture here")
    args = parser.parse_args(argv)
    if not 1 <= args.units <= 100_000:
        parser.error("--units must be between 1 and 100000")

    _, cold = load_network(args.network, use_cache=False)
    load_network(args.network)  # make sure the cache exists
    net, cached = load_network(args.network)
    t0 = time.perf_counter()
    router = Router(net)
    index_s = time.perf_counter() - t0
    meta = net.meta
    print(
        f"network   {meta.get('source')}: {net.n_nodes:,} nodes, {net.n_edges:,} edges "
        f"({meta['nodes_dropped']:,} nodes / {meta['edges_dropped']:,} edges dropped "
        f"outside the largest strongly connected part), {net.nbytes / 2**20:.1f} MiB"
    )
    print(
        f"load      cold {cold.seconds * 1e3:,.0f} ms (parse + compile), "
        f"cached {cached.seconds * 1e3:,.1f} ms, snapping index {index_s * 1e3:,.0f} ms"
    )

    rng = np.random.default_rng(args.seed)

    def near_nodes(n: int) -> np.ndarray:
        ll = net.node_lonlat[rng.integers(0, net.n_nodes, n)] + rng.normal(0, 3e-4, (n, 2))
        return np.asarray(ll)

    unit_ll = near_nodes(args.units)
    units = router.snap_many(unit_ll[:, 1], unit_ll[:, 0])
    inc_ll = near_nodes(1)[0]
    incident = router.snap(float(inc_ll[1]), float(inc_ll[0]))
    router.rank(units, incident, k=5)  # first call compiles nothing new, warms caches
    t0 = time.perf_counter()
    ranked = router.rank(units, incident, k=5)
    rank_ms = (time.perf_counter() - t0) * 1e3
    print(
        f"incident  lat {incident.lat:.5f}, lon {incident.lon:.5f} "
        f"(snapped {incident.snap_distance_m:.0f} m)"
    )
    print(
        f"\n5 fastest of {args.units} random units ({rank_ms:.2f} ms, one reverse search, "
        f"{router.space.last_settled:,} nodes settled):"
    )
    print(f"  {'#':>2} {'unit':>5} {'ETA':>7} {'distance':>9}  first streets")
    routes = []
    for i, r in enumerate(ranked, 1):
        route = r.route(net)
        routes.append(route)
        streets = " → ".join(leg.name or "unnamed" for leg in route.legs[:3])
        print(f"  {i:>2} {r.unit:>5} {_mmss(r.eta_s):>7} {r.distance_m:>7,.0f} m  {streets}")
    if args.plot is not None:
        _plot(router, unit_ll, (incident.lon, incident.lat), routes, args.plot)
        print(f"\npicture   {args.plot}")
    return 0


def _mmss(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _plot(
    router: Router,
    unit_ll: np.ndarray,
    incident: tuple[float, float],
    routes: list[Route],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    net = router.net
    segs = np.stack([net.node_lonlat[net.edge_tail], net.node_lonlat[net.edge_head]], axis=1)
    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=110)
    ax.add_collection(LineCollection(list(segs), colors="#c8ccd2", linewidths=0.4))
    ax.scatter(unit_ll[:, 0], unit_ll[:, 1], s=6, c="#2b6cb0", label="idle units", zorder=2)
    colors = ["#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    for i, route in enumerate(routes):
        ax.plot(
            route.lonlat[:, 0],
            route.lonlat[:, 1],
            color=colors[i % 5],
            lw=2.2,
            zorder=3,
            label=f"#{i + 1}  {_mmss(route.eta_s)}  {route.length_m / 1000:.1f} km",
        )
    ax.scatter(*incident, marker="*", s=260, c="black", zorder=4, label="incident")
    ax.set_aspect(1 / np.cos(np.radians(float(net.node_lonlat[:, 1].mean()))))
    ax.autoscale()
    ax.set_title(
        f"jijiu: the 5 fastest of {len(unit_ll)} units by road ETA ({net.n_nodes:,}-node network)"
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower left", fontsize=8)
    ax.text(
        1.0,
        -0.08,
        "© OpenStreetMap contributors (ODbL)",
        transform=ax.transAxes,
        ha="right",
        fontsize=7,
        color="#666",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
