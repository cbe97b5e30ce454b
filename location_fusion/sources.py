"""Each kind of evidence as a density over local metres: GPS/Wi-Fi fixes, a cell sector, speech.

A source answers four questions in one local frame (x east, y north, metres):
`log_density` (a normalised density per m², robust: every source mixes in an outlier
component, so one wrong source cannot drag the estimate far), `sample` (draws from that
density, for importance sampling), `core_distance` (metres from a point to the source's own
95 % region, 0 inside: for conflict checks), and `r95_m` (the radius that region would have
around a point: the best a source alone can justify).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from location_fusion.cells import Sector
from location_fusion.fixes import DeviceFix, sigma_to_radius
from location_fusion.gazetteer import SAMPLE_STEP_M, Place
from location_fusion.geo import F64, LocalFrame

K95 = math.sqrt(-2.0 * math.log(0.05))  # 95 % radius of a circular 2-D Gaussian, in sigmas
BROAD_DENSITY = 1.0 / (math.pi * 3000.0**2)  # "anywhere within 3 km": the outlier's density


_TREES: dict[int, tuple[F64, cKDTree, LocalFrame]] = {}  # id(line) -> (line, tree, frame)


def _street_tree(line: F64) -> tuple[cKDTree, LocalFrame]:
    """A KD-tree of a street's points in the street's own metric frame, built once.

    Street lines are read-only arrays owned by the gazetteer; holding the array in the cache
    keeps its id a stable key. At most 512 streets are kept.
    """
    hit = _TREES.get(id(line))
    if hit is not None and hit[0] is line:
        return hit[1], hit[2]
    frame = LocalFrame(float(line[0, 0]), float(line[0, 1]))
    lx, ly = frame.to_xy(line[:, 0], line[:, 1])
    tree = cKDTree(np.c_[lx, ly])
    if len(_TREES) >= 512:
        _TREES.clear()
    _TREES[id(line)] = (line, tree, frame)
    return tree, frame


def _gauss2(d2: F64, sigma: float) -> F64:
    out: F64 = np.exp(-0.5 * d2 / sigma**2) / (2 * math.pi * sigma**2)
    return out


@dataclass
class FixSource:
    """A handset fix: Gaussian at its stated accuracy, widened by age, plus an outlier part.

    The outlier part has two scales: a near tail (`mid_sigma_m`, the 30-150 m a fix is off
    behind a building) taking `mid_share` of `outlier_p`, and the far tail (`outlier_sigma_m`).
    """

    name: str
    x: float
    y: float
    sigma_m: float
    outlier_p: float
    outlier_sigma_m: float
    weight: float  # tempering: older fixes count less
    core_m: float | None = None  # the region the conflict alarm measures gaps from (r95_m)
    mid_share: float = 0.0
    mid_sigma_m: float = 60.0

    def _mix(self, d2: F64) -> F64:
        p_mid = self.outlier_p * self.mid_share
        out: F64 = (
            (1 - self.outlier_p) * _gauss2(d2, self.sigma_m)
            + (self.outlier_p - p_mid) * _gauss2(d2, self.outlier_sigma_m)
            + p_mid * _gauss2(d2, self.mid_sigma_m)
        )
        return out

    def log_density(self, x: F64, y: F64) -> F64:
        d2 = (x - self.x) ** 2 + (y - self.y) ** 2
        out: F64 = np.log(self._mix(d2) + 1e-300)
        return out

    def sample(self, n: int, rng: np.random.Generator) -> tuple[F64, F64]:
        u = rng.random(n)
        p_far = self.outlier_p * (1 - self.mid_share)
        s = np.where(u < p_far, self.outlier_sigma_m, self.sigma_m)
        s = np.where((u >= p_far) & (u < self.outlier_p), self.mid_sigma_m, s)
        return self.x + rng.normal(0, 1, n) * s, self.y + rng.normal(0, 1, n) * s

    def evaluate(self, x: F64, y: F64) -> tuple[F64, F64]:
        """(log density, distance to the 95 % region) at every point, in one pass."""
        d2 = (x - self.x) ** 2 + (y - self.y) ** 2
        core = np.maximum(np.sqrt(d2) - self.core_radius_m, 0.0)
        return np.log(self._mix(d2) + 1e-300), core

    def core_distance(self, x: F64, y: F64) -> F64:
        return np.maximum(np.hypot(x - self.x, y - self.y) - self.core_radius_m, 0.0)

    @property
    def core_radius_m(self) -> float:
        return self.r95_m if self.core_m is None else self.core_m

    @property
    def r95_m(self) -> float:
        return K95 * self.sigma_m

    def anchor(self) -> tuple[float, float]:
        return self.x, self.y


@dataclass
class CellSource:
    """The serving sector (and timing-advance band) as a soft wedge."""

    sector: Sector
    frame: LocalFrame
    name: str = "cell"
    weight: float = 1.0

    def log_density(self, x: F64, y: F64) -> F64:
        return self.evaluate(x, y)[0]

    def evaluate(self, x: F64, y: F64) -> tuple[F64, F64]:
        """(log density, distance to the wedge) at every point, in one pass."""
        lon, lat = self.frame.to_lonlat(x, y)
        return self.sector.log_likelihood_and_distance(lon, lat)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[F64, F64]:
        lon, lat = self.sector.sample(n, rng)
        return self.frame.to_xy(lon, lat)

    def core_distance(self, x: F64, y: F64) -> F64:
        """Metres from each point to the wedge (annular sector); 0 inside."""
        return self.evaluate(x, y)[1]

    @property
    def r95_m(self) -> float:
        s = self.sector
        width = math.radians(2 * s.half_width_deg) if s.azimuth_deg is not None else 2 * math.pi
        area = 0.5 * width * (s.r_max_m**2 - s.r_min_m**2)
        return math.sqrt(0.95 * area / math.pi)  # a disc of the wedge's area, 95 % of it

    def anchor(self) -> tuple[float, float]:
        lon, lat = self.sector.centroid()
        x, y = self.frame.to_xy(lon, lat)
        return float(x), float(y)


@dataclass(frozen=True)
class _Part:
    """One geocoded candidate: a point (junction, place) or a street line."""

    share: float
    x: float  # point candidates: position in the fusion frame
    y: float
    size: float  # point: sigma (m); line: street length (m)
    line: F64 | None = None  # street points, lon/lat
    tree: cKDTree | None = None  # street points in the street's own frame
    tframe: LocalFrame | None = None


@dataclass
class SpeechSource:
    """The caller's words: a mixture over geocoded candidates, plus 'said the wrong place'."""

    places: list[Place]
    frame: LocalFrame
    street_sigma_m: float
    outlier_p: float
    name: str = "speech"
    weight: float = 1.0
    street_core_m: float | None = None  # a street's region for the conflict alarm (K95*sigma/1.2)
    point_core_scale: float = 1.0  # a junction's or place's region for the alarm, x its r95
    core_share_ratio: float = 0.0  # the alarm's region: candidates with this x the top's share
    _parts: list[_Part] = field(init=False)

    def __post_init__(self) -> None:
        total = sum(p.confidence for p in self.places)
        self._parts = []
        for p in self.places:
            share = p.confidence / total
            if p.kind == "street" and p.line_lonlat is not None and len(p.line_lonlat) > 1:
                tree, tframe = _street_tree(p.line_lonlat)
                length = float(len(p.line_lonlat)) * SAMPLE_STEP_M  # points are evenly spaced
                self._parts.append(_Part(share, 0.0, 0.0, length, p.line_lonlat, tree, tframe))
            else:
                px, py = self.frame.to_xy(p.lon, p.lat)
                sigma = max(p.radius_m / K95, 5.0)
                self._parts.append(_Part(share, float(px), float(py), sigma))

    def log_density(self, x: F64, y: F64) -> F64:
        return self.evaluate(x, y)[0]

    def evaluate(self, x: F64, y: F64, bound: bool = True) -> tuple[F64, F64]:
        """(log density, distance to the nearest candidate's 95 % region), one query per part.

        With `bound`, street distances beyond 8 sigma come back as inf: the density there is
        below e^-32 of the peak either way, and the search stops early (several times faster).
        """
        mix = np.zeros_like(x)
        core = np.full(x.shape, np.inf)
        lonlat = None
        sig = self.street_sigma_m
        top = max(p.share for p in self._parts)
        for part in self._parts:
            counts = part.share >= self.core_share_ratio * top  # in the alarm's region
            if part.tree is not None and part.tframe is not None:  # uniform along, Gaussian across
                if lonlat is None:
                    lonlat = self.frame.to_lonlat(x, y)
                d, _ = part.tree.query(
                    np.c_[part.tframe.to_xy(*lonlat)],
                    distance_upper_bound=8 * sig if bound else np.inf,
                )
                norm = math.sqrt(2 * math.pi) * sig * part.size
                mix += part.share * np.exp(-0.5 * (d / sig) ** 2) / norm
                street_core = K95 * sig / 1.2 if self.street_core_m is None else self.street_core_m
                if counts:
                    core = np.minimum(core, np.maximum(d - street_core, 0.0))
            else:
                d2 = (x - part.x) ** 2 + (y - part.y) ** 2
                mix += part.share * _gauss2(d2, part.size)
                point_core = self.point_core_scale * K95 * part.size
                if counts:
                    core = np.minimum(core, np.maximum(np.sqrt(d2) - point_core, 0.0))
        log = np.log((1 - self.outlier_p) * mix + self.outlier_p * BROAD_DENSITY)
        return log, core

    def sample(self, n: int, rng: np.random.Generator) -> tuple[F64, F64]:
        shares = np.array([p.share for p in self._parts])
        which = rng.choice(len(self._parts), size=n, p=shares / shares.sum())
        xs, ys = np.empty(n), np.empty(n)
        for i, part in enumerate(self._parts):
            m = which == i
            k = int(m.sum())
            if part.line is not None:
                pts = part.line[rng.integers(0, part.line.shape[0], k)]
                px, py = self.frame.to_xy(pts[:, 0], pts[:, 1])
                s = self.street_sigma_m
                xs[m], ys[m] = px + rng.normal(0, s, k), py + rng.normal(0, s, k)
            else:
                xs[m] = part.x + rng.normal(0, part.size, k)
                ys[m] = part.y + rng.normal(0, part.size, k)
        return xs, ys

    def core_distance(self, x: F64, y: F64) -> F64:
        return self.evaluate(x, y, bound=False)[1]

    @property
    def r95_m(self) -> float:
        sizes = [K95 * p.size if p.line is None else 0.5 * p.size for p in self._parts]
        return float(min(sizes))

    def anchor(self) -> tuple[float, float]:
        best = max(self._parts, key=lambda p: p.share)
        if best.line is None:
            return best.x, best.y
        x, y = self.frame.to_xy(best.line[:, 0], best.line[:, 1])
        return float(np.mean(x)), float(np.mean(y))


def fix_r95(fix: DeviceFix) -> float:
    return sigma_to_radius(fix.sigma_m, 0.95)


Source = FixSource | CellSource | SpeechSource
Points = tuple[NDArray[np.float64], NDArray[np.float64]]
