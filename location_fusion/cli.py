"""`jijiu eval-location`: fuse SYNTHETIC calls on the bundled city and print how well it did.

The I/O shell of location fusion: loads the city (`routing.city`: the bundled Hangzhou by
default) with its network, named places and cell table (the bundled one is SYNTHETIC),
runs `location_fusion.evaluate` on one generator setting or all (`--setting NAME|all`,
`location_fusion.eval_settings`) over the held-out seeds with a progress bar, prints the
figures against the targets, with --report writes the Markdown report
(`location_fusion.eval_report`) and with --plot draws the error CDFs of fused vs the
baselines, one panel per setting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from location_fusion.cells import CellTable
from location_fusion.eval_report import checks, evaluate_settings, markdown
from location_fusion.eval_settings import HELD_OUT_SEEDS, PROJECT_SETTING, SETTINGS, setting_names
from location_fusion.evaluate import METHODS, AlarmSummary, MixSummary, Summary
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import Locator
from location_fusion.planted import DISAGREE_M
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
    named = [(p.name, p.lat, p.lon) for p in places]
    maker = CallMaker(net, gazetteer, list(cells), named)
    return maker, locator, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jijiu eval-location", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=2000, help="synthetic calls per setting")
    parser.add_argument(
        "--seed",
        type=int,
        default=HELD_OUT_SEEDS.start,
        help="first seed: call k uses seed + k (default: the held-out range)",
    )
    parser.add_argument("--setting", default=PROJECT_SETTING, help="a setting's name, or all")
    parser.add_argument("--network", default="hangzhou", help="bundled network name")
    parser.add_argument("--city", default="", help="a city folder (docs/city.md)")
    parser.add_argument("--plot", type=Path, default=None, help="write error CDFs to this PNG")
    parser.add_argument("--report", type=Path, default=None, help="write a Markdown report")
    args = parser.parse_args(argv)
    if not 1 <= args.calls <= 200_000:
        parser.error("--calls must be between 1 and 200000")
    try:
        names = setting_names(args.setting)
    except KeyError:
        parser.error(f"--setting must be one of {', '.join(SETTINGS)} or all")
    try:
        maker, locator, cells = build(args.network, args.city)
    except CityError as exc:
        print(f"jijiu eval-location: {exc}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    results = evaluate_settings(
        maker,
        locator,
        cells,
        names,
        args.calls,
        args.seed,
        progress=lambda name, it: iter(tqdm(it, total=args.calls, desc=name, file=sys.stderr)),
    )
    for name, (result, _) in results.items():
        print(report(result, args.calls, args.seed, name))
    summaries = {name: r for name, (r, _) in results.items()}
    if args.report is not None:
        text = markdown(summaries, args.calls, args.seed)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n", encoding="utf-8")
        print(f"\nreport    {args.report}")
    if args.plot is not None:
        plot_cdfs({n: [o.error_m for o in outs] for n, (_, outs) in results.items()}, args.plot)
        print(f"\nplot      {args.plot}")
    return 0


def report(result: dict[str, object], calls: int, seed: int, setting: str = PROJECT_SETTING) -> str:
    """The figures as a table, one row per method (SYNTHETIC calls, say so)."""
    lines = [
        f"SYNTHETIC evaluation: {calls} calls, seeds {seed}-{seed + calls - 1}, setting {setting}",
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
    alarm = result["alarm"]
    assert isinstance(alarm, AlarmSummary)
    lines.append(
        f"conflict alarm (planted truth, > {DISAGREE_M:.0f} m): precision {alarm.precision:.1%}, "
        f"recall {alarm.recall:.1%} ({alarm.conflicts} calls truly in conflict); false alarms "
        f"on clean calls {alarm.false_alarm_clean:.1%} of {alarm.clean}"
    )
    lines.append(
        f"calls with a biased GNSS fix ({result['biased_gnss_calls']}): within 50 m fused "
        f"{result['biased_gnss_fused_within_50m']:.1%}, GPS-only "
        f"{result['biased_gnss_gps_only_within_50m']:.1%}"
    )
    for c in checks(result, setting):
        lines.append(f"  {'ok  ' if c.passed else 'MISS'} {c.name}: {c.value:.3g} ({c.target})")
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


def plot_cdfs(errors: dict[str, list[dict[str, float]]], path: Path) -> None:
    """Error CDF per method on a log axis, with the 50 m line: one panel per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(errors), 4)
    rows = (len(errors) + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols + 1, 3.4 * rows + 0.6), dpi=100, squeeze=False
    )
    for ax in axes.ravel()[len(errors) :]:
        ax.set_visible(False)
    for ax, (name, errs) in zip(axes.ravel(), errors.items(), strict=False):
        for m in METHODS:
            e = np.sort(np.array([x[m] for x in errs]))
            share = np.arange(1, e.size + 1) / e.size
            ok = np.isfinite(e)
            ax.step(
                np.maximum(e[ok], 0.5),
                share[ok],
                where="post",
                label=m,
                lw=2 if m == "fused" else 1.1,
            )
        ax.axvline(50, color="#888", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlim(1, 5000)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name} ({len(errs)} calls)", fontsize=10)
        ax.set_xlabel("error (m)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of calls")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Location error on SYNTHETIC calls: fused vs baselines (dashed: 50 m)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
