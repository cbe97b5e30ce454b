"""Fuse fixes, a cell sector and spoken places into one estimate with an honest 95 % region.

Bayes by importance sampling: the posterior is the product of the sources' densities (each a
robust mixture, see `location_fusion.sources`); samples are drawn from the sources themselves
(a defensive mixture, so every plausible area is covered) and weighted by posterior/proposal.
The point estimate is the posterior's main mode (mean shift from the sample holding the most
weight nearby); the 95 % region is the circle about it holding 95 % of the weight, never smaller
than the sources' precisions combined can justify. Which fixes count, and how much, is
`location_fusion.trust` (stale fixes are listed but set aside). Sources that lie too far apart,
or a stale fix far from the estimate, raise the conflict alarm naming them and their distance
(`location_fusion.conflict`). Pure: seeded, no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from location_fusion.cells import Sector
from location_fusion.conflict import Conflict as Conflict  # re-exported for callers
from location_fusion.conflict import find_apart, stale_apart
from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Place
from location_fusion.geo import F64, LocalFrame
from location_fusion.sources import CellSource, FixSource, Source, SpeechSource
from location_fusion.trust import FusionParams as FusionParams  # re-exported for callers
from location_fusion.trust import outlier_share, recency, split_stale


@dataclass(frozen=True)
class SourceWeight:
    """One source's part in the estimate: its share and how far its own point lies from it."""

    source: str  # "gnss", "wifi", "cell", "fused" (device fixes), "cell_sector", "speech"
    weight: float
    distance_m: float
    stale: bool = False  # a fix older than `stale_after_s`, listed but not used (weight 0)
    age_s: float | None = None  # device fixes: seconds between the fix and the estimate


@dataclass(frozen=True)
class Fused:
    """The fused position: point, 95 % circle, contributions and any conflict."""

    lat: float
    lon: float
    radius95_m: float
    sources: tuple[SourceWeight, ...]
    conflict: Conflict | None


def build_sources(
    fixes: list[DeviceFix],
    sector: Sector | None,
    places: list[Place],
    now_s: float,
    params: FusionParams,
) -> tuple[LocalFrame, list[Source]]:
    """The evidence as densities in one local frame (fixes in a canonical order)."""
    usable, _ = split_stale(fixes, now_s, params, sector is not None or bool(places))
    if usable:
        ref = (usable[-1].lon, usable[-1].lat)
    elif sector is not None:
        ref = (sector.lon, sector.lat)
    elif places:
        ref = (places[0].lon, places[0].lat)
    else:
        raise InvalidInput("nothing to fuse")
    frame = LocalFrame(*ref)
    sources: list[Source] = []
    suspect = {kind: outlier_share(usable, kind, params) for kind in {f.source for f in usable}}
    kind_total: dict[str, float] = {}
    for f in usable:
        kind_total[f.source] = kind_total.get(f.source, 0.0) + recency(f, usable, params)
    for f in usable:
        age = max(0.0, now_s - f.observed_at_s)
        x, y = frame.to_xy(f.lon, f.lat)
        sigma = math.hypot(max(f.sigma_m, params.min_sigma_m), params.drift_mps * age)
        sources.append(
            FixSource(
                f.source,
                float(x),
                float(y),
                sigma,
                suspect[f.source],
                max(params.outlier_sigma_m, 2 * sigma),
                recency(f, usable, params) / kind_total[f.source],
                params.conflict_fix_sigmas * sigma,
                params.outlier_mid_share,
                max(params.outlier_mid_sigma_m, 2 * sigma),
            )
        )
    if sector is not None:
        sources.append(CellSource(sector, frame, name="cell_sector"))
    if places:
        sources.append(
            SpeechSource(
                places,
                frame,
                params.street_sigma_m,
                params.speech_outlier_p,
                street_core_m=params.conflict_street_m,
                point_core_scale=params.conflict_point_scale,
                core_share_ratio=params.conflict_speech_ratio,
            )
        )
    return frame, sources


def fuse(
    fixes: list[DeviceFix],
    sector: Sector | None,
    places: list[Place],
    now_s: float,
    params: FusionParams | None = None,
) -> Fused | None:
    """The fused estimate, or None when there is no evidence at all."""
    params = params or FusionParams()
    if not fixes and sector is None and not places:
        return None
    used, stale = split_stale(fixes, now_s, params, sector is not None or bool(places))
    frame, sources = build_sources(fixes, sector, places, now_s, params)
    x, y, block, logs, core = _draw(sources, params)
    weights = np.array([s.weight for s in sources])[:, None]
    log_post = (weights * logs).sum(axis=0)
    log_q = np.logaddexp.reduce(logs, axis=0) - math.log(len(sources))
    lw = log_post - log_q
    w = np.exp(lw - lw.max())
    w /= w.sum()
    tight = min((s.sigma_m for s in sources if isinstance(s, FixSource)), default=np.inf)
    ex, ey = _mode(x, y, w, log_post, min(params.bandwidth_m, max(2.0, 0.5 * tight)))
    d = np.hypot(x - ex, y - ey)
    order = np.argsort(d)
    r95 = float(d[order][np.searchsorted(np.cumsum(w[order]), 0.95)])
    radius = max(r95, min(_floor_m(sources), 5000.0), 5.0)
    conflict = find_apart(sources, (x, y), core, block, params, (ex, ey))
    lon, lat = frame.to_lonlat(ex, ey)
    ages = [max(0.0, now_s - f.observed_at_s) for f in used]  # build_sources' order
    shares = _shares(sources, ex, ey, conflict, ages)
    conflict = conflict or stale_apart(stale, frame, (ex, ey), now_s, params)
    set_aside = tuple(
        SourceWeight(f.source, 0.0, _distance(frame, f, ex, ey), True, now_s - f.observed_at_s)
        for f in stale
    )
    return Fused(
        lat=float(lat),
        lon=float(lon),
        radius95_m=radius,
        sources=shares + set_aside,
        conflict=conflict,
    )


