"""Unit recommendation: ranked options per incident, joint assignment, swaps and duplicates.

Pure: handed the router, the views and the time `now_s`; no clock, no I/O. A unit's effective
ETA is its driving time plus the delay before it can roll (a unit clearing at hospital needs
`clearing_penalty_s`, or until its `free_at_s`). Capability rules act as ordering costs added
to the effective ETA, never to the ETA shown: for ALS-required priorities a BLS unit costs
`als_wait_limit_s` more (so it comes first only when it beats every ALS by more than that), and
for P3 an ALS unit costs `keep_als_free_penalty_s` more (keep ALS free for the next P1).
"No unit free" is an empty list, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.core.model import (
    DISPATCHABLE,
    Capability,
    IncidentId,
    IncidentView,
    Priority,
    UnitId,
    UnitLike,
    UnitStatus,
)
from location_fusion.geo import haversine_m
from routing.rank import RankedUnit
from routing.router import Router
from routing.snap import Positions

#: Statuses of a unit still driving to its incident, which a swap can still replace.
ON_ITS_WAY = frozenset({UnitStatus.ASSIGNED, UnitStatus.EN_ROUTE})


@dataclass(frozen=True)
class RecommendParams:
    """How recommendation weighs delay, capability and closeness (all times in seconds)."""

    k: int = 5  # options shown per incident
    clearing_penalty_s: float = 120.0  # a unit at hospital needs this long (or to free_at_s)
    als_required_for: frozenset[Priority] = frozenset({Priority.P1})
    als_wait_limit_s: float = 180.0  # BLS first only if it beats every ALS by more than this
    keep_als_free_penalty_s: float = 60.0  # for P3 an ALS unit is ordered as this much slower
    swap_min_gain_s: float = 60.0  # suggest a swap only for at least this much sooner
    duplicate_radius_m: float = 150.0
    duplicate_window_s: float = 600.0
    # An unassigned P1 with no free unit within this is shown a divert (a unit on its way to
    # a lower priority that would be there sooner); 8 min, a common P1 response target.
    divert_target_s: float = 480.0
    # A unit's position older than this is stale: still ranked, but its option says so.
    stale_after_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be an integer >= 1, got {self.k!r}")
        for name in (
            "clearing_penalty_s",
            "als_wait_limit_s",
            "keep_als_free_penalty_s",
            "swap_min_gain_s",
            "duplicate_radius_m",
            "duplicate_window_s",
            "divert_target_s",
            "stale_after_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.als_required_for, frozenset) or not all(
            isinstance(p, Priority) for p in self.als_required_for
        ):
            raise ValueError("als_required_for must be a frozenset of Priority")


@dataclass(frozen=True)
class Option:
    """One unit offered for one incident, with the reasons a dispatcher reads."""

    unit_id: UnitId
    eta_s: float  # effective ETA: clearing delay + driving
    drive_s: float  # pure driving time
    distance_m: float
    capability: Capability
    reasons: tuple[str, ...]
    # Its position is older than `stale_after_s`: the ETA is from where it was, `position_age_s`
    # ago (None: the position's time is not known).
    stale_position: bool = False
    position_age_s: float | None = None


@dataclass(frozen=True)
class Divert:
    """A unit on its way to a lower-priority incident that would reach this one sooner."""

    unit_id: UnitId
    from_incident_id: IncidentId
    from_priority: Priority
    eta_s: float  # its driving time to this incident
    gain_s: float | None  # sooner than the best free unit by this; None: no unit is free


@dataclass(frozen=True)
class Assignment:
    """The decision "unit goes to incident" from a joint assignment."""

    incident_id: IncidentId
    option: Option


@dataclass(frozen=True)
class Swap:
    """A free unit that would reach an incident clearly sooner than the unit on its way."""

    incident_id: IncidentId
    current_unit: UnitId
    better_unit: UnitId
    current_eta_s: float
    better_eta_s: float


@dataclass(frozen=True)
class _Candidate:
    unit: UnitLike
    ranked: RankedUnit  # its distance is measured only if the candidate is shown
    delay_s: float  # before the unit can roll

    @property
    def drive_s(self) -> float:
        return self.ranked.eta_s

    @property
    def distance_m(self) -> float:
        return self.ranked.distance_m

    @property
    def eta_s(self) -> float:
        return self.delay_s + self.ranked.eta_s


def _clock(seconds: float) -> str:
    """Seconds as m:ss, the way a dispatcher reads an ETA."""
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def _delay_s(unit: UnitLike, now_s: float, params: RecommendParams) -> float:
    if unit.status is UnitStatus.AT_HOSPITAL:
        return max(params.clearing_penalty_s, unit.free_at_s - now_s)
    return 0.0


def _penalty_s(capability: Capability, priority: Priority, params: RecommendParams) -> float:
    """The ordering cost the capability rules add to an effective ETA (never shown as ETA)."""
    penalty = 0.0
    if priority in params.als_required_for and capability is Capability.BLS:
        penalty += params.als_wait_limit_s
    if priority is Priority.P3 and capability is Capability.ALS:
        penalty += params.keep_als_free_penalty_s
    return penalty


def _cost(c: _Candidate, incident: IncidentView, params: RecommendParams) -> float:
    return c.eta_s + _penalty_s(c.unit.capability, incident.priority, params)


def _dispatchable(units: Sequence[UnitLike]) -> list[UnitLike]:
    """The units that may be recommended, sorted by id; a repeated id is a caller's bug."""
    out = sorted((u for u in units if u.status in DISPATCHABLE), key=lambda u: u.unit_id)
    if len({u.unit_id for u in out}) != len(out):
        raise ValueError("a unit id appears twice")
    return out


