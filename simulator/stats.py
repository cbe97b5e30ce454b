"""Confidence intervals for a simulation's figures: shares, medians, and the spread over seeds.

- A share of n independent runs (arrests) gets the Wilson score interval, which stays inside
  0..1 and keeps its coverage near 0 % and 100 %, where the plain normal interval collapses
  (Wilson, JASA 1927; Brown, Cai and DasGupta, Stat. Sci. 2001).
- A median gets the distribution-free interval between two order statistics, chosen from the
  Binomial(n, 1/2) law of how many values fall below the true median; it holds for any
  distribution, including one with infinite values ("never came").
- Independent replications (seeds) get a Student-t interval on the mean of their shares: it
  says how much the whole study would move with another draw of the world, not only of the
  arrests inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, t

from simulator.errors import InvalidArgument

Z95 = 1.959963984540054  # two-sided 95 % standard-normal quantile


@dataclass(frozen=True)
class Share:
    """k of n, with its Wilson 95 % interval and, over several seeds, their t interval."""

    k: int
    n: int
    lo: float
    hi: float
    seed_lo: float | None = None  # None with a single seed
    seed_hi: float | None = None

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan


@dataclass(frozen=True)
class Median:
    """A median with its distribution-free 95 % interval (inf: more than half never happened)."""

    value: float
    lo: float
    hi: float
    n: int


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials; (nan, nan) for n = 0."""
    if not (0 <= k <= n):
        raise InvalidArgument(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # In exact arithmetic the lower end is 0 at k = 0 and the upper 1 at k = n: no rounding.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def share(k: int, n: int, per_seed: Sequence[float] = ()) -> Share:
    """A Share of k in n; `per_seed` shares (two or more) add the between-seed interval."""
    lo, hi = wilson(k, n)
    spread = seed_interval(per_seed)
    if spread is None:
        return Share(k, n, lo, hi)
    return Share(k, n, lo, hi, max(spread[0], 0.0), min(spread[1], 1.0))  # a share is in 0..1


def median_ci(values: Sequence[float] | np.ndarray) -> Median:
    """The median and the order-statistic interval that covers it with >= 95 % probability.

    With the values sorted x(1) <= ... <= x(n), the interval is [x(j), x(n-j+1)] where j is
    the largest index with P(Binomial(n, 1/2) < j) <= 2.5 %. For n < 6 no such pair exists
    and the interval is the whole range.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = int(x.size)
    if n == 0:
        return Median(math.nan, math.nan, math.nan, 0)
    j = int(binom.ppf(0.025, n, 0.5))  # P(B <= j - 1) <= 2.5 % < P(B <= j)
    j = max(j, 1)
    return Median(float(np.median(x)), float(x[j - 1]), float(x[n - j]), n)


def seed_interval(per_seed: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the mean of independent replications; None for fewer than two."""
    v = np.asarray(per_seed, dtype=np.float64)
    if v.size < 2:
        return None
    mean = float(v.mean())
    half = float(t.ppf(0.5 + level / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean - half, mean + half
