"""Start-up benchmark: placing a generated fleet's stations, and a cached start on Hangzhou.

Targets it guards (issue 18 item 6; the `target` column, values in `benchmarks/targets.toml`
[startup]):

1. Station placement (`dispatch.core.fleet.demo_fleet`: k-means over the network's nodes with
   scipy's `kmeans2`, stations moved onto nodes with a k-d tree) for 20, 200 and 1000 units on
   Hangzhou (39,059 nodes): 1000 units in under 1 s, with a tracemalloc peak under 50 MB
   (tracemalloc sees numpy's buffers, not the k-d tree's own C++ nodes, ~1 MB here).
   Named peer, same run, same seed: the brute-force placement it replaced (`brute_force_
   station_lonlat` below, copied from the old `dispatch/fleet.py`: a nodes x stations x 2
   array every round), 8 s and ~600 MB for 1000 units when it was measured for the issue.
   Answer check: both place every station on the same node (same seeded start, same rounds).
2. A cached start: a fresh Python process that imports the routing core and the fleet, loads
   Hangzhou from the compiled cache (`load_network`), loads the search kernels
   (`Router.warm_up`) and places the default 20-unit fleet: under 3 s, timed from outside the
   process (interpreter start included). The in-process cached `load_network` time is its own
   row, reported, next to the cold compile from the CSVs.

`--quick` (CI, < 30 s): ours 3 times per size; the peer at 20 and 200 units only (1000 takes
it 8 s and ~600 MB); one fresh-process start. Absolute times are shown, not judged; the memory
ceiling and the answer check are judged.

    python -m benchmarks.bench_startup [--quick]     (exit 1 when a judged target is missed)
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import targets
from benchmarks.timing import NO_PEER, Row, Timing, close_report, machine_info, time_calls
from dispatch.core.fleet import KMEANS_ROUNDS, UNITS_PER_STATION, station_lonlat
from routing.load import load_network
from routing.network import RoadNetwork

ROOT = Path(__file__).resolve().parents[1]
SIZES = (20, 200, 1000)  # units; stations = ceil(units / 2)
SEED = 0  # the server's fleet seed
MB = 1e6

#: What a second start of the server does before it can take calls, minus the HTTP shell.
START_SNIPPET = """
from dispatch.core.fleet import demo_fleet
from routing.load import load_network
from routing.router import Router
net, report = load_network("hangzhou")
assert report.cached, "the start was not cached"
Router(net).warm_up()
demo_fleet(net, 20)
"""


@dataclass(frozen=True)
class Plan:
    reps: int  # timed placements of ours per size
    peer_reps: int  # timed placements of the peer per size it runs
    peer_sizes: tuple[int, ...]
    starts: int  # fresh-process cached starts
    judged: bool


FULL = Plan(reps=5, peer_reps=1, peer_sizes=SIZES, starts=5, judged=True)
QUICK = Plan(reps=3, peer_reps=1, peer_sizes=(20, 200), starts=1, judged=False)


def say(text: str) -> None:
    print(text, flush=True)


def brute_force_station_lonlat(net: RoadNetwork, k: int, seed: int = 0) -> np.ndarray:
    """The placement before issue 18: the same k-means, a nodes x stations array every round."""
    pts = net.node_lonlat
    n = pts.shape[0]
    k = min(k, n)
    rng = np.random.default_rng(seed)
    scale = np.array([math.cos(math.radians(float(pts[:, 1].mean()))), 1.0])
    xy = pts * scale
    centres = xy[rng.choice(n, size=k, replace=False)]
    for _ in range(KMEANS_ROUNDS):
        nearest = np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for c in range(k):
            members = xy[nearest == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    nodes = np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=0)
    out: np.ndarray = pts[nodes]
    return out


def peak_mb(fn: Callable[[], object]) -> float:
    """The tracemalloc peak (MB) of one call: numpy reports its buffers to tracemalloc."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MB


def place(
    name: str,
    fn: Callable[[RoadNetwork, int, int], np.ndarray],
    net: RoadNetwork,
    units: int,
    reps: int,
) -> tuple[Timing, np.ndarray, float]:
    """Time `reps` placements of `units` units' stations; the stations and the peak MB."""
    k = math.ceil(units / UNITS_PER_STATION)
    timing, out = time_calls(f"{name}, {units} units", lambda _: fn(net, k, SEED), range(reps))
    return timing, out[0], peak_mb(lambda: fn(net, k, SEED))


