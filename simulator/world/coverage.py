"""Expected coverage (MEXCLP): how much demand the idle units can be expected to reach in time.

Daskin's maximum expected covering location model (Transportation Science 17:48-70, 1983): each
unit is busy with probability q, independently, so a zone within reach of k units is covered
with probability 1 - q**k, and the expected covered demand is

    E = sum_j  w_j * (1 - q ** k_j)

The k-th unit adds w_j * (1 - q) * q ** (k - 1) to zone j. Jagtenberg, Bhulai and van der Mei
use this value online ("dynamic MEXCLP"): to send an idle unit to the base where it adds most
(Operations Research for Health Care 4:27-35, 2015) and to choose which unit to dispatch so the
ones left cover most (Health Care Manag Sci 20:517-531, 2017). Station placement uses it
offline, with stations as candidate sites.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from routing.network import F64, I64

Bool2 = NDArray[np.bool_]


def check_q(q: float) -> None:
    if not (0.0 <= q < 1.0):
        raise ValueError(f"the busy probability q must be in [0, 1), got {q!r}")


def expected(weights: F64, counts: I64 | F64, q: float) -> float:
    """Expected covered demand when zone j is within reach of counts[j] units."""
    return float(np.dot(weights, 1.0 - np.power(q, counts)))


def gain_of_adding(weights: F64, counts: I64 | F64, covers: Bool2, q: float) -> F64:
    """For each candidate (column of `covers`, zones x candidates): the expected covered demand
    one more unit there would add, given `counts` units already in reach of each zone."""
    marginal = weights * (1.0 - q) * np.power(q, counts)
    out: F64 = marginal @ covers
    return out


def loss_of_removing(weights: F64, counts: I64 | F64, covers: Bool2, q: float) -> F64:
    """For each unit (column of `covers`, already counted in `counts`): the expected covered
    demand lost if it left."""
    left = np.maximum(np.asarray(counts, dtype=np.float64) - 1.0, 0.0)
    marginal = weights * (1.0 - q) * np.power(q, left)
    out: F64 = marginal @ covers
    return out
