"""The headline study: before and after on the same seeded calls, and each cause on its own.

For every seed the same calls (the fast simulator's demand) run through the worlds of
`simulator.studies.headline_world`: before (all switches off), after (all on), and before with
one cause switched on (location, recommendation, pre-alert; volunteers changes nothing in the
ambulance run and is scored on the before run's arrests). A call's figures:

- answer: received -> answered, the call-taker queue's delay (`simulator.fast.calltaking`);
- call to dispatch: received -> unit assigned (NEMSIS eTimes.01 -> eTimes.03);
- call to arrival: received -> the crew at the patient (eTimes.01 -> eTimes.07-ish: after any
  drive on from a wrong estimate); a call never reached counts as infinitely late;
- located: the estimate within 50 m of the truth;
- a cardiac arrest is "reached in 4 min" when a CPR volunteer or any defibrillator (a
  volunteer's AED or the crew's) is at the patient within 240 s of the call.

Per seed each figure is a p50 or p90 over the calls received in [0, horizon) (shares over the
calls); the tables give the mean over seeds with a Student-t 95 % interval, and differences are
paired by seed. Arrests are few per seed, so their share is pooled over seeds with a Wilson
interval and the difference is paired by arrest.

Pure: the worlds and volunteer study world come in built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from routing.errors import RoutingError
from simulator.fast.calltaking import take_calls
from simulator.fast.engine import FastSim, RunParams
from simulator.fast.metrics import Record, RunResult
from simulator.fast.policies import EngineDefault, Policy
from simulator.fast.study import CallSource
from simulator.stats import seed_interval
from simulator.studies.headline_world import (
    AFTER,
    BEFORE,
    CAUSES,
    ErrorPool,
    HeadlineParams,
    Placed,
    StraightLine,
    Switches,
    is_arrest,
    one_on,
    place,
)
from simulator.studies.volunteer import respond
from simulator.studies.volunteer_world import Arrest
from simulator.studies.volunteer_world import World as VolunteerWorld
from simulator.world.calls import CallSpec
from simulator.world.scenario import World

#: The worlds each seed runs, by name: before, after, and before plus one cause.
VARIANTS: dict[str, Switches] = {"before": BEFORE, "after": AFTER} | {
    f"+{c}": one_on(c) for c in CAUSES
}
FIGURES = (
    "answer_mean",
    "answer_p50",
    "answer_p90",
    "dispatch_p50",
    "dispatch_p90",
    "arrival_p50",
    "arrival_p90",
    "located",
)


@dataclass(frozen=True)
class HeadlineWorld:
    """Everything the seeds share: the city, the error pool, the volunteers' world (None:
    the city has no AED layer, volunteers are not simulated)."""

    city: World
    pool: ErrorPool
    volunteers: VolunteerWorld | None
    params: HeadlineParams
    run: RunParams
    source: CallSource


@dataclass(frozen=True)
class SeedResult:
    """One seed, one world: per-seed figures and, per arrest, reached within the target."""

    seed: int
    variant: str
    figures: dict[str, float]
    arrests: tuple[bool, ...]  # in call order, for pairing across worlds
    arrival_s: tuple[float, ...]  # every scored call's call-to-arrival (plots)
    error_m: tuple[float, ...]


def run_seed(w: HeadlineWorld, seed: int) -> list[SeedResult]:
    """Every world of VARIANTS on one seed's calls."""
    calls = w.source.calls(w.city, seed, w.run)
    at = np.array([c.at_s for c in calls])
    voice = np.array([c.triage_s for c in calls])
    pick = np.random.default_rng([seed, 37]).integers(w.pool.n, size=len(calls))
    truth = [(c.lat, c.lon) for c in calls]
    placed = {
        False: place(w.city, truth, w.pool.before_xy_m[pick], w.params),
        True: place(w.city, truth, w.pool.after_xy_m[pick], w.params),
    }
    out: list[SeedResult] = []
    runs: dict[tuple[bool, bool, bool], RunResult] = {}
    for name, sw in VARIANTS.items():
        key = (sw.location, sw.recommendation, sw.pre_alert)
        rng = np.random.default_rng([seed, 31])  # the centre's other calls: alike in every world
        taken = take_calls(at, voice, sw.location, w.params.call_taking, rng)
        if key not in runs:
            prepared = _prepared(calls, taken.to_triage_s, placed[sw.location], sw, w.params)
            policy: Policy = EngineDefault() if sw.recommendation else StraightLine()
            finding = placed[sw.location].finding_s.tolist()
            sim = FastSim(w.city, policy, prepared, seed, w.run, finding)
            runs[key] = sim.run()
        result = runs[key]
        scored = [k for k, c in enumerate(calls) if 0.0 <= c.at_s < w.run.horizon_s]
        arrests = _arrests(w, seed, calls, result, taken.to_triage_s, sw)
        answer = taken.answer_s[scored]
        out.append(_figures(seed, name, result, answer, placed[sw.location], scored, arrests, w))
    return out


def _prepared(
    calls: Sequence[CallSpec],
    to_triage_s: np.ndarray,
    placed: Placed,
    sw: Switches,
    p: HeadlineParams,
) -> list[CallSpec]:
    keep = 1.0 - p.pre_alert_saving if sw.pre_alert else 1.0
    return [
        replace(
            c,
            triage_s=float(to_triage_s[k]),
            lat=float(placed.lat[k]),
            lon=float(placed.lon[k]),
            at_hospital_s=c.at_hospital_s * keep,
        )
        for k, c in enumerate(calls)
    ]


