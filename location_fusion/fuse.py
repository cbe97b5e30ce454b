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
from numpy.typing import NDArray

from location_fusion.cells import Sector
from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Place
from location_fusion.geo import F64, LocalFrame
from location_fusion.sources import CellSource, FixSource, Source, SpeechSource


@dataclass(frozen=True)
class FusionParams:
    """How much each kind of evidence is trusted, and how the posterior is computed.

    `outlier_p` is the share of fixes of each source far off their stated accuracy. GNSS in a
    dense city is the usual offender (multipath in street canyons, 100-300 m while claiming
    10 m); Wi-Fi fixes are rarely far off in a city dense with access points. The defaults
    are the shares of the synthetic evaluation mix; calibrate them on real call logs.
    """

    outlier_p: tuple[tuple[str, float], ...] = (
        ("gnss", 0.35),
        ("wifi", 0.05),
        ("cell", 0.05),
        ("fused", 0.2),
    )
    outlier_sigma_m: float = 250.0
    min_sigma_m: float = 3.0
    drift_mps: float = 0.2  # callers mostly stay by the patient; sigma still grows with age
    half_life_s: float = 300.0  # an older fix counts half as much per half-life
    max_age_s: float = 1800.0  # older fixes are ignored
    speech_outlier_p: float = 0.15  # "said the wrong street"
    street_sigma_m: float = 30.0
    samples: int = 400
    bandwidth_m: float = 12.0  # mean-shift kernel; narrower around a sharp fix
    conflict_margin_m: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "outlier_sigma_m",
            "min_sigma_m",
            "half_life_s",
            "max_age_s",
            "street_sigma_m",
            "bandwidth_m",
        ):
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
            FixSource(
                f.source,
                float(x),
                float(y),
                sigma,
                outlier.get(f.source, 0.2),
                max(params.outlier_sigma_m, 2 * sigma),
                0.5 ** (age / params.half_life_s),
            )
        )
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
    floor = min(s.r95_m for s in sources)
    radius = max(r95, min(floor, 5000.0), 5.0)
    conflict = _conflict(sources, (x, y), core, block, params.conflict_margin_m, (ex, ey))
    lon, lat = frame.to_lonlat(ex, ey)
    return Fused(
        lat=float(lat),
        lon=float(lon),
        radius95_m=radius,
        sources=_shares(sources, ex, ey, conflict),
        conflict=conflict,
    )


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
    return _conflict(sources, (x, y), core, block, params.conflict_margin_m)


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
    xy: tuple[F64, F64],
    core: F64,
    block: NDArray[np.int_],
    margin_m: float,
    estimate: tuple[float, float] | None = None,
) -> Conflict | None:
    """Pairs of sources whose 95 % regions lie more than margin_m apart (newest fix only).

    The gap between a and b is measured on the samples: the least distance to a's region
    from b's own samples that lie inside b's region (and the other way round). The culprit is
    the source whose own region leaves out the estimate: the one the rest outvoted. When the
    estimate cannot tell, the whole pair is named.
    """
    latest: dict[str, int] = {}
    for i, s in enumerate(sources):  # fixes come in time order: keep the newest per kind
        latest["device" if isinstance(s, FixSource) else s.name] = i
    apart: list[tuple[int, int, float]] = []
    for a, b in combinations(latest.values(), 2):
        dist = min(_gap(core, block, a, b), _gap(core, block, b, a))
        if math.isinf(dist):  # beyond the bounded search: measure the gap exactly
            dist = min(
                _exact_gap(sources, xy, core, block, a, b),
                _exact_gap(sources, xy, core, block, b, a),
            )
        if dist > margin_m:
            apart.append((a, b, dist))
    if not apart:
        return None
    named = {sources[i].name: sources[i] for pair in apart for i in pair[:2]}
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


def _exact_gap(
    sources: list[Source], xy: tuple[F64, F64], core: F64, block: NDArray[np.int_], a: int, b: int
) -> float:
    mine = block == b
    inside = mine & (core[b] <= 0)
    pick = inside if inside.any() else mine
    return float(sources[a].core_distance(xy[0][pick], xy[1][pick]).min())


def _gap(core: F64, block: NDArray[np.int_], a: int, b: int) -> float:
    """Least distance to a's 95 % region from b's samples inside b's own region."""
    mine = block == b
    inside = mine & (core[b] <= 0)
    pick = inside if inside.any() else mine  # a region too thin for any sample: use them all
    return float(core[a][pick].min())


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
