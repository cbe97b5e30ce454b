"""What a run measured, its digest, and the policy table over seeds with confidence intervals.

Definitions (times from the call being received, `CALL_RECEIVED`, to the first unit on scene,
`ON_SCENE`, NEMSIS eTimes.01 to eTimes.06):

- response time: call to on scene, for every call received in [0, horizon);
- P1 within 8 / 12 min: share of P1 calls with a response time <= 480 s / <= 720 s;
- late P1: share of P1 calls with a response time > 720 s (12 min, the urban target used here;
  a call never reached before the run ends counts as late);
- utilisation: the share of unit-hours in [0, horizon) committed to a call (from the unit
  being notified to it being available again; driving back to a station is idle time);
- coverage ("demand covered"): the demand-weighted share of zones an idle unit can drive to
  within 8 min (`ScenarioParams.map_threshold_s`), averaged over the run's minutes.

Each figure is computed per seed; the table gives the mean over seeds with a Student-t 95 %
interval (`simulator.stats.seed_interval`), and for two policies on the same seeds (the same
calls: common random numbers) the interval of their paired difference.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.core.model import Complaint, Priority
from routing.network import F64
from simulator.stats import seed_interval

LATE_S = 720.0
WITHIN_S = (480.0, 720.0)


@dataclass(frozen=True)
class Record:
    """One call's outcome (times absolute, seconds; NaN when it did not happen)."""

    incident_id: str
    at_s: float
    priority: Priority
    complaint: Complaint
    zone: int
    unit_id: str | None
    als: bool | None  # the unit sent was ALS
    assigned_at_s: float
    on_scene_at_s: float
    hospital_id: str | None

    @property
    def response_s(self) -> float:
        return self.on_scene_at_s - self.at_s