def _candidates(
    router: Router,
    units: list[UnitLike],
    incident: IncidentView,
    k: int,
    now_s: float,
    params: RecommendParams,
) -> list[_Candidate]:
    """The k units nearest by road (one reverse search), with their clearing delays."""
    if not units:
        return []
    ranked = router.rank(Positions.of([u.position for u in units]), incident.position, k)
    return [_Candidate(units[r.unit], r, _delay_s(units[r.unit], now_s, params)) for r in ranked]


def _option(
    c: _Candidate,
    capability_reason: str,
    nearest_drive_s: float,
    now_s: float = math.nan,
    params: RecommendParams | None = None,
) -> Option:
    if c.drive_s <= nearest_drive_s:
        reasons = [capability_reason, f"nearest by road: {_clock(c.drive_s)}"]
    else:
        more = _clock(c.drive_s - nearest_drive_s)
        reasons = [capability_reason, f"by road: {_clock(c.drive_s)} (+{more} vs nearest)"]
    if c.delay_s > 0:
        reasons.append(f"clearing at hospital: +{_clock(c.delay_s)}")
    u = c.unit
    at_s = getattr(u, "position_at_s", None)
    age_s = now_s - at_s if at_s is not None and math.isfinite(now_s) else None
    stale = age_s is not None and params is not None and age_s > params.stale_after_s
    if stale and age_s is not None:
        reasons.append(f"position {_clock(age_s)} old: ETA from where it was")
    return Option(
        u.unit_id,
        c.eta_s,
        c.drive_s,
        c.distance_m,
        u.capability,
        tuple(reasons),
        stale,
        None if age_s is None else max(0.0, age_s),
    )


def _capability_reason(
    c: _Candidate, incident: IncidentView, best_als_s: float, params: RecommendParams, then: str
) -> str:
    """Why this capability for this incident; `then` says what follows a BLS sent first."""
    cap, prio, what = c.unit.capability, incident.priority, incident.complaint.value
    if prio in params.als_required_for and cap is Capability.BLS:
        if math.isinf(best_als_s):
            return "no ALS free: BLS first"
        return f"no ALS within {_clock(params.als_wait_limit_s)} more: BLS first, {then}"
    if prio is Priority.P3 and cap is Capability.ALS:
        return (
            f"ALS kept free for worse cases: ordered as +{_clock(params.keep_als_free_penalty_s)}"
        )
    return f"{cap.name} for {prio.name} {what}"


