"""The city's traffic: congestion by road class and hour, and random road incidents.

Pure and seeded: `TrafficModel.reports(t_s)` says what a traffic feed would report at city
time `t_s` (seconds since midnight of day 0), the same answer for the same seed whatever was
asked before. `simulator.live.traffic_feed` posts the reports to a running server.

- **Congestion by road class**: each edge's class comes from its free-flow ambulance speed
  (`simulator.world.rhythm.road_classes`: local, collector, arterial) and its factor from the
  scenario's `Rhythm`, the same table the fast engine drives on: free flow at night, peaks
  07-09 and 17-19 when arterials slow most (x1.35) and local streets least (x1.10). One report
  per class and block of `block_edges` edge ids, so each POST stays under the server's body
  limit; each holds `valid_s` city seconds (the feed re-sends it before then).
- **Road incidents** (a crash, a closed lane): a Poisson process in city time,
  `incidents_per_hour` at weight 1, weighted by the period in force (denser at the peaks,
  sparse at night); hour h's incidents are drawn from a generator seeded by (seed, h), so
  they do not depend on the order of questions. Each slows a short run of edges along one
  street (200-800 m from a collector or arterial edge chosen by length, following the same
  street name) by a factor of 2-4 for 20-60 city minutes.

A report's `expires_in_s` is in city seconds; the feed converts it with the run's speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from routing.network import I32, I64, RoadNetwork
from simulator.errors import InvalidArgument
from simulator.world.rhythm import Rhythm, RoadClass, road_classes

HOUR_S = 3600.0
MAX_RUN_EDGES = 16  # a road incident's run stops after this many edges, however short


@dataclass(frozen=True)
class TrafficParams:
    """The feed's granularity and the incident process."""

    block_edges: int = 8192  # edge ids per class report (~50 KB of JSON at most)
    valid_s: float = 1800.0  # city seconds a class report holds
    incidents_per_hour: float = 2.0  # at weight 1 (a city the size of central Hangzhou)
    night_weight: float = 0.3  # incident rate weights by period
    day_weight: float = 1.0
    peak_weight: float = 2.0
    factor_min: float = 2.0
    factor_max: float = 4.0
    duration_min_s: float = 1200.0  # 20 city minutes
    duration_max_s: float = 3600.0  # 60
    run_min_m: float = 200.0
    run_max_m: float = 800.0

    def __post_init__(self) -> None:
        if not 1 <= self.block_edges <= 10_000:
            raise InvalidArgument("block_edges must be in 1..10000 (the server's body limit)")
        values = (
            self.valid_s,
            self.night_weight,
            self.day_weight,
            self.peak_weight,
            self.factor_min,
            self.duration_min_s,
            self.run_min_m,
        )
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise InvalidArgument("traffic parameters must be positive")
        if not (math.isfinite(self.incidents_per_hour) and self.incidents_per_hour >= 0):
            raise InvalidArgument("incidents_per_hour must be >= 0")
        pairs = (
            (self.factor_min, self.factor_max),
            (self.duration_min_s, self.duration_max_s),
            (self.run_min_m, self.run_max_m),
        )
        if any(not (lo <= hi < math.inf) for lo, hi in pairs):
            raise InvalidArgument("each min must not exceed its max")
        if not 1.0 <= self.factor_min <= 1000.0 or self.factor_max > 1000.0:
            raise InvalidArgument("incident factors must be in [1, 1000]")


@dataclass(frozen=True)
class RoadIncident:
    """A crash or closed lane: a factor on a run of edges from `start_s` to `end_s` (city)."""

    incident_id: str  # "R<hour>.<k>"
    start_s: float
    end_s: float
    factor: float
    edges: I64
    street: str | None


@dataclass(frozen=True)
class Report:
    """What a feed reports: a factor on edges for `expires_in_s` more city seconds."""

    key: str  # "class/arterial/0" (class, block) or "incident/R10.0"
    edges: I64
    factor: float
    expires_in_s: float
    street: str | None = None

    @property
    def is_incident(self) -> bool:
        return self.key.startswith("incident/")