@dataclass(frozen=True)
class RunResult:
    policy: str
    seed: int
    horizon_s: float
    n_units: int
    records: tuple[Record, ...]  # calls received in [0, horizon)
    busy_s: F64  # (units,) committed seconds inside [0, horizon)
    sample_at_s: F64  # minute samples in [0, horizon)
    busy_units: F64  # units committed at each sample
    covered_demand: F64  # demand-weighted covered share at each sample
    zone_covered_s: F64  # (zones,) seconds each zone was covered

    @property
    def utilisation(self) -> float:
        return float(self.busy_s.sum() / (self.n_units * self.horizon_s))

    def digest(self) -> str:
        """SHA-256 of the outcome, times to the millisecond: equal runs, equal digests."""

        def ms(v: float) -> int | None:
            return None if math.isnan(v) else round(v * 1000)

        rows = [
            [
                r.incident_id,
                ms(r.at_s),
                int(r.priority),
                r.unit_id,
                ms(r.assigned_at_s),
                ms(r.on_scene_at_s),
                r.hospital_id,
            ]
            for r in self.records
        ]
        body = {
            "records": rows,
            "busy_ms": [ms(float(b)) for b in self.busy_s],
            "covered": [round(float(c), 9) for c in self.covered_demand],
        }
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def figures(run: RunResult) -> dict[str, float]:
    """The policy table's figures for one run (shares in 0..1, times in seconds)."""
    resp = np.array([r.response_s for r in run.records], dtype=np.float64)
    p1 = np.array([r.response_s for r in run.records if r.priority is Priority.P1])
    reached = resp[np.isfinite(resp)]
    p1_filled = np.where(np.isfinite(p1), p1, np.inf)
    als = [r.als for r in run.records if r.priority is Priority.P1 and r.als is not None]
    return {
        "calls": float(resp.size),
        "mean_s": float(reached.mean()) if reached.size else math.nan,
        "p90_s": float(np.quantile(reached, 0.9)) if reached.size else math.nan,
        "p1_mean_s": float(p1[np.isfinite(p1)].mean()) if np.isfinite(p1).any() else math.nan,
        "p1_within_8": _share(p1_filled <= WITHIN_S[0]),
        "p1_within_12": _share(p1_filled <= WITHIN_S[1]),
        "p1_late": _share(p1_filled > LATE_S),
        "p1_als": float(np.mean(als)) if als else math.nan,
        "utilisation": run.utilisation,
        "coverage": float(run.covered_demand.mean()) if run.covered_demand.size else math.nan,
    }


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else math.nan


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds and its 95 % interval (None with one seed)."""

    mean: float
    lo: float | None
    hi: float | None


def over_seeds(values: Sequence[float]) -> Estimate:
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return Estimate(math.nan, None, None)
    ci = seed_interval(v)
    return Estimate(float(np.mean(v)), *(ci if ci else (None, None)))


def paired(a: Sequence[RunResult], b: Sequence[RunResult], key: str) -> Estimate:
    """Mean and interval of figure `key` of a minus b, seed by seed (same seeds required)."""
    by_seed = {r.seed: figures(r)[key] for r in b}
    if sorted(by_seed) != sorted(r.seed for r in a):
        raise ValueError("paired comparison needs the same seeds on both sides")
    return over_seeds([figures(r)[key] - by_seed[r.seed] for r in a])


COLUMNS = (
    ("mean_s", "mean response", "min"),
    ("p90_s", "p90 response", "min"),
    ("p1_mean_s", "P1 mean", "min"),
    ("p1_within_8", "P1 ≤ 8 min", "%"),
    ("p1_within_12", "P1 ≤ 12 min", "%"),
    ("p1_late", "late P1 (> 12 min)", "%"),
    ("p1_als", "P1 first unit ALS", "%"),
    ("utilisation", "utilisation", "%"),
    ("coverage", "demand covered", "%"),
)


def _fmt(e: Estimate, unit: str, share: bool = False) -> str:
    """Minutes to 2 decimals or percent to 1; a share's interval is clipped to 0..100 %."""
    scale, spec = (1 / 60, ".2f") if unit == "min" else (100, ".1f")
    if math.isnan(e.mean):
        return "n/a"
    text = f"{e.mean * scale:{spec}}"
    if e.lo is not None and e.hi is not None:
        lo, hi = (max(e.lo, 0.0), min(e.hi, 1.0)) if share else (e.lo, e.hi)
        text += f" [{lo * scale:{spec}}–{hi * scale:{spec}}]"
    return text


def policy_table(runs: dict[str, list[RunResult]]) -> str:
    """A Markdown table: one row per policy, each figure as mean [95 % interval] over seeds."""
    head = (
        "| policy | calls/seed | "
        + " | ".join(f"{label} ({unit})" for _, label, unit in COLUMNS)
        + " |"
    )
    lines = [head, "|---|---:|" + "---|" * len(COLUMNS)]
    for name, rs in runs.items():
        f = [figures(r) for r in rs]
        calls = np.mean([x["calls"] for x in f])
        cells = [_fmt(over_seeds([x[k] for x in f]), unit, unit == "%") for k, _, unit in COLUMNS]
        lines.append(f"| {name} | {calls:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison(runs: dict[str, list[RunResult]], base: str, other: str) -> str:
    """One line per key figure: other minus base, paired by seed, with its interval."""
    if base not in runs or other not in runs:
        return ""
    out = [f"{other} minus {base}, paired by seed (mean [95 % t interval]):"]
    for key, label, unit in COLUMNS:
        if key in ("p1_als",):
            continue
        e = paired(runs[other], runs[base], key)
        sign = (
            ""
            if e.lo is None or e.hi is None
            else ("  (interval excludes 0)" if e.lo > 0 or e.hi < 0 else "  (interval includes 0)")
        )
        out.append(f"  {label:<26} {_fmt(e, unit):>28} {unit}{sign}")
    b = over_seeds([figures(r)["p1_late"] for r in runs[base]]).mean
    o = over_seeds([figures(r)["p1_late"] for r in runs[other]]).mean
    if b > 0 and not math.isnan(o):
        out.append(f"  late P1 relative change: {100 * (o - b) / b:+.1f} %")
    return "\n".join(out)
