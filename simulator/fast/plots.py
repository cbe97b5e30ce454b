"""The policy study's pictures: response-time distributions, coverage maps, utilisation.

Three PNG files in one folder, every policy on each, averaged over the seeds:

- `response-times.png`: the distribution (ECDF) of call-to-scene times, all calls and P1,
  with the 8- and 12-minute marks;
- `coverage-map.png`: per policy, each zone coloured by the share of the run an idle unit
  could drive there within 8 minutes (`--map-minutes`); stations marked;
- `utilisation.png`: the share of units committed to a call, and the demand-weighted share of
  the city within 8 minutes of an idle unit, over the run (30-minute rolling means).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from dispatch.core.model import Priority
from simulator.fast.metrics import LATE_S, WITHIN_S, RunResult
from simulator.world.scenario import World


def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_all(runs: dict[str, list[RunResult]], world: World, out: Path, title: str) -> list[Path]:
    """Write the three PNGs into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        response_times(runs, out / "response-times.png", title),
        coverage_map(runs, world, out / "coverage-map.png", title),
        utilisation(runs, out / "utilisation.png", title, world.params.map_threshold_s / 60),
    ]


def response_times(runs: dict[str, list[RunResult]], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110, sharey=True)
    for ax, only_p1 in zip(axes, (False, True), strict=True):
        for name, rs in runs.items():
            t = np.array(
                [
                    r.response_s
                    for run in rs
                    for r in run.records
                    if not only_p1 or r.priority is Priority.P1
                ]
            )
            t = np.sort(np.where(np.isfinite(t), t, np.inf)) / 60.0
            if t.size:
                ax.step(t, np.arange(1, t.size + 1) / t.size, where="post", label=name)
        for mark in WITHIN_S:
            ax.axvline(mark / 60.0, color="grey", lw=0.8, ls=":" if mark < LATE_S else "--")
        ax.set_xlim(0, 25)
        ax.set_ylim(0, 1)
        ax.set_xlabel("call to on scene (min)")
        ax.set_title("P1 calls" if only_p1 else "all calls")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of calls reached")
    axes[1].legend(loc="lower right")
    fig.suptitle(f"Response-time distribution — {title}", fontsize=10)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def coverage_map(runs: dict[str, list[RunResult]], world: World, path: Path, title: str) -> Path:
    plt = _pyplot()
    zones = world.zones
    minutes = world.params.map_threshold_s / 60
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.6), dpi=110, squeeze=False)
    shares = {
        k: np.mean([r.zone_covered_s / r.horizon_s for r in rs], axis=0) for k, rs in runs.items()
    }
    low = min(float(np.quantile(v, 0.05)) for v in shares.values())
    vmin = max(0.0, min(0.9, np.floor(low * 20) / 20))  # 5 % steps; most zones in colour
    scatter = None
    for ax, (name, rs) in zip(axes[0], runs.items(), strict=True):
        scatter = ax.scatter(
            zones.lonlat[:, 0],
            zones.lonlat[:, 1],
            c=shares[name],
            vmin=vmin,
            vmax=1,
            cmap="RdYlGn",
            marker="s",
            s=38,
        )
        lon = [s.lon for s in world.stations]
        lat = [s.lat for s in world.stations]
        ax.plot(lon, lat, "k^", ms=5, label="station")
        demand = float(np.mean([r.covered_demand.mean() for r in rs]))
        ax.set_title(f"{name}: demand covered {100 * demand:.1f} %", fontsize=9)
        ax.set_aspect(1 / np.cos(np.radians(float(zones.lonlat[:, 1].mean()))))
        ax.tick_params(labelsize=7)
    if scatter is not None:
        fig.colorbar(
            scatter,
            ax=axes[0].tolist(),
            shrink=0.8,
            label=f"share of time an idle unit is ≤ {minutes:g} min away",
        )
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"Coverage by an idle unit within {minutes:g} min — {title}", fontsize=10)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def utilisation(
    runs: dict[str, list[RunResult]], path: Path, title: str, minutes: float = 8.0
) -> Path:
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), dpi=110, sharex=True)
    for name, rs in runs.items():
        t = rs[0].sample_at_s / 3600.0
        busy = np.mean([r.busy_units / r.n_units for r in rs], axis=0)
        covered = np.mean([r.covered_demand for r in rs], axis=0)
        step = float(rs[0].sample_at_s[1] - rs[0].sample_at_s[0]) if t.size > 1 else 60.0
        k = max(1, round(1800.0 / step))
        top.plot(t, 100 * _rolling(busy, k), label=name, lw=1.2)
        bottom.plot(t, 100 * _rolling(covered, k), label=name, lw=1.2)
    top.set_ylabel("units committed (%)")
    bottom.set_ylabel(f"demand ≤ {minutes:g} min of an idle unit (%)")
    bottom.set_xlabel("simulated hours from midnight")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(loc="upper left")
    top.set_title(f"Utilisation and coverage over time — {title}", fontsize=10)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _rolling(v: np.ndarray, k: int) -> np.ndarray:
    """Trailing mean over k samples (shorter at the start)."""
    c = np.cumsum(np.concatenate([[0.0], v]))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(idx - k, 0)
    out: np.ndarray = (c[idx] - c[lo]) / (idx - lo)
    return out
