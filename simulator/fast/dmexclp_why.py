"""Why DMEXCLP loses here: the drive it spends on each P1 call, and late P1 in three settings.

    python -m simulator.fast.dmexclp_why --seeds 3 --out docs/img/dmexclp \\
        --csv hz=out/hz.csv --csv sf=out/sf.csv --csv exact-20=out/ex20.csv

Runs closest-idle and DMEXCLP on the same seeds of the default city and records, for every P1
call dispatched while some unit was idle, the road ETA of the unit sent, the ETA of the closest
idle unit at that moment, and whether the call was reached late (> 12 min from the call). The
first plot shows how far DMEXCLP's choice sits from the closest and from its threshold T; the
second, from `jijiu simulate --csv` files, late P1 per policy and setting with 95 % intervals.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dispatch.core.model import Priority
from routing.snap import Positions
from simulator.fast.engine import FastSim, RunParams
from simulator.fast.metrics import LATE_S
from simulator.fast.policies import Dmexclp, make_policy
from simulator.fast.study import CallSource
from simulator.stats import seed_interval
from simulator.world.scenario import World


def choices(
    world: World, policy: str, seed: int, run: RunParams
) -> list[tuple[float, float, bool]]:
    """(ETA sent, ETA of the closest idle unit, reached late) per P1 call dispatched at once."""
    calls = CallSource().calls(world, seed, run)
    sim = FastSim(world, make_policy(policy), calls, seed, run)
    seen: dict[int, tuple[float, float]] = {}
    original = sim._assign

    def record(i: int, u: int, drive_s: float) -> None:
        if calls[i].priority is Priority.P1:
            idle = sim.idle()
            pos = Positions.of([sim.engine.units[sim.ids[v]].position for v in idle])
            inc = sim.engine.incidents[calls[i].incident_id]
            best = world.router.rank(pos, inc.position, 1)
            seen[i] = (drive_s, best[0].eta_s if best else drive_s)
        original(i, u, drive_s)

    sim._assign = record  # type: ignore[method-assign]
    result = sim.run()
    late = {r.incident_id: not (r.response_s <= LATE_S) for r in result.records}
    return [
        (sent, closest, late[calls[i].incident_id])
        for i, (sent, closest) in seen.items()
        if calls[i].incident_id in late
    ]


def plot_choices(rows: dict[str, list[tuple[float, float, bool]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    bins = [float(b) for b in range(0, 900, 30)]
    for name, r in rows.items():
        sent = np.array([s for s, _, _ in r])
        late = np.mean([x for _, _, x in r]) * 100
        ax.hist(
            sent,
            bins,
            histtype="step",
            lw=2,
            label=f"{name}: ETA of the unit sent ({late:.1f} % late)",
        )
    ax.axvline(Dmexclp().threshold_s, color="black", ls="--", lw=1, label="DMEXCLP's T (560 s)")
    ax.set_xlabel("road ETA of the unit sent to a P1 call (s)")
    ax.set_ylabel("P1 calls")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def plot_settings(files: dict[str, Path], path: Path) -> None:
    """Late P1 per policy and setting from `jijiu simulate --csv` files, t 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, dict[str, list[float]]] = {}
    for setting, f in files.items():
        with f.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                by.setdefault(row["policy"], {}).setdefault(setting, []).append(
                    100 * float(row["p1_late"])
                )
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    x = np.arange(len(files))
    width = 0.8 / max(len(by), 1)
    for k, (policy, vals) in enumerate(by.items()):
        means = [float(np.mean(vals[s])) for s in files]
        cis = [seed_interval(vals[s]) for s in files]
        err = [
            [m - (c[0] if c else m) for m, c in zip(means, cis, strict=True)],
            [(c[1] if c else m) - m for m, c in zip(means, cis, strict=True)],
        ]
        ax.bar(x + (k - (len(by) - 1) / 2) * width, means, width, yerr=err, capsize=3, label=policy)
    ax.set_xticks(x, list(files))
    ax.set_ylabel("late P1 (> 12 min), % (mean over seeds, 95 % interval)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m simulator.fast.dmexclp_why", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--out", type=Path, default=Path("docs/img/dmexclp"))
    ap.add_argument("--csv", action="append", default=[], metavar="SETTING=FILE")
    args = ap.parse_args(argv)
    from simulator.world.scenario import load_world

    world = load_world()
    run = RunParams(horizon_s=args.hours * 3600.0, sample_s=3600.0)
    rows: dict[str, list[tuple[float, float, bool]]] = {}
    for policy in ("closest-idle", "dmexclp"):
        rows[policy] = [x for s in range(1, args.seeds + 1) for x in choices(world, policy, s, run)]
        sent = np.array([s for s, _, _ in rows[policy]])
        extra = np.array([s - c for s, c, _ in rows[policy]])
        print(
            f"{policy}: {sent.size} P1 calls; ETA sent p50 {np.median(sent):.0f} s, "
            f"p90 {np.quantile(sent, 0.9):.0f} s; over the closest p50 {np.median(extra):.0f} s; "
            f"late {100 * np.mean([x for _, _, x in rows[policy]]):.1f} %"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    plot_choices(rows, args.out / "eta-sent.png")
    files = dict(item.split("=", 1) for item in args.csv)
    if files:
        plot_settings({k: Path(v) for k, v in files.items()}, args.out / "late-p1.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
