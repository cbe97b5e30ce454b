"""Fuse fixes, a cell sector and spoken places into one estimate with an honest 95 % region.

Bayes by importance sampling: the posterior is the product of the sources' densities (each a
robust mixture, see `location_fusion.sources`); samples are drawn from the sources themselves
(a defensive mixture, so every plausible area is covered) and weighted by posterior/proposal.
The point estimate is the posterior's main mode (mean shift from the densest sample); the 95 %
region is the circle about it holding 95 % of the weight, never smaller than the tightest single
source alone can justify. Sources whose own 95 % regions cannot overlap raise a conflict alarm
naming them and their distance. Pure: seeded, no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from location_fusion.cells import Sector
from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Place
from location_fusion.geo import F64, LocalFrame
from location_fusion.sources import CellSource, FixSource, Source, SpeechSource


@dataclass(frozen=True)
class FusionParams:
    """How much each kind of evidence is trusted, and how the posterior is computed."""

    outlier_p: tuple[tuple[str, float], ...] = (
        ("gnss", 0.25), ("wifi", 0.15), ("cell", 0.05), ("fused", 0.2),
    )  # fmt: skip  # share of fixes far off their stated accuracy (urban canyons, stale Wi-Fi)
    outlier_sigma_m: float = 250.0
    min_sigma_m: float = 3.0
    drift_mps: float = 1.0  # a caller may walk: sigma grows with a fix's age
    half_life_s: float = 300.0  # an older fix counts half as much per half-life
    max_age_s: float = 1800.0  # older fixes are ignored
    speech_outlier_p: float = 0.15  # "said the wrong street"
    street_sigma_m: float = 30.0
    samples: int = 1200
    bandwidth_m: float = 12.0
    conflict_margin_m: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("outlier_sigma_m", "min_sigma_m", "half_life_s", "max_age_s",
                     "street_sigma_m", "bandwidth_m"):  # fmt: skip
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InvalidInput(f"{name} must be positive")
        if not 0 <= self.speech_outlier_p < 1 or self.samples < 100:
            raise InvalidInput("speech_outlier_p must be in [0, 1) and samples >= 100")


@dataclass(frozen=True)
class SourceWeight:
    """One source's part in the estimate: its share and how far its own point lies from it."""

    source: str  # "gnss", "wifi", "cell", "fused" (device fixes), "cell_sector", "speech"
    weight: float
    distance_m: float


