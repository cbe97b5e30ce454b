"""Score fusion on SYNTHETIC calls against baselines: GPS-only, cell-only and a plain average.

For each method: share of calls within 50 m (FCC/EENA benchmark: 80 %), median and p90 error,
and calibration (how often the truth lies inside the stated 95 % circle). For the fused
estimate also the conflict alarm's precision and recall and its false alarms on clean calls,
scored against what the generator planted (`location_fusion.planted`: a call truly conflicts
when a source was made wrong by more than `DISAGREE_M`); no fusion function decides the truth.
The I/O (loading, printing, plotting) is in `location_fusion.cli`; this module computes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from location_fusion.cells import CellTable, sector_for
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Place
from location_fusion.geo import LocalFrame, haversine_m
from location_fusion.locate import CallEvidence, Locator
from location_fusion.planted import has_biased_gnss, is_clean, truly_conflicting
from location_fusion.scenario import Call, CallMaker
from location_fusion.sources import CellSource

METHODS = ("fused", "gps_only", "cell_only", "average")


@dataclass
class Outcome:
    """One call scored: per method the error and whether the truth was inside the circle."""

    error_m: dict[str, float] = field(default_factory=dict)
    inside: dict[str, bool] = field(default_factory=dict)
    alarm: bool = False
    truly_conflicting: bool = False  # from the planted truth only
    clean: bool = False  # nothing planted wrong
    biased_gnss: bool = False  # carries a multipath-biased GNSS fix
    fuse_s: float = 0.0
    sky: str = ""
    speech_hit: bool | None = None  # top geocoded candidate names what was meant; None: no words
    mix: str = ""  # the evidence the call carried, e.g. "gnss+cell+speech" (`source_mix`)
    radius_m: float = math.inf  # the fused 95 % radius
    claimed_m: float = 0.0  # the newest GNSS fix's claimed accuracy (0: no GNSS fix)
    lone_ratio: float | None = None  # good sky: newest GNSS fix fused alone, r95 / its claim


def score_call(call: Call, locator: Locator, cells: CellTable) -> Outcome:
    """Run every method on one call."""
    out = Outcome(sky=call.sky, mix=source_mix(call))
    out.truly_conflicting = truly_conflicting(call.planted)
    out.clean = is_clean(call.planted)
    out.biased_gnss = has_biased_gnss(call.planted)
    fixes = call.wgs84_fixes()  # as the server's boundary hands them on
    evidence = CallEvidence(fixes, call.cell, call.spoken)
    t0 = time.perf_counter()
    est = locator.locate(evidence, call.now_s)
    out.fuse_s = time.perf_counter() - t0
    sector = None
    if call.cell is not None:
        cell = cells.lookup(call.cell)
        sector = sector_for(cell, call.cell) if cell is not None else None
    answers: dict[str, tuple[float, float, float] | None] = {"fused": None}
    if est is not None:
        answers["fused"] = (est.lat, est.lon, est.radius95_m)
        out.alarm = est.conflict is not None
        out.radius_m = est.radius95_m
    gnss = [f for f in fixes if f.source == "gnss"]
    if gnss:
        out.claimed_m = max(gnss, key=lambda f: f.observed_at_s).accuracy_m
    out.lone_ratio = _lone_ratio(call, fixes, locator)
    latest = sorted(fixes, key=lambda f: (f.observed_at_s, -f.accuracy_m))
    if latest:
        best = min(
            (f for f in latest if f.observed_at_s == latest[-1].observed_at_s),
            key=lambda f: f.accuracy_m,
        )
        answers["gps_only"] = (best.lat, best.lon, best.sigma_m * 2.4477)
    else:
        answers["gps_only"] = None
    cell_answer = None
    if sector is not None:
        clon, clat = sector.centroid()
        src = CellSource(sector, LocalFrame(clon, clat))
        cell_answer = (clat, clon, _sector_r95_about_centroid(src))
    answers["cell_only"] = cell_answer
    points = [a for a in (answers["gps_only"], cell_answer) if a is not None]
    places = locator.places_for(call.spoken)
    if call.intent is not None and not call.intent.wrong:
        out.speech_hit = bool(places) and _names_match(places[0], call.intent.names)
    if places:
        points.append((places[0].lat, places[0].lon, places[0].radius_m))
    if points:
        lat = float(np.mean([p[0] for p in points]))
        lon = float(np.mean([p[1] for p in points]))
        answers["average"] = (lat, lon, float(np.sqrt(np.mean([p[2] ** 2 for p in points]))))
    else:
        answers["average"] = None
    for m in METHODS:
        a = answers.get(m)
        if a is None:
            out.error_m[m] = math.inf
            out.inside[m] = False
        else:
            err = float(haversine_m(a[1], a[0], call.true_lon, call.true_lat))
            out.error_m[m] = err
            out.inside[m] = err <= a[2]
    return out


def source_mix(call: Call) -> str:
    """The kinds of evidence a call carried, in a fixed order: "gnss+wifi+cell+speech"."""
    kinds = {f.source for f in call.fixes}
    parts: list[str] = [k for k in ("gnss", "wifi", "fused") if k in kinds]
    parts += ["cell"] if call.cell is not None else []
    parts += ["speech"] if call.spoken else []
    return "+".join(parts) or "none"


def _lone_ratio(call: Call, fixes: tuple[DeviceFix, ...], locator: Locator) -> float | None:
    """On a good-sky call with honest claims, its newest GNSS fix fused alone: 95 % radius
    over the claim."""
    gnss = [f for f in fixes if f.source == "gnss"]
    honest = all(p.plant == "" for p in call.planted if p.kind == "gnss")
    if call.sky != "good" or not gnss or not honest:
        return None
    newest = max(gnss, key=lambda f: f.observed_at_s)
    alone = locator.locate(CallEvidence((newest,)), call.now_s)
    return None if alone is None else alone.radius95_m / newest.accuracy_m


def _sector_r95_about_centroid(src: CellSource) -> float:
    rng = np.random.default_rng(0)
    x, y = src.sample(400, rng)
    ax, ay = src.anchor()
    return float(np.quantile(np.hypot(x - ax, y - ay), 0.95))


def _names_match(place: Place, meant: tuple[str, ...]) -> bool:
    """The candidate names the meant street or junction (streets as a set) or place."""
    if place.streets:
        return set(place.streets) == set(meant) or (len(meant) == 1 and meant[0] in place.streets)
    return any(m in place.name or place.name in m for m in meant)


@dataclass(frozen=True)
class MixSummary:
    """Figures for the calls carrying one mix of evidence: fused, and the baselines' calibration."""

    calls: int
    within_50m: float
    calibration: float
    median_radius_m: float
    gps_only_calibration: float = math.nan
    cell_only_calibration: float = math.nan