def fresh_start_s(cache: Path) -> float:
    """Wall seconds of one fresh process doing a cached start (`START_SNIPPET`)."""
    env = {**os.environ, "JIJIU_CACHE_DIR": str(cache)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", START_SNIPPET], env=env, cwd=ROOT, check=True)
    return time.perf_counter() - t0


def run(quick: bool = False) -> dict[str, Any]:
    """Time placement (ours and the brute force) and the cached start; print and return."""
    plan = QUICK if quick else FULL
    unjudged = None if plan.judged else targets.QUICK
    t_start = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "plan": asdict(plan), "machine": machine()}
    card = targets.Scorecard(targets.load("startup"), say)
    rows: list[Row] = []
    say(f"# Start-up benchmark ({'quick' if quick else 'full'} mode)")

    with tempfile.TemporaryDirectory(prefix="jijiu-bench-") as tmp:
        cache = Path(tmp)
        net, cold = load_network("hangzhou", cache=cache)
        cached, flags = time_calls(
            "cached load_network",
            lambda _: load_network("hangzhou", cache=cache)[1].cached,
            range(5),
        )
        assert all(flags) and not cold.cached
        starts = [fresh_start_s(cache) for _ in range(plan.starts)]
    start_s = float(np.median(starts))
    say(
        f"Hangzhou: {net.n_nodes:,} nodes; compiled in {cold.seconds:.2f} s, cached load p50 "
        f"{cached.p50_ms:.0f} ms; fresh-process start {', '.join(f'{s:.2f}' for s in starts)} s"
    )
    start_check = card.check("cached_start_s_max", start_s, unjudged=unjudged)
    rows += [
        Row.judged(
            f"cached start in a fresh process (median of {plan.starts})",
            f"{start_s:.2f} s",
            start_check,
            NO_PEER,
        ),
        Row(
            "load_network, cached vs cold",
            cached.text(),
            "cold compile (CSV)",
            f"{cold.seconds * 1e3:.0f} ms",
            cold.seconds * 1e3 / cached.p50_ms,
            target="reported",
        ),
    ]

    placement: dict[int, dict[str, Any]] = {}
    differing = 0
    for units in SIZES:
        ours, stations, ours_mb = place("kmeans2 + k-d tree", station_lonlat, net, units, plan.reps)
        rec: dict[str, Any] = {"ours": dict(ours.summary(), peak_mb=ours_mb), "peer": None}
        case = f"place {units} units ({len(stations)} stations)"
        say(f"\n{case}: ours p50 {ours.p50_ms:.0f} ms, peak {ours_mb:.1f} MB")
        if units == 1000:
            fast = card.check("placement_1000_s_max", ours.p50_ms / 1e3, unjudged=unjudged)
            small = card.check("placement_1000_peak_mb_max", ours_mb)
            rows.append(Row.judged(case, ours.text(), fast, NO_PEER))
            rows.append(
                Row.judged(f"{case}: tracemalloc peak", f"{ours_mb:.1f} MB", small, NO_PEER)
            )
        if units in plan.peer_sizes:
            peer, ref, peer_mb = place(
                "brute force", brute_force_station_lonlat, net, units, plan.peer_reps
            )
            moved = int(np.any(stations != ref, axis=1).sum())
            differing += moved
            ratio = peer.p50_ms / ours.p50_ms
            say(
                f"   brute force p50 {peer.p50_ms:.0f} ms, peak {peer_mb:.1f} MB: ratio "
                f"{ratio:,.3g}x; stations on other nodes: {moved}"
            )
            rec["peer"] = dict(peer.summary(), peak_mb=peer_mb, ratio=ratio, differing=moved)
            rows.append(Row(case, ours.text(), "brute force (old)", peer.text(), ratio))
            rows.append(
                Row(
                    f"{case}: tracemalloc peak",
                    f"{ours_mb:.1f} MB",
                    "brute force (old)",
                    f"{peer_mb:.1f} MB",
                    peer_mb / ours_mb,
                    target="reported",
                )
            )
        placement[units] = rec
    same = card.check("placement_stations_differing_max", differing)
    sizes = ", ".join(str(u) for u in plan.peer_sizes)
    rows.append(
        Row.judged(
            f"stations = brute force's ({sizes} units)",
            f"{differing} on other nodes",
            same,
            "brute force (old)",
        )
    )
    report.update(
        network={"nodes": net.n_nodes, "cold_s": cold.seconds, "cached": cached.summary()},
        starts_s=starts,
        cached_start_s=start_s,
        placement=placement,
    )
    close_report(report, rows, t_start, say, card)
    return report


def machine() -> dict[str, Any]:
    """Versions and CPU count, so a report says what it was measured on."""
    import scipy

    return machine_info(np, scipy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI smoke run)")
    args = parser.parse_args(argv)
    return 1 if run(quick=args.quick)["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