def rank_options(
    router: Router,
    units: Sequence[UnitLike],
    incident: IncidentView,
    now_s: float,
    params: RecommendParams = RecommendParams(),
) -> list[Option]:
    """At most k units for one incident, best first; [] when no unit is dispatchable."""
    eligible = _dispatchable(units)
    if not eligible:
        return []
    cands = _candidates(
        router, eligible, incident, min(len(eligible), max(3 * params.k, 20)), now_s, params
    )
    if not cands:
        return []
    nearest_s = min(c.drive_s for c in cands)  # before the capability rules drop any unit
    als_required = incident.priority in params.als_required_for
    if als_required and all(c.unit.capability is Capability.BLS for c in cands):
        # Every ALS lies beyond the first search's horizon: one more search for the nearest.
        als = [u for u in eligible if u.capability is Capability.ALS]
        cands += _candidates(router, als, incident, 1, now_s, params)
    best_als_s = min(
        (c.eta_s for c in cands if c.unit.capability is Capability.ALS), default=np.inf
    )
    if als_required:  # BLS only when it beats the best ALS by more than the limit
        cands = [
            c
            for c in cands
            if c.unit.capability is Capability.ALS or c.eta_s + params.als_wait_limit_s < best_als_s
        ]
    cands.sort(key=lambda c: (_cost(c, incident, params), c.eta_s, c.unit.unit_id))
    shown = cands[: params.k]
    if als_required and params.k > 1 and all(c.unit.capability is Capability.BLS for c in shown):
        # "ALS on the way": keep the best ALS on the list even when BLS units fill it.
        als_cands = [c for c in cands if c.unit.capability is Capability.ALS]
        if als_cands:
            shown = shown[: params.k - 1] + als_cands[:1]
    return [
        _option(
            c,
            _capability_reason(c, incident, best_als_s, params, "ALS on the way"),
            nearest_s,
            now_s,
            params,
        )
        for c in shown
    ]


def assign_jointly(
    router: Router,
    incidents: Sequence[IncidentView],
    units: Sequence[UnitLike],
    now_s: float,
    params: RecommendParams = RecommendParams(),
) -> list[Assignment]:
    """One unit per incident: the P1 tier first, then P2, then P3; incidents left out get none.

    Within a tier the sum of ordering costs (effective ETA plus capability penalties) over
    incidents x still-free units is minimised by `linear_sum_assignment`. Each incident is
    ranked once, with k = 3 x incidents + 10 so earlier tiers cannot exhaust its list.
    """
    ordered = sorted(incidents, key=lambda i: (i.priority, i.received_at_s, i.incident_id))
    if len({i.incident_id for i in ordered}) != len(ordered):
        raise ValueError("an incident id appears twice")
    eligible = _dispatchable(units)
    if not eligible or not ordered:
        return []
    k = min(len(eligible), 3 * len(ordered) + 10)
    ranked = {i.incident_id: _candidates(router, eligible, i, k, now_s, params) for i in ordered}
    free = {u.unit_id for u in eligible}
    chosen: list[tuple[IncidentView, _Candidate]] = []
    for priority in sorted({i.priority for i in ordered}):
        tier = [i for i in ordered if i.priority == priority]
        for inc, cand in _solve_tier(tier, ranked, sorted(free), params):
            free.discard(cand.unit.unit_id)
            chosen.append((inc, cand))
    out = []
    for inc, cand in chosen:
        als_s = [
            c.eta_s
            for c in ranked[inc.incident_id]
            if c.unit.unit_id in free and c.unit.capability is Capability.ALS
        ]
        reason = _capability_reason(cand, inc, min(als_s, default=np.inf), params, "ALS farther")
        nearest_s = min(c.drive_s for c in ranked[inc.incident_id])
        out.append(Assignment(inc.incident_id, _option(cand, reason, nearest_s, now_s, params)))
    return out


