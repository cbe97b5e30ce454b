"""What a fast run measures as it goes: each unit's committed time, and minute samples.

A unit is committed from being notified of a call until it is available again (a unit taken
from one call straight to the next stays committed); only time inside [0, horizon) counts.
Every `sample_s` the run reports how many units are committed and how far each idle unit can
drive to each zone; the observer keeps the demand-weighted share of zones within the map
threshold and, per zone, the seconds it was covered.
"""

from __future__ import annotations

import numpy as np

from routing.network import F64


class Observer:
    """Busy time and minute samples of one run."""

    def __init__(self, n_units: int, n_zones: int, horizon_s: float, sample_s: float) -> None:
        self.horizon_s, self.sample_s = horizon_s, sample_s
        self.busy_since: list[float | None] = [None] * n_units
        self.busy_s = np.zeros(n_units)
        self.zone_covered_s = np.zeros(n_zones)
        self.next_sample_s = 0.0
        self._samples: list[tuple[float, int, float]] = []

    def committed(self, u: int, now_s: float) -> None:
        """Unit u is committed from now (no change if it already is)."""
        if self.busy_since[u] is None:
            self.busy_since[u] = now_s

    def released(self, u: int, now_s: float) -> None:
        """Unit u is available again from now."""
        since = self.busy_since[u]
        if since is not None:
            self.busy_s[u] += _overlap(since, now_s, 0.0, self.horizon_s)
            self.busy_since[u] = None

    def due(self, until_s: float) -> float | None:
        """The next sample time before `until_s` (and the horizon), or None."""
        t = self.next_sample_s
        return t if t < min(until_s, self.horizon_s) else None

    def sample(self, busy: int, times: F64 | None, threshold_s: float, weights: F64) -> None:
        """Record the sample due now: `busy` units committed; `times` (zones, idle units) the
        idle units' driving seconds to each zone (None: no idle unit)."""
        covered = np.zeros(self.zone_covered_s.shape[0], dtype=bool)
        if times is not None and times.size:
            covered = np.asarray((times <= threshold_s).any(axis=1))
        self._samples.append((self.next_sample_s, busy, float(weights[covered].sum())))
        self.zone_covered_s[covered] += self.sample_s
        self.next_sample_s += self.sample_s

    def close(self, now_s: float) -> None:
        """End of the run: count the units still committed up to now."""
        for u in range(len(self.busy_since)):
            self.released(u, now_s)

    def series(self) -> tuple[F64, F64, F64]:
        """(sample times, units committed, demand covered) as arrays."""
        s = np.array(self._samples, dtype=np.float64).reshape(-1, 3)
        return s[:, 0].copy(), s[:, 1].copy(), s[:, 2].copy()


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))
