"""The conflict alarm: which of a call's sources cannot be true beside the others, and by how far.

Leave one out: for each kind of evidence (a fix kind's fixes together, since multipath moves
them together; the cell sector; the words) the posterior of *the other kinds* is formed on the
fusion's samples, and its high-mass region (`conflict_region_share` of its weight) is compared
with the left-out source's own region (fixes: `conflict_fix_sigmas` about the point; words:
the top candidates, streets `conflict_street_m` either side). A kind whose region lies more
than `conflict_margin_m` from the others' is flagged. Measuring against everything else at once
averages the other sources' own errors away, so the alarm tracks the left-out source's true
error better than any one pair can. The culprit is the flagged kind whose region leaves out the
estimate; two flagged kinds the estimate cannot choose between are named together. A fix set
aside as stale (or as a jump) farther than `stale_conflict_m` from the estimate is flagged too:
the handset was elsewhere minutes ago. Tuned against the generator's planted truth
(docs/location-evaluation.md). Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from location_fusion.fixes import DeviceFix
from location_fusion.geo import F64, LocalFrame
from location_fusion.sources import FixSource, Source
from location_fusion.trust import FusionParams


@dataclass(frozen=True)
class Conflict:
    """Sources that cannot all be true: who, how far apart, and what to ask the caller."""

    sources: tuple[str, ...]
    distance_m: float
    message: str


def find_apart(
    sources: list[Source],
    xy: tuple[F64, F64],
    core: F64,
    block: NDArray[np.int_],
    params: FusionParams,
    estimate: tuple[float, float] | None = None,
) -> Conflict | None:
    """Pairs of sources of different kinds whose regions lie more than the margin apart.

    `core` holds each source's distance outside its own region at every sample (S, N) and
    `block` the source each sample was drawn from.
    """
    margin = params.conflict_margin_m
    apart: list[tuple[int, int, float]] = []
    for a, b in combinations(range(len(sources)), 2):
        if sources[a].name == sources[b].name:  # one kind's fixes err together: no witness
            continue
        dist = _gap(sources, xy, core, block, a, b)
        if dist > margin:
            apart.append((a, b, dist))
    if not apart:
        return None
    named = {sources[i].name for pair in apart for i in pair[:2]}
    culprits: list[str] = []
    if estimate is not None:
        ex, ey = np.array([estimate[0]]), np.array([estimate[1]])
        for n in sorted(named):
            mine = [s for s in sources if s.name == n]
            if min(float(s.core_distance(ex, ey)[0]) for s in mine) > margin:
                culprits.append(n)
    dist = max(p[2] for p in apart)
    if len(culprits) == 1:
        others = sorted(named - set(culprits))
        msg = f"{culprits[0]} disagrees with {' and '.join(others)} by {dist:.0f} m"
        return Conflict((culprits[0],), dist, msg + ": confirm location")
    involved = tuple(sorted(named))
    msg = f"{' and '.join(involved)} disagree by {dist:.0f} m: confirm location"
    return Conflict(involved, dist, msg)


def _gap(
    sources: list[Source],
    xy: tuple[F64, F64],
    core: F64,
    block: NDArray[np.int_],
    a: int,
    b: int,
) -> float:
    """Metres between two sources' regions: exact from a fix's centre, else on the samples
    (the least distance to one's region from the other's samples inside its own)."""
    sa, sb = sources[a], sources[b]
    if isinstance(sb, FixSource) and not isinstance(sa, FixSource):
        sa, sb, a, b = sb, sa, b, a
    if isinstance(sa, FixSource):  # a fix's region is a disc: measure from its centre
        to_b = float(sb.core_distance(np.array([sa.x]), np.array([sa.y]))[0])
        return max(to_b - sa.core_radius_m, 0.0)
    dist = min(_sampled_gap(core, block, a, b), _sampled_gap(core, block, b, a))
    if math.isinf(dist):  # beyond the bounded search: measure the gap exactly
        dist = min(
            _exact_gap(sources, xy, core, block, a, b), _exact_gap(sources, xy, core, block, b, a)
        )
    return dist


def _sampled_gap(core: F64, block: NDArray[np.int_], a: int, b: int) -> float:
    """Least distance to a's region from b's samples inside b's own region."""
    mine = block == b
    inside = mine & (core[b] <= 0)
    pick = inside if inside.any() else mine  # a region too thin for any sample: use them all
    return float(core[a][pick].min())


def _exact_gap(
    sources: list[Source], xy: tuple[F64, F64], core: F64, block: NDArray[np.int_], a: int, b: int
) -> float:
    mine = block == b
    inside = mine & (core[b] <= 0)
    pick = inside if inside.any() else mine
    return float(sources[a].core_distance(xy[0][pick], xy[1][pick]).min())


def stale_apart(
    stale: list[DeviceFix],
    frame: LocalFrame,
    estimate: tuple[float, float],
    now_s: float,
    params: FusionParams,
) -> Conflict | None:
    """A fix set aside as stale lying more than `stale_conflict_m` from the estimate."""
    far = []
    for f in stale:
        x, y = frame.to_xy(f.lon, f.lat)
        d = math.hypot(float(x) - estimate[0], float(y) - estimate[1])
        if d > params.stale_conflict_m:
            far.append((d, f))
    if not far:
        return None
    d, f = max(far, key=lambda df: df[0])
    age = now_s - f.observed_at_s
    msg = f"{f.source} from {age:.0f} s ago lies {d:.0f} m from the estimate: confirm location"
    return Conflict((f.source,), d, msg)