@dataclass(frozen=True)
class Summary:
    """Figures for one method over all calls."""

    within_50m: float
    median_m: float
    p90_m: float
    calibration: float
    answered: float


@dataclass(frozen=True)
class AlarmSummary:
    """The conflict alarm against the planted truth."""

    precision: float
    recall: float
    false_alarm_clean: float  # share of clean calls (nothing planted) that raised the alarm
    alarm_grey: float  # share of calls planted wrong by <= DISAGREE_M that raised it
    conflicts: int  # calls truly in conflict
    clean: int
    grey: int
    alarms: int


def alarm_summary(outcomes: list[Outcome]) -> AlarmSummary:
    """Precision, recall and false alarms of the conflict alarm against the planted truth."""
    alarm = np.array([o.alarm for o in outcomes], dtype=bool)
    truth = np.array([o.truly_conflicting for o in outcomes], dtype=bool)
    clean = np.array([o.clean for o in outcomes], dtype=bool)
    grey = ~truth & ~clean
    tp = int((alarm & truth).sum())
    return AlarmSummary(
        precision=tp / int(alarm.sum()) if alarm.any() else math.nan,
        recall=tp / int(truth.sum()) if truth.any() else math.nan,
        false_alarm_clean=float(alarm[clean].mean()) if clean.any() else math.nan,
        alarm_grey=float(alarm[grey].mean()) if grey.any() else math.nan,
        conflicts=int(truth.sum()),
        clean=int(clean.sum()),
        grey=int(grey.sum()),
        alarms=int(alarm.sum()),
    )


