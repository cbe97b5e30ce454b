"""The headline study's plots: before/after bars, the causes, and the pooled distributions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulator.studies.headline import SeedResult, difference, figure
from simulator.studies.headline_report import CAUSE_LABEL, ROWS
from simulator.studies.headline_world import CAUSES


def plot(results: Sequence[SeedResult], folder: Path) -> list[Path]:
    """Two PNGs: before/after bars of the timed figures with intervals, and the cause bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    timed = [r for r in ROWS if r.unit == "s"]
    x = np.arange(len(timed))
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for k, (variant, colour) in enumerate((("before", "#999999"), ("after", "#1f77b4"))):
        es = [figure(results, variant, r.key) for r in timed]
        y = [e.mean for e in es]
        err = [
            [max(e.mean - e.lo, 0.0) if e.lo is not None else 0.0 for e in es],
            [max(e.hi - e.mean, 0.0) if e.hi is not None else 0.0 for e in es],
        ]
        ax.bar(x + (k - 0.5) * 0.38, y, 0.38, yerr=err, capsize=3, color=colour, label=variant)
    ax.set_xticks(x, [r.label.replace(", ", "\n") for r in timed], fontsize=8)
    ax.set_ylabel("seconds (mean over seeds, 95 % interval)")
    ax.set_title("Before (voice) and after (one tap) on the same calls")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    first = folder / "before-after.png"
    fig.savefig(first, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    width = 0.8 / len(CAUSES)
    for k, cause in enumerate(CAUSES):
        es = [difference(results, f"+{cause}", "before", r.key) for r in timed]
        y = [e.mean for e in es]
        err = [
            [max(e.mean - e.lo, 0.0) if e.lo is not None else 0.0 for e in es],
            [max(e.hi - e.mean, 0.0) if e.hi is not None else 0.0 for e in es],
        ]
        ax.bar(x + (k - 1.5) * width, y, width, yerr=err, capsize=2, label=CAUSE_LABEL[cause])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [r.label.replace(", ", "\n") for r in timed], fontsize=8)
    ax.set_ylabel("change against before (s), one cause switched on")
    ax.set_title("Where the change comes from")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    second = folder / "causes.png"
    fig.savefig(second, bbox_inches="tight")
    plt.close(fig)
    third = folder / "distributions.png"
    _cdfs(results, third)
    return [first, second, third]


def _cdfs(results: Sequence[SeedResult], path: Path) -> None:
    """Pooled over seeds: the call-to-arrival CDF and the location error CDF, before/after."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for variant, colour in (("before", "#999999"), ("after", "#1f77b4")):
        arrival = np.sort([a for r in results if r.variant == variant for a in r.arrival_s])
        error = np.sort([e for r in results if r.variant == variant for e in r.error_m])
        for ax, v, scale in ((left, arrival, 60.0), (right, error, 1.0)):
            if v.size:
                ax.plot(v / scale, np.arange(1, v.size + 1) / v.size, color=colour, label=variant)
    left.set_xlabel("call to arrival (min)")
    left.set_xlim(0, 25)
    right.set_xlabel("location error (m)")
    right.set_xscale("log")
    right.axvline(50, color="black", lw=0.8, ls="--")
    for ax in (left, right):
        ax.set_ylabel("share of calls")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