class TrafficModel:
    """Congestion and incidents over one network for one seed and rhythm."""

    def __init__(
        self, net: RoadNetwork, rhythm: Rhythm, seed: int, params: TrafficParams | None = None
    ) -> None:
        self.net = net
        self.rhythm = rhythm
        self.seed = seed
        self.params = params or TrafficParams()
        self.classes: I32 = road_classes(net)
        ids = np.arange(net.n_edges, dtype=np.int64)
        block = ids // self.params.block_edges
        self._blocks: list[tuple[RoadClass, int, I64]] = [
            (cls, int(b), ids[(self.classes == cls) & (block == b)])
            for cls in RoadClass
            for b in range(int(block.max()) + 1)
            if ((self.classes == cls) & (block == b)).any()
        ]
        busy = np.nonzero(self.classes != RoadClass.LOCAL)[0]
        self._busy = busy if busy.size else ids  # a network of lanes only: any edge
        weight = net.length_m[self._busy]
        self._busy_p = weight / weight.sum()
        # incidents_of_hour(h): hour h's incidents, drawn once (memoised: asked every look)
        self.incidents_of_hour = lru_cache(maxsize=64)(self._draw_hour)

    def class_factor(self, cls: RoadClass, t_s: float) -> float:
        """The travel-time factor of a road class at city time t_s."""
        return self.rhythm.factors(self.rhythm.period(t_s))[int(cls)]

    def incident_weight(self, t_s: float) -> float:
        """Relative incident rate at t_s: the period in force (peaks busiest, night calmest)."""
        p = self.params
        period = self.rhythm.hourly_period[int(t_s // HOUR_S) % 24]
        return {"night": p.night_weight, "peak": p.peak_weight}.get(period, p.day_weight)

    def incidents_at(self, t_s: float) -> list[RoadIncident]:
        """The road incidents in force at t_s (started, not yet over), oldest first."""
        longest_h = math.ceil(self.params.duration_max_s / HOUR_S)
        now_h = math.floor(t_s / HOUR_S)
        return [
            inc
            for h in range(now_h - longest_h, now_h + 1)
            for inc in self.incidents_of_hour(h)
            if inc.start_s <= t_s < inc.end_s
        ]

    def reports(self, t_s: float) -> list[Report]:
        """Everything a feed reports at t_s: every class block, then the incidents in force."""
        valid = self.params.valid_s
        out = [
            Report(f"class/{cls.name.lower()}/{b}", edges, self.class_factor(cls, t_s), valid)
            for cls, b, edges in self._blocks
        ]
        out += [
            Report(f"incident/{i.incident_id}", i.edges, i.factor, i.end_s - t_s, i.street)
            for i in self.incidents_at(t_s)
        ]
        return out

    # --- incidents ---------------------------------------------------------------------------
    def _draw_hour(self, hour: int) -> tuple[RoadIncident, ...]:
        """Hour `hour`'s incidents (hour 0 starts at midnight of day 0), from its own stream."""
        p = self.params
        rng = np.random.default_rng([self.seed, 7107, hour + 1_000_000])  # hours may be < 0
        n = int(rng.poisson(p.incidents_per_hour * self.incident_weight(hour * HOUR_S)))
        starts = np.sort(hour * HOUR_S + rng.uniform(0.0, HOUR_S, n))
        out = []
        for k, start in enumerate(starts.tolist()):
            duration = float(rng.uniform(p.duration_min_s, p.duration_max_s))
            factor = round(float(rng.uniform(p.factor_min, p.factor_max)), 2)
            first = int(rng.choice(self._busy, p=self._busy_p))
            edges = self._run(first, float(rng.uniform(p.run_min_m, p.run_max_m)), rng)
            name = int(self.net.edge_name[first])
            street = str(self.net.names[name]) if name >= 0 else None
            out.append(RoadIncident(f"R{hour}.{k}", start, start + duration, factor, edges, street))
        return tuple(out)

    def _run(self, first: int, run_m: float, rng: np.random.Generator) -> I64:
        """Edges from `first` onwards along the road (same street name where there is one)."""
        net = self.net
        run, seen, length = [first], {first}, float(net.length_m[first])
        edge = first
        while length < run_m and len(run) < MAX_RUN_EDGES:
            head = int(net.edge_head[edge])
            nxt = np.arange(net.fwd_indptr[head], net.fwd_indptr[head + 1])
            nxt = nxt[(nxt != net.twin[edge]) & ~np.isin(nxt, list(seen))]
            if nxt.size == 0:
                break
            same = nxt[net.edge_name[nxt] == net.edge_name[edge]]
            edge = int(same[0]) if same.size else int(rng.choice(nxt))
            run.append(edge)
            seen.add(edge)
            length += float(net.length_m[edge])
        return np.asarray(sorted(run), dtype=np.int64)