def summarise(outcomes: list[Outcome]) -> dict[str, object]:
    """Per-method figures, the alarm, per-mix calibration, the biased-GNSS subset, timing."""
    result: dict[str, object] = {m: method_summary(outcomes, m) for m in METHODS}
    alarms = alarm_summary(outcomes)
    result["alarm"] = alarms
    result["conflict_precision"] = alarms.precision
    result["conflict_recall"] = alarms.recall
    result["conflicts"] = alarms.conflicts
    hits = [o.speech_hit for o in outcomes if o.speech_hit is not None]
    result["speech_top1"] = float(np.mean(hits)) if hits else 0.0
    result["speech_phrases"] = len(hits)
    result["by_mix"] = by_mix(outcomes)
    biased = [o for o in outcomes if o.biased_gnss]
    result["biased_gnss_calls"] = len(biased)
    for m in ("fused", "gps_only"):
        err = np.array([o.error_m[m] for o in biased])
        result[f"biased_gnss_{m}_within_50m"] = float(np.mean(err <= 50)) if biased else math.nan
    good = [o.radius_m / o.claimed_m for o in outcomes if o.sky == "good" and o.claimed_m > 0]
    result["good_gnss_radius_ratio_median"] = float(np.median(good)) if good else math.nan
    lone = [o.lone_ratio for o in outcomes if o.lone_ratio is not None]
    result["lone_gnss_radius_ratio_median"] = float(np.median(lone)) if lone else math.nan
    t = np.array([o.fuse_s for o in outcomes]) * 1e3
    result["locate_ms_p50"] = float(np.median(t))
    result["locate_ms_p99"] = float(np.quantile(t, 0.99))
    return result


def method_summary(outcomes: list[Outcome], m: str) -> Summary:
    """One method's within-50 m share, median and p90 error, calibration, answered share."""
    err = np.array([o.error_m[m] for o in outcomes])
    ok = np.isfinite(err)
    return Summary(
        within_50m=float(np.mean(err <= 50)),
        median_m=float(np.median(err[ok])) if ok.any() else math.inf,
        p90_m=float(np.quantile(err[ok], 0.9)) if ok.any() else math.inf,
        calibration=_calibration(outcomes, m),
        answered=float(ok.mean()),
    )


def by_mix(outcomes: list[Outcome]) -> dict[str, MixSummary]:
    """Fused within-50 m, calibration and median radius per evidence mix, most calls first,
    with the GPS-only and cell-only calibration beside."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.mix, []).append(o)
    out = {}
    for mix, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        err = np.array([o.error_m["fused"] for o in group])
        out[mix] = MixSummary(
            calls=len(group),
            within_50m=float(np.mean(err <= 50)),
            calibration=_calibration(group, "fused"),
            median_radius_m=float(np.median([o.radius_m for o in group])),
            gps_only_calibration=_calibration(group, "gps_only"),
            cell_only_calibration=_calibration(group, "cell_only"),
        )
    return out


def _calibration(outcomes: list[Outcome], method: str) -> float:
    """Share of answered calls whose truth lies inside the method's stated 95 % circle."""
    hits = [o.inside[method] for o in outcomes if math.isfinite(o.error_m[method])]
    return float(np.mean(hits)) if hits else math.nan


def run_calls(
    maker: CallMaker,
    locator: Locator,
    cells: CellTable,
    n: int,
    seed: int,
    progress: Callable[[Iterator[int]], Iterator[int]] | None = None,
) -> list[Outcome]:
    """Make and score n calls, call k from its own generator seeded `seed + k` (so a seed
    range names exactly the calls it holds; `eval_settings` keeps tuning and held-out apart)."""
    steps: Iterator[int] = iter(range(n))
    if progress is not None:
        steps = progress(steps)
    return [score_call(maker.make(np.random.default_rng(seed + k)), locator, cells) for k in steps]
