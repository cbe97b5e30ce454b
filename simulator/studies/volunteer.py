"""CPR volunteers against the ambulance over many simulated cardiac arrests on one road network.

A seeded Monte Carlo over out-of-hospital cardiac arrests (OHCA). Every arrest runs the real
dispatch and `aed_map` logic: the nearest free unit by road ETA (`Router.rank`), the call-out
(`aed_map.callout.call_out`: local density, `alert_radius_m`, `select_volunteers`), and the
AED/patient split (`volunteers.assign_roles`) over AEDs open at the arrest's local time. Times
are seconds from the call:

    call ─ processing ─> alert ─ turnout ─> rolls ─ drive ─> kerb ─ crew_to_patient ─> crew
                         alert ─ set-off delay ─> walk ──────────────────────> volunteer
                                                  └ walk ─> AED ─ walk ──────> volunteer's AED

(the unit is dispatched and the volunteers alerted at the same moment, "alert").

The world (`simulator.studies.volunteer_world`) draws where and when each arrest happens and which
volunteers are around; this module scores one arrest at each density and the whole study.
Each arrest is drawn once and met at every density (common random numbers), with the
volunteers of a lower density a random subset of a higher one's, so differences between
densities come from the volunteers, not from different arrests.

Pure: the network, registry and seed come in; nothing is read or written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from aed_map.callout import call_out
from aed_map.registry import AedId
from aed_map.volunteers import Acceptor, RolePlan, assign_roles
from simulator.errors import InvalidArgument
from simulator.stats import Median, Share, median_ci, share
from simulator.studies.volunteer_world import Arrest, Pool, Scene, StudyParams, World

INF = math.inf


@dataclass(frozen=True)
class Timeline:
    """One arrest at one density: when each thing reaches the patient (s from the call)."""

    alert_at_s: float  # the unit is dispatched and the volunteers alerted together
    kerb_at_s: float  # the ambulance stops at the address
    crew_at_s: float  # the crew and its defibrillator are at the patient
    first_volunteer_at_s: float  # inf: no volunteer came
    volunteer_aed_at_s: float  # inf: nobody fetched an AED

    @property
    def aed_at_s(self) -> float:
        """The first defibrillator at the patient: a volunteer's or the crew's."""
        return min(self.volunteer_aed_at_s, self.crew_at_s)

    @property
    def volunteer_first(self) -> bool:
        """A volunteer at the patient before the crew (who would auto-cancel the alert)."""
        return self.first_volunteer_at_s < self.crew_at_s

    @property
    def volunteer_aed_first(self) -> bool:
        """A volunteer brings an AED to the patient before the crew's defibrillator."""
        return self.volunteer_aed_at_s < self.crew_at_s

    @property
    def volunteer_before_kerb(self) -> bool:
        """The stricter reading: a volunteer at the patient before the ambulance even stops."""
        return self.first_volunteer_at_s < self.kerb_at_s

    def aed_within(self, target_s: float) -> bool:
        return self.aed_at_s <= target_s


def walk_s(
    road_m: np.ndarray | float,
    offroad_a_m: np.ndarray | float,
    offroad_b_m: np.ndarray | float,
    detour_factor: float,
    speed_mps: float,
) -> np.ndarray:
    """Seconds on foot: road metres plus both off-road legs (straight line x detour) / speed.

    The same sum as `aed_map.walking` makes, at the volunteer's own speed; inf road metres
    (beyond the search) stay inf.
    """
    metres = np.asarray(road_m, np.float64) + detour_factor * (
        np.asarray(offroad_a_m, np.float64) + np.asarray(offroad_b_m, np.float64)
    )
    out: np.ndarray = metres / speed_mps
    return out


