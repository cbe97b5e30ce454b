"""Mass-casualty distribution: how many patients of each triage colour go to which hospital.

Sending every casualty to the nearest hospital is the classic failure of mass-casualty
incidents: that hospital also receives the walking wounded who arrive by taxi, and its
resuscitation bays run out first. The plan instead minimises the total priority-weighted
transport time subject to each hospital's live capacity per colour:

- a patient of colour c to hospital h costs `weight[c] * ETA` (s): a red patient's minutes
  count three times a green's;
- a red patient at a hospital without trauma care costs as if it were `non_trauma_red_s`
  further away (bypass a nearer general hospital for a trauma centre up to ~30 min further,
  as field-triage bypass rules do);
- beyond `comfort_share` of a colour's capacity, each patient costs `surge_s` more, so load
  spreads before a hospital fills (unweighted: greens move further out than reds);
- past capacity, the k-th extra patient of a colour costs as if `k * overflow_s` (1 h per
  step) further away, so a red overflows a trauma centre only when no place, trauma or not,
  is free within about an hour; overflow spreads over the least-bad hospitals and is flagged.

The costs are convex in the count per hospital, so the problem is a min-cost flow, solved
exactly in integers by networkx's network simplex (a transportation problem; an LP with
integrality would give the same optimum but needs its own integrality guarantee). A small
plan (tens of patients, ten hospitals) has a few thousand arcs and solves in milliseconds.
Ambulance trips and rounds are not modelled: this says where, not in what order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import networkx as nx

from aed_map.errors import InvalidArgument


class Triage(StrEnum):
    RED = "red"  # immediate
    YELLOW = "yellow"  # delayed
    GREEN = "green"  # minor
    BLACK = "black"  # dead or expectant: not transported


TRANSPORTED = (Triage.RED, Triage.YELLOW, Triage.GREEN)
Cell = tuple[Triage, str]  # (colour, hospital id)


@dataclass(frozen=True)
class MciHospital:
    """A receiving hospital: road ETA from the scene, trauma care, live capacity per colour."""

    id: str
    name: str
    trauma: bool
    eta_s: float  # inf: unreachable
    red: int  # e.g. free resuscitation bays / trauma theatres
    yellow: int
    green: int
    total: int | None = None  # all colours together (staffed ED spaces); None: no joint limit

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidArgument("a hospital needs an id")
        if math.isnan(self.eta_s) or self.eta_s < 0:
            raise InvalidArgument(f"{self.id}: eta_s {self.eta_s!r} must be >= 0 or inf")
        for name in ("red", "yellow", "green", "total"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
                raise InvalidArgument(f"{self.id}: {name} capacity {v!r} is not a count")

    def capacity(self, colour: Triage) -> int:
        return int(getattr(self, colour.value))


@dataclass(frozen=True)
class MciParams:
    weight: Mapping[Triage, int] = field(
        default_factory=lambda: {Triage.RED: 3, Triage.YELLOW: 2, Triage.GREEN: 1}
    )
    non_trauma_red_s: int = 1_800
    comfort_share: float = 0.5
    surge_s: int = 120
    overflow_s: int = 3_600

    def __post_init__(self) -> None:
        if any(
            not (isinstance(self.weight.get(c), int) and self.weight[c] > 0) for c in TRANSPORTED
        ):
            raise InvalidArgument("weight needs a positive integer for red, yellow and green")
        for name in ("non_trauma_red_s", "surge_s", "overflow_s"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                raise InvalidArgument(f"{name} {v!r} must be an integer >= 0 (seconds)")
        if not 0.0 <= self.comfort_share <= 1.0:
            raise InvalidArgument("comfort_share must be in 0..1")


@dataclass(frozen=True)
class PlanLine:
    colour: Triage
    hospital_id: str
    count: int
    overflow: int  # of `count`, how many beyond the hospital's capacity
    eta_s: float
    explanation: str


@dataclass(frozen=True)
class MciPlan:
    lines: tuple[PlanLine, ...]
    cost: int  # the objective (weighted seconds), for comparing plans
    overflow: bool  # some line is beyond capacity: the hospitals must be warned
    unplaced: Mapping[Triage, int]  # no reachable hospital at all
    not_transported: int  # black


def base_cost(colour: Triage, h: MciHospital, params: MciParams) -> int:
    """Weighted seconds for one patient of `colour` to `h` within its comfortable capacity."""
    extra = params.non_trauma_red_s if colour is Triage.RED and not h.trauma else 0
    return params.weight[colour] * (round(h.eta_s) + extra)


def comfort(colour: Triage, h: MciHospital, params: MciParams) -> int:
    return math.floor(h.capacity(colour) * params.comfort_share)


def cell_cost(colour: Triage, h: MciHospital, regular: int, over: int, params: MciParams) -> int:
    """The objective's share for `regular` within capacity and `over` beyond it at one cell."""
    base = base_cost(colour, h, params)
    surge = max(0, regular - comfort(colour, h, params)) + over
    # The k-th patient past capacity costs weight * k * overflow_s: 1 + 2 + ... + over.
    overflow = params.weight[colour] * params.overflow_s * over * (over + 1) // 2
    return (regular + over) * base + surge * params.surge_s + overflow