def _distance(frame: LocalFrame, fix: DeviceFix, ex: float, ey: float) -> float:
    x, y = frame.to_xy(fix.lon, fix.lat)
    return float(math.hypot(float(x) - ex, float(y) - ey))


def _floor_m(sources: list[Source]) -> float:
    """The least 95 % radius the evidence can justify: the sources' 95 % radii combined as
    independent precisions (1/r^2 add up), so two agreeing fixes give less than either.

    Guards the sampled radius against too few samples in a sharp posterior.
    """
    return 1.0 / math.sqrt(sum(s.weight / max(s.r95_m, 1.0) ** 2 for s in sources))


def find_conflict(
    fixes: list[DeviceFix],
    sector: Sector | None,
    places: list[Place],
    now_s: float,
    params: FusionParams | None = None,
) -> Conflict | None:
    """Whether this evidence holds sources that cannot all be true (no estimate needed)."""
    params = params or FusionParams()
    if not fixes and sector is None and not places:
        return None
    _, sources = build_sources(fixes, sector, places, now_s, params)
    x, y, block, _, core = _draw(sources, params)
    return find_apart(sources, (x, y), core, block, params)


def _draw(
    sources: list[Source], params: FusionParams
) -> tuple[F64, F64, NDArray[np.int_], F64, F64]:
    """Samples from every source (an equal share each), and every source evaluated on them.

    Returns x, y, the drawing source of each sample, log densities (S, N) and the distance
    of each sample outside each source's 95 % region (S, N).
    """
    rng = np.random.default_rng(params.seed)
    per = max(params.samples // len(sources), 50)
    xs, ys = zip(*(s.sample(per, rng) for s in sources), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    block = np.repeat(np.arange(len(sources)), per)
    evaluated = [s.evaluate(x, y) for s in sources]
    logs = np.stack([e[0] for e in evaluated])
    core = np.stack([e[1] for e in evaluated])
    return x, y, block, logs, core


MODE_SCALE_M = 25.0  # the mode is where most weight lies within about this, not a sharp peak
MODE_MASS_RATIO = 2.0  # ...when it holds clearly more than the densest sample's neighbourhood


def _mode(x: F64, y: F64, w: F64, log_post: F64, h: float) -> tuple[float, float]:
    """Mean shift on the weighted samples, from the candidate holding the most weight nearby.

    Candidates are the densest and the heaviest samples; the densest one is the start unless
    another holds `MODE_MASS_RATIO` times its weight within `MODE_SCALE_M`. That keeps a sharp
    but unlikely peak (a precise fix the rest outvote, which the
    tail still grants a high density) from beating a broader mode holding most of the mass.
    """
    densest = int(np.argmax(log_post))
    picks = np.concatenate([[densest], np.argsort(log_post)[-12:], np.argsort(w)[-12:]])
    d2 = (x[None, :] - x[picks, None]) ** 2 + (y[None, :] - y[picks, None]) ** 2
    mass = (w[None, :] * np.exp(-0.5 * d2 / max(h, MODE_SCALE_M) ** 2)).sum(axis=1)
    best = int(np.argmax(mass))
    i = int(picks[best]) if mass[best] > MODE_MASS_RATIO * mass[0] else densest
    cx, cy = float(x[i]), float(y[i])
    for _ in range(8):
        k = w * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / h**2)
        total = k.sum()
        if total <= 0:
            break
        nx, ny = float((k * x).sum() / total), float((k * y).sum() / total)
        if math.hypot(nx - cx, ny - cy) < 0.1:
            cx, cy = nx, ny
            break
        cx, cy = nx, ny
    return cx, cy


def _shares(
    sources: list[Source], ex: float, ey: float, conflict: Conflict | None, ages: list[float]
) -> tuple[SourceWeight, ...]:
    """Each source's share: precision (1/r95^2) times tempering, zero for a named culprit.

    `ages` are the fix sources' ages (s), in order: fix sources come first.
    """
    out = []
    raw = []
    for s in sources:
        bad = conflict is not None and len(conflict.sources) == 1 and s.name in conflict.sources
        raw.append(0.0 if bad else s.weight / max(s.r95_m, 1.0) ** 2)
    total = sum(raw) or 1.0
    for i, (s, r) in enumerate(zip(sources, raw, strict=True)):
        ax, ay = s.anchor()
        age = ages[i] if isinstance(s, FixSource) and i < len(ages) else None
        out.append(SourceWeight(s.name, r / total, float(math.hypot(ax - ex, ay - ey)), False, age))
    return tuple(out)
