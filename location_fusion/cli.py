"""`jijiu eval-location`: fuse SYNTHETIC calls on the bundled city and print how well it did.

The I/O shell of location fusion: loads the city (`routing.city`: the bundled Hangzhou by
default) with its network, named places and cell table (the bundled one is SYNTHETIC),
runs `location_fusion.evaluate` with a progress bar, prints the figures against the targets,
and with --plot draws the error CDFs of fused vs the baselines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from location_fusion.cells import CellTable
from location_fusion.evaluate import METHODS, MixSummary, Summary, run_calls, summarise
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import Locator
from location_fusion.readback import readback_for
from location_fusion.scenario import CallMaker
from routing.city import load_city_network, resolve_city
from routing.errors import CityError
from routing.router import Router

TARGETS = (
    "fused within 50 m >= 85 %; >= 30 points over cell-only; >= 10 points over GPS-only; "
    "95 % circle holds the truth in 90-98 % of calls; conflict recall >= 90 % at precision >= 80 %"
)


def build(network: str = "hangzhou", city: str = "") -> tuple[CallMaker, Locator, CellTable]:
    """A city's evaluation world: network, gazetteer, cells, places (the bundled city on
    `network` when `city` is ""); CityError when the city has no cell table or places."""
    spec = resolve_city(city, "" if city else network)
    if spec.cells is None or spec.places is None:
        raise CityError(f"{spec.folder}: the evaluation needs the cells and places layers")
    net, _ = load_city_network(spec)
    places = Gazetteer.load_places_csv(spec.places)
    gazetteer = Gazetteer.from_network(net, places, readback_for(spec.locale))
    cells = CellTable.load(spec.cells)
    locator = Locator(gazetteer, cells, Router(net))
    maker = CallMaker(net, gazetteer, list(cells), places)
    return maker, locator, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jijiu eval-location", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=2000, help="synthetic calls to fuse")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--network", default="hangzhou", help="bundled network name")
    parser.add_argument("--city", default="", help="a city folder (docs/city.md)")
    parser.add_argument("--plot", type=Path, default=None, help="write error CDFs to this PNG")
    args = parser.parse_args(argv)
    if not 1 <= args.calls <= 200_000:
        parser.error("--calls must be between 1 and 200000")
    try:
        maker, locator, cells = build(args.network, args.city)
    except CityError as exc:
        print(f"jijiu eval-location: {exc}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    outcomes = run_calls(
        maker,
        locator,
        cells,
        args.calls,
        args.seed,
        progress=lambda it: iter(tqdm(it, total=args.calls, desc="calls", file=sys.stderr)),
    )
    result = summarise(outcomes)
    print(report(result, args.calls, args.seed))
    if args.plot is not None:
        plot_cdfs([o.error_m for o in outcomes], args.plot)
        print(f"\nplot      {args.plot}")
    return 0


def report(result: dict[str, object], calls: int, seed: int) -> str:
    """The figures as a table, one row per method (SYNTHETIC calls, say so)."""
    lines = [
        f"SYNTHETIC evaluation: {calls} calls, seed {seed}, default scenario mix",
        f"{'method':<10} {'<=50 m':>7} {'median':>8} {'p90':>8} {'95% holds':>10} {'answered':>9}",
    ]
    for m in METHODS:
        s = result[m]
        assert isinstance(s, Summary)
        lines.append(
            f"{m:<10} {s.within_50m:>7.1%} {s.median_m:>6.0f} m {s.p90_m:>6.0f} m "
            f"{s.calibration:>10.1%} {s.answered:>9.1%}"
        )
    lines.append("fused per evidence mix (calls, <=50 m, 95% holds, median radius):")
    by_mix = result["by_mix"]
    assert isinstance(by_mix, dict)
    for mix, ms in by_mix.items():
        assert isinstance(ms, MixSummary)
        lines.append(
            f"  {mix:<24} {ms.calls:>6} {ms.within_50m:>7.1%} {ms.calibration:>10.1%} "
            f"{ms.median_radius_m:>6.0f} m"
        )
    lines.append(
        "good-sky GNSS: median 95% radius / claimed accuracy "
        f"{result['good_gnss_radius_ratio_median']:.2f} with the call's other evidence, "
        f"{result['lone_gnss_radius_ratio_median']:.2f} for the "
        "newest fix alone (target <= 3)"
    )
    lines.append(
        f"conflict alarm: precision {result['conflict_precision']:.1%}, recall "
        f"{result['conflict_recall']:.1%} ({result['conflicts']} calls truly in conflict)"
    )
    lines.append(
        f"spoken words alone: top candidate names the meant street/junction/place in "
        f"{result['speech_top1']:.1%} of {result['speech_phrases']} noisy phrases (target >= 90 %)"
    )
    lines.append(
        f"locate one call: p50 {result['locate_ms_p50']:.2f} ms, p99 "
        f"{result['locate_ms_p99']:.2f} ms (geocode + fuse + read-back + snap)"
    )
    lines.append(f"targets: {TARGETS}")
    return "\n".join(lines)


def plot_cdfs(errors: list[dict[str, float]], path: Path) -> None:
    """Error CDF per method on a log axis, with the 50 m line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for m in METHODS:
        e = np.sort(np.array([x[m] for x in errors]))
        share = np.arange(1, e.size + 1) / e.size
        ok = np.isfinite(e)
        ax.step(
            np.maximum(e[ok], 0.5), share[ok], where="post", label=m, lw=2 if m == "fused" else 1.2
        )
    ax.axvline(50, color="#888", ls="--", lw=1)
    ax.text(52, 0.03, "50 m", color="#555")
    ax.set_xscale("log")
    ax.set_xlabel("error (m)")
    ax.set_ylabel("share of calls")
    ax.set_ylim(0, 1)
    ax.set_title(f"Location error, {len(errors)} SYNTHETIC calls: fused vs baselines")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