def timeline(
    call_processing_s: float,
    turnout_s: float,
    drive_s: float,
    crew_to_patient_s: float,
    acceptors: Sequence[Acceptor],
    plan: RolePlan,
) -> Timeline:
    """The arrest's times from its parts; acceptors' times count from the alert.

    Those `plan` sends to the patient arrive at alert + their `to_patient_s`; the fetcher at
    alert + `plan.fetch.aed_at_patient_s`, with the AED.
    """
    alert = call_processing_s
    kerb = alert + turnout_s + drive_s
    direct = {a.volunteer_id: a.to_patient_s for a in acceptors}
    fetch = alert + plan.fetch.aed_at_patient_s if plan.fetch is not None else INF
    first = min([alert + direct[v] for v in plan.to_patient] + [fetch])
    return Timeline(alert, kerb, kerb + crew_to_patient_s, first, fetch)


@dataclass(frozen=True)
class Outcome:
    """One arrest met at one volunteer density."""

    seed: int
    arrest: int
    density_per_km2: float
    timeline: Timeline
    radius_m: float  # the alert radius the call-out chose
    alerted: int
    accepted: int
    fetched: AedId | None


def respond(
    world: World,
    arrest: Arrest,
    scene: Scene,
    pool: Pool,
    density: float,
    seed: int = 0,
    arrest_no: int = 0,
) -> Outcome:
    """Run the call-out at one density and time everyone's arrival.

    Acceptors' times count from the alert, their own set-off delay included, so
    `assign_roles` weighs every fetch against the crew on one clock. Roles are planned once,
    with every acceptor known: the live call-out re-plans as each one answers and never takes
    back a fetch under way, so this is the best that plan can reach (slightly optimistic).
    """
    p = world.params
    vp = p.volunteer
    ids = pool.present(density)
    eta_s = arrest.turnout_s + arrest.drive_s  # at the alert: the unit has not rolled yet
    co = call_out("sim", arrest.lat, arrest.lon, [pool.volunteers[i] for i in ids], eta_s, 0.0, vp)
    row = {v.id: i for i, v in enumerate(pool.volunteers)}
    took = [row[v] for v in co.alerts if pool.accepts[row[v]]]
    took.sort(key=lambda i: (pool.delay_s[i], i))  # acceptance order
    acceptors: list[Acceptor] = []
    plan = assign_roles([], {}, eta_s, vp)
    if took:
        sel = np.array(took, dtype=np.int64)
        detour = world.index.params.detour_factor
        road_m, _ = scene.reach.to(pool.edge[sel], pool.fraction[sel])
        to_patient = pool.delay_s[sel] + walk_s(
            road_m, pool.offroad_m[sel], arrest.patient.offroad_m, detour, vp.travel_speed_mps
        )
        # Only an AED whose way back alone beats the crew can ever be worth fetching.
        worth = np.flatnonzero(scene.aed_back_s < eta_s + vp.crew_to_patient_s)
        to_aed = np.full((sel.size, worth.size), INF)
        for col, j in enumerate(worth):
            road_to_aed_m = world.volunteer_to_aed_m(int(j), pool.edge[sel], pool.fraction[sel])
            on_foot = walk_s(
                road_to_aed_m,
                pool.offroad_m[sel],
                world.index.offroad_m[j],
                detour,
                vp.travel_speed_mps,
            )
            to_aed[:, col] = pool.delay_s[sel] + on_foot + world.index.building_s[j]
        aed_ids = [world.index.aeds[j].id for j in worth]
        for r, i in enumerate(sel):
            times = {a: float(s) for a, s in zip(aed_ids, to_aed[r], strict=True) if s < INF}
            acceptors.append(Acceptor(pool.volunteers[i].id, float(to_patient[r]), times))
        back = {a: float(scene.aed_back_s[j]) for a, j in zip(aed_ids, worth, strict=True)}
        plan = assign_roles(acceptors, back, eta_s, vp)
    tl = timeline(
        arrest.call_processing_s,
        arrest.turnout_s,
        arrest.drive_s,
        vp.crew_to_patient_s,
        acceptors,
        plan,
    )
    fetched = plan.fetch.aed_id if plan.fetch else None
    return Outcome(seed, arrest_no, density, tl, co.radius_m, len(co.alerts), len(took), fetched)


