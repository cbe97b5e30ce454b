"""The position gate: at most so many positions a second from each source (a unit's tablet, a
volunteer's phone), the newest of the others held until the limit allows it.

A tablet reports once a second; one sending a hundred times a second (a bug, a replay, an
attack) must not cost every console a frame and the server its work per position. Each source
has a token bucket holding one second's worth (`limit_per_s` tokens, refilled at that rate): a
position that finds a token passes; one that does not is held, replacing (and so dropping) any
position held before it, and passes as soon as a token comes (`due_in_s` says when; the shell
sets a timer), so a source's latest position is never kept back longer than 1 / `limit_per_s`
seconds. A source starts flooding at the first position held after `calm_s` without one:
`offer` then answers `Verdict.FLOODING`, once per flood, for the console's one frame.

Pure: the shell hands it the time (`now_s`, any monotonic clock in seconds) and keeps the held
positions themselves; the gate only counts.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

EPS = 1e-9  # a token short by float rounding is a token (a due release must pass)
K = TypeVar("K", bound=Hashable)  # a source's key, e.g. ("unit", "ALS01")


class Verdict(enum.Enum):
    PASS = "pass"  # apply it now
    HOLD = "hold"  # keep it (the newest) until `release` says it may pass
    FLOODING = "flooding"  # hold it, and the source has just started flooding


@dataclass
class SourceCount:
    """One source's bucket and counts (mutable: the gate updates it in place)."""

    tokens: float
    at_s: float  # when `tokens` was last brought up to date
    holding: bool = False
    held_at_s: float = -math.inf  # the last time a position was held
    passed: int = 0
    dropped: int = 0  # held, then replaced by a newer one before it could pass
    floods: int = 0  # times it started flooding


class PositionGate(Generic[K]):
    """Token buckets per source: `offer` each position, `release` a held one when it is due."""

    def __init__(self, limit_per_s: float, calm_s: float = 60.0) -> None:
        if not (math.isfinite(limit_per_s) and limit_per_s > 0):
            raise ValueError(f"limit_per_s must be a positive number, got {limit_per_s!r}")
        if not calm_s >= 0:
            raise ValueError(f"calm_s must be >= 0, got {calm_s!r}")
        self.limit_per_s = float(limit_per_s)
        self.burst = max(1.0, self.limit_per_s)  # one second's worth
        self.calm_s = float(calm_s)
        self.sources: dict[K, SourceCount] = {}

    def _bucket(self, source: K, now_s: float) -> SourceCount:
        count = self.sources.get(source)
        if count is None:
            count = self.sources[source] = SourceCount(self.burst, now_s)
        elif now_s > count.at_s:
            count.tokens = min(self.burst, count.tokens + (now_s - count.at_s) * self.limit_per_s)
            count.at_s = now_s
        return count

    def offer(self, source: K, now_s: float) -> Verdict:
        """A position from `source` at `now_s`: PASS it, or HOLD it as the source's newest
        (FLOODING when that starts a flood). A position held before it is dropped either way."""
        count = self._bucket(source, now_s)
        if count.holding:
            count.dropped += 1  # the one held before is superseded
            count.holding = False
        if count.tokens >= 1.0 - EPS:
            count.tokens -= 1.0
            count.passed += 1
            return Verdict.PASS
        starts = now_s - count.held_at_s > self.calm_s
        count.holding, count.held_at_s = True, now_s
        if starts:
            count.floods += 1
            return Verdict.FLOODING
        return Verdict.HOLD

    def due_in_s(self, source: K, now_s: float) -> float:
        """Seconds until `source` may pass a position (0: now)."""
        count = self._bucket(source, now_s)
        return max(0.0, (1.0 - count.tokens) / self.limit_per_s)

    def release(self, source: K, now_s: float) -> bool:
        """True if `source` holds a position and may pass it now (counted as passed); False if
        it holds none (a newer one passed meanwhile) or it is not yet due."""
        count = self._bucket(source, now_s)
        if not count.holding or count.tokens < 1.0 - EPS:
            return False
        count.tokens -= 1.0
        count.holding = False
        count.passed += 1
        return True

    def dropped(self) -> int:
        """Positions dropped over every source since the start."""
        return sum(c.dropped for c in self.sources.values())