def plan(
    counts: Mapping[Triage, int], hospitals: Sequence[MciHospital], params: MciParams | None = None
) -> MciPlan:
    """The least-cost distribution of the casualties (see the module docstring)."""
    p = params or MciParams()
    for c, n in counts.items():
        if not (isinstance(c, Triage) and isinstance(n, int) and n >= 0):
            raise InvalidArgument(f"count {c!r}: {n!r} is not a colour and a count")
    if len({h.id for h in hospitals}) != len(hospitals):
        raise InvalidArgument("hospital ids must be unique")
    reach = [h for h in hospitals if math.isfinite(h.eta_s)]
    need = {c: counts.get(c, 0) for c in TRANSPORTED}
    black = counts.get(Triage.BLACK, 0)
    if not reach:
        return MciPlan((), 0, False, {c: n for c, n in need.items() if n}, black)
    g: nx.MultiDiGraph[object] = nx.MultiDiGraph()
    g.add_node("sink", demand=sum(need.values()))
    arcs: list[tuple[Triage, object, int, bool, str]] = []  # colour, head, key, overflow?, id
    for c, n in need.items():
        g.add_node(c, demand=-n)
        for h in reach:
            cap, base, ok, node = h.capacity(c), base_cost(c, h, p), comfort(c, h, p), ("h", h.id)
            arcs.append((c, node, g.add_edge(c, node, capacity=ok, weight=base), False, h.id))
            surge = g.add_edge(c, node, capacity=cap - ok, weight=base + p.surge_s)
            arcs.append((c, node, surge, False, h.id))
            for k in range(1, n + 1):  # the k-th patient past capacity: weight * k * overflow_s
                extra = p.surge_s + p.weight[c] * k * p.overflow_s
                key = g.add_edge(c, "sink", capacity=1, weight=base + extra)
                arcs.append((c, "sink", key, True, h.id))
    for h in reach:
        limit = {} if h.total is None else {"capacity": h.total}
        g.add_edge(("h", h.id), "sink", weight=0, **limit)
    cost, flow = nx.network_simplex(g)
    regular: dict[Cell, int] = {}
    over: dict[Cell, int] = {}
    for c, head, key, is_over, hid in arcs:
        cells = over if is_over else regular
        cells[(c, hid)] = cells.get((c, hid), 0) + int(flow[c][head][key])
    lines = _explain(regular, over, reach, p)
    return MciPlan(lines, int(cost), any(x.overflow for x in lines), {}, black)


def _explain(
    regular: Mapping[Cell, int],
    over: Mapping[Cell, int],
    reach: Sequence[MciHospital],
    p: MciParams,
) -> tuple[PlanLine, ...]:
    """One line per (colour, hospital) with patients, nearest first within each colour."""
    lines = []
    for c in TRANSPORTED:
        ranked = sorted(reach, key=lambda h: (base_cost(c, h, p), h.id))
        for h in ranked:
            r, o = regular.get((c, h.id), 0), over.get((c, h.id), 0)
            if r + o == 0:
                continue
            tag = "trauma, " if h.trauma else ""
            head = f"{r + o} {c} → {h.name} ({tag}{h.eta_s / 60:.0f} min)"
            why = _why(c, h, ranked, regular, p)
            if o:
                free = [x.name for x in ranked if _free(c, x, regular)]
                left = (
                    f"the free {c} places are much further ({', '.join(free)})"
                    if free
                    else (f"no reachable hospital has a {c} place left")
                )
                why = f"OVER CAPACITY by {o}: {left}; {why}"
            lines.append(PlanLine(c, h.id, r + o, o, h.eta_s, f"{head}, {why}"))
    return tuple(lines)


def _why(
    c: Triage,
    h: MciHospital,
    ranked: Sequence[MciHospital],
    regular: Mapping[Cell, int],
    p: MciParams,
) -> str:
    """Why these patients go to h: it is the nearest, or why each nearer one takes no more."""
    reasons = []
    i = next(i for i, x in enumerate(ranked) if x.id == h.id)
    for other in ranked[:i]:
        used, cap = regular.get((c, other.id), 0), other.capacity(c)
        in_all = sum(regular.get((x, other.id), 0) for x in TRANSPORTED)
        if used >= cap:
            reasons.append(f"{other.name}'s {c} capacity is {cap}")
        elif other.total is not None and in_all >= other.total:
            reasons.append(f"{other.name} is full ({other.total} patients in all)")
        elif used >= comfort(c, other, p):
            reasons.append(f"{other.name} keeps headroom ({used} of {cap} {c} places used)")
        else:
            reasons.append(f"{other.name} is as good")
    if c is Triage.RED and not h.trauma and not any(x.trauma for x in ranked[:i]):
        later = [x for x in ranked[i + 1 :] if x.trauma]
        if later:
            extra = (later[0].eta_s - h.eta_s) / 60
            reasons.append(
                f"the nearest trauma centre, {later[0].name}, is {extra:.0f} min further"
            )
        else:
            reasons.append("no trauma centre is reachable")
    if not reasons:
        return "nearest trauma centre" if c is Triage.RED and h.trauma else "nearest hospital"
    return "because " + "; ".join(reasons)


def _free(c: Triage, h: MciHospital, regular: Mapping[Cell, int]) -> bool:
    """True if h could still take one more patient of colour c within its capacities."""
    in_all = sum(regular.get((x, h.id), 0) for x in TRANSPORTED)
    room = h.total is None or in_all < h.total
    return room and regular.get((c, h.id), 0) < h.capacity(c)