def _figures(
    seed: int,
    name: str,
    result: RunResult,
    answer_s: np.ndarray,
    placed: Placed,
    scored: list[int],
    arrests: tuple[bool, ...],
    w: HeadlineWorld,
) -> SeedResult:
    recs = result.records
    dispatch = np.array([r.assigned_at_s - r.at_s for r in recs])
    arrival = np.array([r.response_s for r in recs])
    dispatch, arrival = (np.where(np.isfinite(x), x, np.inf) for x in (dispatch, arrival))
    err = placed.error_m[scored]
    figures = {
        "answer_mean": float(np.mean(answer_s)),
        "answer_p50": float(np.quantile(answer_s, 0.5)),
        "answer_p90": float(np.quantile(answer_s, 0.9)),
        "dispatch_p50": _q(dispatch, 0.5),
        "dispatch_p90": _q(dispatch, 0.9),
        "arrival_p50": _q(arrival, 0.5),
        "arrival_p90": _q(arrival, 0.9),
        "located": float(np.mean(err <= w.params.near_m)),
    }
    return SeedResult(
        seed,
        name,
        figures,
        arrests,
        tuple(float(x) for x in arrival),
        tuple(float(x) for x in err),
    )


def _q(x: np.ndarray, q: float) -> float:
    """A quantile where inf (never) sorts last: inf when it falls among the never-reached."""
    if not x.size:
        return math.nan
    return float(np.sort(x)[min(math.ceil(q * x.size) - 1, x.size - 1)])


def _arrests(
    w: HeadlineWorld,
    seed: int,
    calls: Sequence[CallSpec],
    run: RunResult,
    to_triage_s: np.ndarray,
    sw: Switches,
) -> tuple[bool, ...]:
    """Per scored cardiac arrest: a volunteer or a defibrillator at the patient in time."""
    vw, p = w.volunteers, w.params
    by_id = {r.incident_id: r for r in run.records}
    out = []
    for k, c in enumerate(calls):
        r = by_id.get(c.incident_id)
        if r is None or not is_arrest(c.complaint):
            continue
        crew_s = r.response_s + (vw.params.volunteer.crew_to_patient_s if vw else 120.0)
        best = crew_s if math.isfinite(crew_s) else math.inf
        if sw.volunteers and vw is not None:
            # With one tap the desk alerts at CallReceived; by voice once the call-taker has
            # triaged it (answered + handled), when the unit is sent at the earliest.
            alert_s = 0.0 if sw.location else float(to_triage_s[k])
            rng = np.random.default_rng([seed, k, 43])  # the same volunteers in every world
            best = min(best, _volunteer_s(vw, c, r, alert_s, p, rng))
        out.append(best <= p.arrest_target_s)
    return tuple(out)


def _volunteer_s(
    vw: VolunteerWorld,
    c: CallSpec,
    r: Record,
    alert_s: float,
    p: HeadlineParams,
    rng: np.random.Generator,
) -> float:
    """Seconds from the call to the first volunteer or volunteer's AED at the patient."""
    try:
        patient = vw.index.place(c.lat, c.lon)
    except RoutingError:
        return math.inf
    kerb_after_alert = max(r.on_scene_at_s - c.at_s - alert_s, 0.0)
    when = datetime.combine(vw.params.week_monday, datetime.min.time())
    when += timedelta(seconds=c.at_s % (7 * 86_400.0))
    arrest = Arrest(c.lat, c.lon, when, alert_s, 0.0, kerb_after_alert, patient)
    pool = vw.draw_pool(arrest, p.volunteers_per_km2, rng)
    tl = respond(vw, arrest, vw.scene(arrest), pool, p.volunteers_per_km2).timeline
    return min(tl.first_volunteer_at_s, tl.volunteer_aed_at_s)


def run_study(
    w: HeadlineWorld, seeds: Sequence[int], progress: Callable[[int], None] | None = None
) -> list[SeedResult]:
    """Every seed, in order; `progress` gets 1 per seed done."""
    out: list[SeedResult] = []
    for s in seeds:
        out += run_seed(w, s)
        if progress is not None:
            progress(1)
    return out


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float | None
    hi: float | None


def over_seeds(values: Sequence[float]) -> Interval:
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return Interval(math.nan, None, None)
    ci = seed_interval(v)
    return Interval(float(np.mean(v)), *(ci if ci else (None, None)))


def figure(results: Sequence[SeedResult], variant: str, key: str) -> Interval:
    return over_seeds([r.figures[key] for r in results if r.variant == variant])


def difference(results: Sequence[SeedResult], a: str, b: str, key: str) -> Interval:
    """a minus b, seed by seed."""
    by = {r.seed: r.figures[key] for r in results if r.variant == b}
    return over_seeds([r.figures[key] - by[r.seed] for r in results if r.variant == a])


def arrest_share(results: Sequence[SeedResult], variant: str) -> tuple[int, int]:
    """(reached in time, arrests) pooled over seeds."""
    flags = [f for r in results if r.variant == variant for f in r.arrests]
    return sum(flags), len(flags)


def arrest_difference(results: Sequence[SeedResult], a: str, b: str) -> Interval:
    """a minus b in the share reached in time, paired by arrest (t interval)."""
    by = {r.seed: r.arrests for r in results if r.variant == b}
    diffs = [
        float(x) - float(y)
        for r in results
        if r.variant == a
        for x, y in zip(r.arrests, by[r.seed], strict=True)
    ]
    return over_seeds(diffs)
