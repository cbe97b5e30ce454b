"""Probe speeds: how slowly the fleet really drives each road edge, as congestion factors.

Every unit's tablet reports a position a second; the server snaps them to the road in batches
(`dispatch.http.loops.run_positions`). `ProbeLearner.observe` takes one batch (unit ids, edge and
fraction along it, whether the unit is driving) with the time, and returns the edges whose
learned factor changed. Pure: arrays in, factors out, no clock and no I/O; it reads only the
network's static arrays (lengths, free-flow times, tails, heads, twins).

Samples. Each driving unit keeps an anchor (its last road position and when it was there). A
new position makes a sample when it is on the anchor's edge, its twin (the same road the other
way: snapping a two-way street may pick either direction), or the next edge along the road
(one edge's head is the other's tail, twins considered). The free-flow seconds of the road
covered (fraction x `base_time_s`) over the seconds it took is the sample's speed relative to
an ambulance at free flow. A move shorter than `jitter_m` is GNSS noise: the anchor stays, so a
unit waiting at a red light and moving on makes one slow sample that includes the wait. A
unit that stays put longer than `max_stop_s` is parked: its wait is dropped. Nothing is
learned from units that are not driving (at station, on scene, at hospital, assigned, out of
service), from positions off the road, from jumps over more than one edge boundary, and from
moves faster than `max_speedup` x free flow (a glitch; also every move of a simulated city
run faster than real time, whose units cover road `speed` times faster than the clock).

Estimate. Per edge, exponentially decayed sums (half-life `half_life_s`) of sample count,
free-flow seconds and observed seconds: the factor is observed / free (a ratio of sums, so
stops and jitter in report times average out), clipped to [1, MAX_FACTOR], once at least
`min_samples` samples covering `min_free_s` free-flow seconds (half of a shorter edge)
support it. An edge without a sample for `max_age_s` starts again from nothing. A factor is
handed out when it moved by `min_change` since the last time, or when that is half its
lifetime ago (a refresh); 1.0 says "the fleet no longer sees a jam here".

Precedence with the feed (applied by `dispatch.core.traffic.TrafficBook`): a learned factor is a
probe entry that expires `expires_in_s` after it was last handed out; on an edge with both a
feed jam and a probe entry, the slower of the two wins (the larger factor). The feed can say a
road is shut before any unit drives it; the fleet can say a road is slower than the feed knows;
neither can make a road look faster than the other one reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dispatch.core.model import UnitStatus
from dispatch.errors import InvalidEvent
from routing.network import RoadNetwork

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

MAX_FACTOR = 1000.0  # dispatch.core.traffic's bound (an effectively closed road)

#: Statuses in which a crew drives: their positions are probes of the road.
DRIVING = frozenset({UnitStatus.EN_ROUTE, UnitStatus.TRANSPORTING, UnitStatus.AVAILABLE_ON_ROAD})


@dataclass(frozen=True)
class ProbeParams:
    """How much evidence makes a factor, and how long it lasts."""

    min_samples: float = 3.0  # (decayed) samples on an edge before it gets a factor
    min_free_s: float = 2.0  # free-flow seconds of road they covered (half a shorter edge)
    half_life_s: float = 300.0  # a sample's weight halves every 5 minutes
    max_age_s: float = 900.0  # an edge with no sample for 15 minutes starts from nothing
    max_stop_s: float = 180.0  # within jitter_m of one spot longer than this: parked
    jitter_m: float = 3.0  # moves shorter than this are GNSS noise (metres)
    max_speedup: float = 2.0  # faster than 2x ambulance free flow: a jump, not driving
    min_change: float = 0.1  # hand a factor out again when it moved this much
    expires_in_s: float = 600.0  # a learned factor's lifetime after it was last handed out

    def __post_init__(self) -> None:
        for name in (
            "min_samples",
            "min_free_s",
            "half_life_s",
            "max_age_s",
            "max_stop_s",
            "jitter_m",
            "max_speedup",
            "min_change",
            "expires_in_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidEvent(f"probe parameter {name} must be positive, got {value!r}")


@dataclass(frozen=True)
class Learned:
    """Edges whose learned factor changed (or is due a refresh), and that factor (1.0: none)."""

    edges: I64
    factors: F64


class ProbeLearner:
    """Per-unit anchors and per-edge decayed sums over one road network (one thread at a time)."""

    def __init__(self, net: RoadNetwork, params: ProbeParams | None = None) -> None:
        self.params = params or ProbeParams()
        self._len_m = net.length_m
        self._free_s = net.base_time_s
        self._tail = net.edge_tail.astype(np.int64)
        self._head = net.edge_head.astype(np.int64)
        self._twin = net.twin.astype(np.int64)
        m = net.n_edges
        self._n = np.zeros(m)  # decayed sample count
        self._sum_free_s = np.zeros(m)
        self._sum_obs_s = np.zeros(m)
        self._last_at_s = np.full(m, -np.inf)
        self._sent = np.ones(m)  # the factor last handed out (1.0: none)
        self._sent_at_s = np.full(m, -np.inf)
        self._slot: dict[str, int] = {}
        self._anchor_edge = np.full(64, -1, dtype=np.int64)
        self._anchor_frac = np.zeros(64)
        self._anchor_at_s = np.zeros(64)

    def factor(self, edge: int) -> float:
        """The factor last handed out for an edge (1.0 when none)."""
        return float(self._sent[edge])

    def observe(
        self,
        unit_ids: Sequence[str],
        edges: Sequence[int] | I64,
        fractions: Sequence[float] | F64,
        driving: Sequence[bool] | B,
        now_s: float,
    ) -> Learned:
        """One batch of road positions at `now_s` (edge -1: off the road); what changed."""
        e = np.asarray(edges, dtype=np.int64)
        f = np.asarray(fractions, dtype=np.float64)
        live = np.asarray(driving, dtype=np.bool_) & (e >= 0)
        slots = self._slots(unit_ids)
        ae, af, at = self._anchor_edge[slots], self._anchor_frac[slots], self._anchor_at_s[slots]
        dt = now_s - at
        has = live & (ae >= 0) & (dt > 0)
        edge_out, free_out, obs_out, moved = self._samples(ae, af, e, f, dt, has)
        # Anchors: off the road or not driving -> none; a move or a reset -> here; else kept.
        restart = live & ((ae < 0) | moved)
        keep_anchor = live & (ae >= 0) & ~moved
        new_e = np.where(restart, e, np.where(keep_anchor, ae, -1))
        self._anchor_edge[slots] = new_e
        self._anchor_frac[slots] = np.where(restart, f, af)
        self._anchor_at_s[slots] = np.where(restart, now_s, at)
        if edge_out.size == 0:
            return Learned(np.zeros(0, dtype=np.int64), np.zeros(0))
        return self._accumulate(edge_out, free_out, obs_out, now_s)

    # --- samples ------------------------------------------------------------------------------
    def _samples(
        self, ae: I64, af: F64, e: I64, f: F64, dt: F64, has: B
    ) -> tuple[I64, F64, F64, B]:
        """Pieces (edge, free-flow s, observed s) of the units' moves, and which units are to
        re-anchor: they moved (a sample, a jump) or stayed put too long (parked)."""
        p = self.params
        n = e.shape[0]
        moved = np.zeros(n, dtype=np.bool_)
        idx = np.nonzero(has)[0]
        if idx.size == 0:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int64), empty, empty, moved
        pe, pf, ce, cf, d = ae[idx], af[idx], e[idx], f[idx], dt[idx]
        tw, ctw = self._twin[pe], self._twin[ce]
        # Same road: the anchor's edge or its twin; position q on the anchor's edge.
        same = (ce == pe) | ((ce == tw) & (tw >= 0))
        q = np.where(ce == pe, cf, 1.0 - cf)
        along_m = (q - pf) * self._len_m[pe]
        backwards = along_m < 0
        same_edge = np.where(backwards, tw, pe)  # driving the other way: on the twin
        same_free = np.abs(q - pf) * self._free_s[pe]
        small = same & (np.abs(along_m) < p.jitter_m)
        same_ok = same & ~small & (same_edge >= 0)
        # The next edge: anchor edge a (or its twin) ends where edge b (or its twin) starts.
        a, fa, b, fb = np.full_like(pe, -1), pf.copy(), np.full_like(ce, -1), cf.copy()
        combos = (
            (pe, pf, ce, cf),
            (pe, pf, ctw, 1.0 - cf),
            (tw, 1.0 - pf, ce, cf),
            (tw, 1.0 - pf, ctw, 1.0 - cf),
        )
        for a_e, a_f, b_e, b_f in combos:
            ok = ~same & (a < 0) & (a_e >= 0) & (b_e >= 0)
            ok &= self._head[np.maximum(a_e, 0)] == self._tail[np.maximum(b_e, 0)]
            a, fa = np.where(ok, a_e, a), np.where(ok, a_f, fa)
            b, fb = np.where(ok, b_e, b), np.where(ok, b_f, fb)
        next_ok = a >= 0
        a0, b0 = np.maximum(a, 0), np.maximum(b, 0)
        free_a = np.where(next_ok, (1.0 - fa) * self._free_s[a0], 0.0)
        free_b = np.where(next_ok, fb * self._free_s[b0], 0.0)
        free = np.where(same_ok, same_free, free_a + free_b)
        fast = free > p.max_speedup * d  # faster than any ambulance: a jump
        too_late = d > p.max_stop_s  # parked, or the tablet was silent: not a drive
        sample = (same_ok | next_ok) & ~fast & ~too_late
        moved[idx] = ~small  # a move or a jump; a unit parked keeps its anchor (too late)
        # Pieces: one on the same road, or two (the rest of a, the start of b) split by time.
        s1 = sample & same_ok
        s2 = sample & next_ok
        share_a = np.divide(
            free_a, free_a + free_b, out=np.zeros_like(free_a), where=(free_a + free_b) > 0
        )
        edge_out = np.concatenate([same_edge[s1], a[s2], b[s2]])
        free_out = np.concatenate([same_free[s1], free_a[s2], free_b[s2]])
        obs_out = np.concatenate([d[s1], d[s2] * share_a[s2], d[s2] * (1.0 - share_a[s2])])
        keep = free_out > 0
        return edge_out[keep], free_out[keep], obs_out[keep], moved

    # --- estimates -----------------------------------------------------------------------------
    def _accumulate(self, edge: I64, free_s: F64, obs_s: F64, now_s: float) -> Learned:
        p = self.params
        touched = np.unique(edge)
        age_s = now_s - self._last_at_s[touched]
        keep = np.where(age_s > p.max_age_s, 0.0, np.exp2(-age_s / p.half_life_s))
        self._n[touched] *= keep
        self._sum_free_s[touched] *= keep
        self._sum_obs_s[touched] *= keep
        np.add.at(self._n, edge, 1.0)
        np.add.at(self._sum_free_s, edge, free_s)
        np.add.at(self._sum_obs_s, edge, obs_s)
        self._last_at_s[touched] = now_s
        free = self._sum_free_s[touched]
        need_s = np.minimum(p.min_free_s, 0.5 * self._free_s[touched])  # a short edge: half
        enough = (self._n[touched] >= p.min_samples) & (free >= need_s)
        factor = np.clip(self._sum_obs_s[touched] / np.maximum(free, 1e-9), 1.0, MAX_FACTOR)
        sent = self._sent[touched]
        changed = np.abs(factor - sent) >= p.min_change
        due = (sent > 1.0) & (now_s - self._sent_at_s[touched] >= p.expires_in_s / 2)
        out = enough & (changed | due)
        edges_out, factors_out = touched[out], factor[out]
        self._sent[edges_out] = factors_out
        self._sent_at_s[edges_out] = now_s
        return Learned(edges_out, factors_out)

    def _slots(self, unit_ids: Sequence[str]) -> I64:
        slot = self._slot
        for unit_id in unit_ids:
            if unit_id not in slot:
                slot[unit_id] = len(slot)
        if len(slot) > self._anchor_edge.shape[0]:
            grow = max(len(slot), 2 * self._anchor_edge.shape[0]) - self._anchor_edge.shape[0]
            self._anchor_edge = np.concatenate([self._anchor_edge, np.full(grow, -1)])
            self._anchor_frac = np.concatenate([self._anchor_frac, np.zeros(grow)])
            self._anchor_at_s = np.concatenate([self._anchor_at_s, np.zeros(grow)])
        return np.fromiter((slot[u] for u in unit_ids), dtype=np.int64, count=len(unit_ids))