def run_study(
    world: World,
    densities: Sequence[float],
    n_arrests: int,
    seed: int,
    progress: Callable[[Iterator[int]], Iterable[int]] | None = None,
) -> list[Outcome]:
    """n_arrests arrests, each met at every density; arrest i draws from stream (seed, i)."""
    if n_arrests < 1:
        raise InvalidArgument(f"n_arrests must be at least 1, not {n_arrests}")
    if not densities or any(not (math.isfinite(d) and d >= 0) for d in densities):
        raise InvalidArgument(f"densities must be numbers >= 0, got {list(densities)!r}")
    ceiling = max(densities)
    steps: Iterable[int] = iter(range(n_arrests))
    if progress is not None:
        steps = progress(iter(range(n_arrests)))
    out: list[Outcome] = []
    for i in steps:
        rng = np.random.default_rng([seed, i])
        arrest = world.draw_arrest(rng)
        scene = world.scene(arrest)
        pool = world.draw_pool(arrest, ceiling, rng)
        out += [respond(world, arrest, scene, pool, d, seed, i) for d in densities]
    return out


@dataclass(frozen=True)
class DensitySummary:
    """The study's figures at one density, over every arrest of every seed."""

    density_per_km2: float
    arrests: int
    seeds: int
    volunteer_first: Share  # a volunteer at the patient before the crew
    volunteer_before_kerb: Share  # ... before the ambulance stops at the address
    aed_within_target: Share  # any defibrillator at the patient within target_s of the call
    volunteer_aed_first: Share  # a volunteer's AED at the patient before the crew's
    any_acceptor: Share
    first_volunteer_s: Median  # over all arrests; inf when nobody came
    aed_s: Median
    crew_s: Median
    mean_alerted: float
    mean_accepted: float
    median_radius_m: float


def summarise(outcomes: Sequence[Outcome], target_s: float | None = None) -> list[DensitySummary]:
    """One summary per density, in increasing density; target_s defaults to StudyParams'."""
    target = StudyParams().target_s if target_s is None else target_s
    out = []
    for d in sorted({o.density_per_km2 for o in outcomes}):
        rows = [o for o in outcomes if o.density_per_km2 == d]
        by_seed = [[o for o in rows if o.seed == s] for s in sorted({o.seed for o in rows})]

        def tally(
            test: Callable[[Outcome], bool],
            rows: list[Outcome] = rows,
            by_seed: list[list[Outcome]] = by_seed,
        ) -> Share:
            per = [sum(map(test, g)) / len(g) for g in by_seed] if len(by_seed) > 1 else []
            return share(sum(map(test, rows)), len(rows), per)

        tls = [o.timeline for o in rows]
        out.append(
            DensitySummary(
                density_per_km2=d,
                arrests=len(rows),
                seeds=len(by_seed),
                volunteer_first=tally(lambda o: o.timeline.volunteer_first),
                volunteer_before_kerb=tally(lambda o: o.timeline.volunteer_before_kerb),
                aed_within_target=tally(lambda o: o.timeline.aed_within(target)),
                volunteer_aed_first=tally(
                    lambda o: o.timeline.volunteer_aed_at_s < o.timeline.crew_at_s
                ),
                any_acceptor=tally(lambda o: o.accepted > 0),
                first_volunteer_s=median_ci([t.first_volunteer_at_s for t in tls]),
                aed_s=median_ci([t.aed_at_s for t in tls]),
                crew_s=median_ci([t.crew_at_s for t in tls]),
                mean_alerted=float(np.mean([o.alerted for o in rows])),
                mean_accepted=float(np.mean([o.accepted for o in rows])),
                median_radius_m=float(np.median([o.radius_m for o in rows])),
            )
        )
    return out