def _solve_tier(
    tier: list[IncidentView],
    ranked: dict[IncidentId, list[_Candidate]],
    free: list[UnitId],
    params: RecommendParams,
) -> list[tuple[IncidentView, _Candidate]]:
    """The least-total-cost pairing of one tier's incidents with the free units.

    A unit outside an incident's ranked list costs `big`, more than any sum of real costs, so
    the solver takes as many real pairs as exist; pairs left at `big` are dropped.
    """
    col_of = {u: c for c, u in enumerate(free)}
    cost = np.full((len(tier), len(free)), np.nan)
    pair: dict[tuple[int, int], _Candidate] = {}
    for r, inc in enumerate(tier):
        for cand in ranked[inc.incident_id]:
            c = col_of.get(cand.unit.unit_id)
            if c is not None:
                cost[r, c] = _cost(cand, inc, params)
                pair[r, c] = cand
    if not pair:
        return []
    big = (float(np.nanmax(cost)) + 1.0) * (min(cost.shape) + 1)
    rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=big))
    chosen = [
        (tier[r], pair.get((r, c))) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    return [(inc, cand) for inc, cand in chosen if cand is not None]


def swap_suggestions(
    router: Router,
    en_route: Sequence[tuple[IncidentView, UnitLike]],
    free_units: Sequence[UnitLike],
    now_s: float,
    params: RecommendParams = RecommendParams(),
) -> list[Swap]:
    """Free units that would reach an incident at least swap_min_gain_s sooner, best gain first.

    Each free unit and each incident appears at most once. The capability rules hold: a swap
    never takes the ALS off an ALS-required incident, and it must also gain swap_min_gain_s
    in ordering cost (so a P3 takes an ALS only for a larger gain).
    """
    taken = {u.unit_id for _, u in en_route}
    free = [u for u in _dispatchable(free_units) if u.unit_id not in taken]
    if not free or not en_route:
        return []
    k = min(len(free), len(en_route) + params.k)
    proposals: list[tuple[float, IncidentId, UnitId, Swap]] = []
    for inc, current in sorted(en_route, key=lambda pair: pair[0].incident_id):
        if current.status not in ON_ITS_WAY:
            continue
        now = router.rank(Positions.of([current.position]), inc.position, 1)
        if not now:  # the unit on its way has no route: nothing to compare against
            continue
        current_eta_s = now[0].eta_s
        current_cost = current_eta_s + _penalty_s(current.capability, inc.priority, params)
        for cand in _candidates(router, free, inc, k, now_s, params):
            downgrade = cand.unit.capability is Capability.BLS and current.capability is (
                Capability.ALS
            )
            if downgrade and inc.priority in params.als_required_for:
                continue
            gain_s = current_eta_s - cand.eta_s
            if gain_s >= params.swap_min_gain_s and (
                current_cost - _cost(cand, inc, params) >= params.swap_min_gain_s
            ):
                swap = Swap(
                    inc.incident_id, current.unit_id, cand.unit.unit_id, current_eta_s, cand.eta_s
                )
                proposals.append((-gain_s, inc.incident_id, cand.unit.unit_id, swap))
    proposals.sort(key=lambda p: p[:3])
    used_units: set[UnitId] = set()
    used_incidents: set[IncidentId] = set()
    out: list[Swap] = []
    for _, incident_id, unit_id, swap in proposals:
        if unit_id not in used_units and incident_id not in used_incidents:
            used_units.add(unit_id)
            used_incidents.add(incident_id)
            out.append(swap)
    return out


def divert_suggestion(
    router: Router,
    incident: IncidentView,
    on_their_way: Sequence[tuple[IncidentView, UnitLike]],
    free_eta_s: float | None,
    params: RecommendParams = RecommendParams(),
) -> Divert | None:
    """The unit on its way to a lower-priority incident that would reach `incident` soonest,
    if that beats the best free unit (`free_eta_s`, None: none free) by `swap_min_gain_s`;
    for an ALS-required incident an ALS unit comes first. None: no divert is worth it."""
    pairs = [(inc, u) for inc, u in on_their_way if inc.priority > incident.priority]
    if not pairs:
        return None
    ranked = router.rank(
        Positions.of([u.position for _, u in pairs]), incident.position, len(pairs)
    )
    best: tuple[float, float, str, Divert] | None = None
    for r in ranked:
        source, unit = pairs[r.unit]
        gain_s = None if free_eta_s is None else free_eta_s - r.eta_s
        if gain_s is not None and gain_s < params.swap_min_gain_s:
            continue
        cost = r.eta_s + _penalty_s(unit.capability, incident.priority, params)
        divert = Divert(unit.unit_id, source.incident_id, source.priority, r.eta_s, gain_s)
        key = (cost, r.eta_s, unit.unit_id, divert)
        if best is None or key[:3] < best[:3]:
            best = key
    return None if best is None else best[3]


def duplicate_candidates(
    new: IncidentView,
    open_incidents: Sequence[IncidentView],
    params: RecommendParams = RecommendParams(),
) -> list[IncidentId]:
    """Open incidents within the duplicate radius (great circle) and time window, nearest first."""
    near_in_time = [
        o
        for o in open_incidents
        if o.incident_id != new.incident_id
        and abs(o.received_at_s - new.received_at_s) <= params.duplicate_window_s
    ]
    if not near_in_time:
        return []
    d_m = haversine_m(
        new.lon, new.lat, [o.lon for o in near_in_time], [o.lat for o in near_in_time]
    )
    hits = [(float(d), o.incident_id) for d, o in zip(d_m.tolist(), near_in_time, strict=True)]
    return [i for d, i in sorted(hits) if d <= params.duplicate_radius_m]
