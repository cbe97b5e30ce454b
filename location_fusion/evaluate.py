"""Score fusion on SYNTHETIC calls against baselines: GPS-only, cell-only and a plain average.

For each method: share of calls within 50 m (FCC/EENA benchmark: 80 %), median and p90 error,
and calibration (how often the truth lies inside the stated 95 % circle). For the fused
estimate also the conflict alarm's precision and recall, where a call truly conflicts when its
evidence, with the words taken as the caller meant them (the phrase before speech noise),
holds two sources whose 95 % regions lie apart. The I/O (loading, printing, plotting) is in
`location_fusion.cli`; this module computes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from location_fusion.cells import CellTable, Sector, sector_for
from location_fusion.fuse import find_conflict
from location_fusion.gazetteer import Place
from location_fusion.geo import haversine_m
from location_fusion.locate import CallEvidence, Locator
from location_fusion.scenario import Call, CallMaker
from location_fusion.sources import CellSource

METHODS = ("fused", "gps_only", "cell_only", "average")


@dataclass
class Outcome:
    """One call scored: per method the error and whether the truth was inside the circle."""

    error_m: dict[str, float] = field(default_factory=dict)
    inside: dict[str, bool] = field(default_factory=dict)
    alarm: bool = False
    truly_conflicting: bool = False
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
    evidence = CallEvidence(call.fixes, call.cell, call.spoken)
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
    gnss = [f for f in call.fixes if f.source == "gnss"]
    if gnss:
        out.claimed_m = max(gnss, key=lambda f: f.observed_at_s).accuracy_m
    out.lone_ratio = _lone_ratio(call, locator)
    latest = sorted(call.fixes, key=lambda f: (f.observed_at_s, -f.accuracy_m))
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
        src = CellSource(sector, _frame_at(clon, clat))
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
    out.truly_conflicting = _true_conflict(call, locator, sector)
    return out


def source_mix(call: Call) -> str:
    """The kinds of evidence a call carried, in a fixed order: "gnss+wifi+cell+speech"."""
    kinds = {f.source for f in call.fixes}
    parts: list[str] = [k for k in ("gnss", "wifi", "fused") if k in kinds]
    parts += ["cell"] if call.cell is not None else []
    parts += ["speech"] if call.spoken else []
    return "+".join(parts) or "none"


def _lone_ratio(call: Call, locator: Locator) -> float | None:
    """On a good-sky call, its newest GNSS fix fused alone: 95 % radius over the claim."""
    gnss = [f for f in call.fixes if f.source == "gnss"]
    if call.sky != "good" or not gnss:
        return None
    newest = max(gnss, key=lambda f: f.observed_at_s)
    alone = locator.locate(CallEvidence((newest,)), call.now_s)
    return None if alone is None else alone.radius95_m / newest.accuracy_m


def _frame_at(lon: float, lat: float):  # type: ignore[no-untyped-def]
    from location_fusion.geo import LocalFrame

    return LocalFrame(lon, lat)


def _sector_r95_about_centroid(src: CellSource) -> float:
    rng = np.random.default_rng(0)
    x, y = src.sample(400, rng)
    ax, ay = src.anchor()
    return float(np.quantile(np.hypot(x - ax, y - ay), 0.95))


def _true_conflict(call: Call, locator: Locator, sector: Sector | None) -> bool:
    """Do the fixes, the sector and the words as meant hold two disjoint 95 % regions?"""
    meant = _meant_phrase(call)
    places = locator.places_for(meant) if meant else []
    fixes = list(call.fixes)
    if sum(x is not None and x != [] for x in (fixes or None, sector, places or None)) < 2:
        return False
    return find_conflict(fixes, sector, places, call.now_s, locator.params) is not None


def _names_match(place: Place, meant: tuple[str, ...]) -> bool:
    """The candidate names the meant street or junction (streets as a set) or place."""
    if place.streets:
        return set(place.streets) == set(meant) or (len(meant) == 1 and meant[0] in place.streets)
    return any(m in place.name or place.name in m for m in meant)


def _meant_phrase(call: Call) -> str | None:
    if call.intent is None:
        return None
    if call.intent.kind == "intersection":
        return f"{call.intent.names[0]}与{call.intent.names[1]}交叉口"
    return call.intent.names[0]


@dataclass(frozen=True)
class MixSummary:
    """Fused figures for the calls carrying one mix of evidence."""

    calls: int
    within_50m: float
    calibration: float
    median_radius_m: float


@dataclass(frozen=True)
class Summary:
    """Figures for one method over all calls."""

    within_50m: float
    median_m: float
    p90_m: float
    calibration: float
    answered: float


def summarise(outcomes: list[Outcome]) -> dict[str, object]:
    """Per-method figures, conflict precision/recall and fusion timing."""
    result: dict[str, object] = {}
    for m in METHODS:
        err = np.array([o.error_m[m] for o in outcomes])
        ok = np.isfinite(err)
        result[m] = Summary(
            within_50m=float(np.mean(err <= 50)),
            median_m=float(np.median(err[ok])) if ok.any() else math.inf,
            p90_m=float(np.quantile(err[ok], 0.9)) if ok.any() else math.inf,
            calibration=_calibration(outcomes, m),
            answered=float(ok.mean()),
        )
    alarm = np.array([o.alarm for o in outcomes])
    truth = np.array([o.truly_conflicting for o in outcomes])
    tp = int((alarm & truth).sum())
    result["conflict_precision"] = tp / max(int(alarm.sum()), 1)
    result["conflict_recall"] = tp / max(int(truth.sum()), 1)
    result["conflicts"] = int(truth.sum())
    hits = [o.speech_hit for o in outcomes if o.speech_hit is not None]
    result["speech_top1"] = float(np.mean(hits)) if hits else 0.0
    result["speech_phrases"] = len(hits)
    result["by_mix"] = by_mix(outcomes)
    good = [o.radius_m / o.claimed_m for o in outcomes if o.sky == "good" and o.claimed_m > 0]
    result["good_gnss_radius_ratio_median"] = float(np.median(good)) if good else math.nan
    lone = [o.lone_ratio for o in outcomes if o.lone_ratio is not None]
    result["lone_gnss_radius_ratio_median"] = float(np.median(lone)) if lone else math.nan
    t = np.array([o.fuse_s for o in outcomes]) * 1e3
    result["locate_ms_p50"] = float(np.median(t))
    result["locate_ms_p99"] = float(np.quantile(t, 0.99))
    return result


def by_mix(outcomes: list[Outcome]) -> dict[str, MixSummary]:
    """Fused within-50 m, calibration and median radius per evidence mix, most calls first."""
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
        )
    return out


def _calibration(outcomes: list[Outcome], method: str) -> float:
    """Share of answered calls whose truth lies inside the method's stated 95 % circle."""
    hits = [o.inside[method] for o in outcomes if math.isfinite(o.error_m[method])]
    return float(np.mean(hits)) if hits else 0.0


def run_calls(
    maker: CallMaker,
    locator: Locator,
    cells: CellTable,
    n: int,
    seed: int,
    progress: Callable[[Iterator[int]], Iterator[int]] | None = None,
) -> list[Outcome]:
    """Make and score n calls with one seeded generator."""
    rng = np.random.default_rng(seed)
    steps: Iterator[int] = iter(range(n))
    if progress is not None:
        steps = progress(steps)
    return [score_call(maker.make(rng), locator, cells) for _ in steps]