@dataclass(frozen=True)
class Conflict:
    """Sources that cannot all be true: who, how far apart, and what to ask the caller."""

    sources: tuple[str, ...]
    distance_m: float
    message: str


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
    outlier = dict(params.outlier_p)
    usable = sorted(
        (
            f
            for f in fixes
            if 0 <= now_s - f.observed_at_s <= params.max_age_s or f.observed_at_s > now_s
        ),
        key=lambda f: (f.observed_at_s, f.lat, f.lon, f.accuracy_m, f.source),
    )
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
    for f in usable:
        age = max(0.0, now_s - f.observed_at_s)
        x, y = frame.to_xy(f.lon, f.lat)
        sigma = math.hypot(max(f.sigma_m, params.min_sigma_m), params.drift_mps * age)
        sources.append(
            FixSource(f.source, float(x), float(y), sigma, outlier.get(f.source, 0.2),
                      max(params.outlier_sigma_m, 2 * sigma), 0.5 ** (age / params.half_life_s))
        )  # fmt: skip
    if sector is not None:
        sources.append(CellSource(sector, frame, name="cell_sector"))
    if places:
        sources.append(SpeechSource(places, frame, params.street_sigma_m, params.speech_outlier_p))
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
    frame, sources = build_sources(fixes, sector, places, now_s, params)
    rng = np.random.default_rng(params.seed)
    # Proposal: an equal share of samples from every source (Wi-Fi, GNSS... each fix counts).
    per = max(params.samples // len(sources), 50)
    xs, ys = zip(*(s.sample(per, rng) for s in sources), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    logs = np.stack([s.log_density(x, y) for s in sources])  # (S, N)
    weights = np.array([s.weight for s in sources])[:, None]
    log_post = (weights * logs).sum(axis=0)
    log_q = np.logaddexp.reduce(logs, axis=0) - math.log(len(sources))
    lw = log_post - log_q
    w = np.exp(lw - lw.max())
    w /= w.sum()
    ex, ey = _mode(x, y, w, log_post, params.bandwidth_m)
    d = np.hypot(x - ex, y - ey)
    order = np.argsort(d)
    r95 = float(d[order][np.searchsorted(np.cumsum(w[order]), 0.95)])
    floor = min(s.r95_m for s in sources)
    radius = max(r95, min(floor, 5000.0), 5.0)
    conflict = _conflict(sources, rng, params.conflict_margin_m, (ex, ey))
    lon, lat = frame.to_lonlat(ex, ey)
    return Fused(
        lat=float(lat),
        lon=float(lon),
        radius95_m=radius,
        sources=_shares(sources, ex, ey, conflict),
        conflict=conflict,
    )


def _mode(x: F64, y: F64, w: F64, log_post: F64, h: float) -> tuple[float, float]:
    """Mean shift on the weighted samples from the highest-density one."""
    i = int(np.argmax(log_post))
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


def _conflict(
    sources: list[Source],
    rng: np.random.Generator,
    margin_m: float,
    estimate: tuple[float, float] | None = None,
) -> Conflict | None:
    """Pairs of sources whose 95 % regions lie more than margin_m apart (newest fix only).

    The culprit is the source whose own region leaves out the estimate: the one the rest
    outvoted. When the estimate cannot tell (or is not given), the whole pair is named.
    """
    latest: dict[str, Source] = {}
    for s in sources:  # fixes come in time order: keep the newest per kind of source
        latest["device" if isinstance(s, FixSource) else s.name] = s
    kinds = list(latest.values())
    apart: list[tuple[Source, Source, float]] = []
    for a, b in combinations(kinds, 2):
        dist = min(_gap(a, b, rng), _gap(b, a, rng))
        if dist > margin_m:
            apart.append((a, b, dist))
    if not apart:
        return None
    named = {s.name: s for pair in apart for s in pair[:2]}
    culprits = []
    if estimate is not None:
        ex, ey = np.array([estimate[0]]), np.array([estimate[1]])
        culprits = [n for n, s in named.items() if float(s.core_distance(ex, ey)[0]) > margin_m]
    dist = max(p[2] for p in apart)
    if len(culprits) == 1:
        others = sorted(set(named) - set(culprits))
        msg = f"{culprits[0]} disagrees with {' and '.join(others)} by {dist:.0f} m"
        return Conflict((culprits[0],), dist, msg + ": confirm location")
    involved = tuple(sorted(named))
    msg = f"{' and '.join(involved)} disagree by {dist:.0f} m: confirm location"
    return Conflict(involved, dist, msg)


def _gap(a: Source, b: Source, rng: np.random.Generator) -> float:
    """Least distance from a's 95 % region to points of b's core (sampled)."""
    bx, by = b.sample(300, rng)
    inside = b.core_distance(bx, by) <= 0
    if not inside.any():
        ax, ay = b.anchor()
        bx, by = np.array([ax]), np.array([ay])
    else:
        bx, by = bx[inside], by[inside]
    return float(a.core_distance(bx, by).min())


def _shares(
    sources: list[Source], ex: float, ey: float, conflict: Conflict | None
) -> tuple[SourceWeight, ...]:
    """Each source's share: precision (1/r95^2) times tempering, zero for a named culprit."""
    out = []
    raw = []
    for s in sources:
        bad = conflict is not None and len(conflict.sources) == 1 and s.name in conflict.sources
        raw.append(0.0 if bad else s.weight / max(s.r95_m, 1.0) ** 2)
    total = sum(raw) or 1.0
    for s, r in zip(sources, raw, strict=True):
        ax, ay = s.anchor()
        out.append(SourceWeight(s.name, r / total, float(math.hypot(ax - ex, ay - ey))))
    return tuple(out)
