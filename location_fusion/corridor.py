"""A street named alone: its extent as a corridor, not its midpoint.

"我在石祥西路" places the caller somewhere along 石祥西路, which may run for kilometres. The
honest region is the street's geometry buffered by how far from the centre line a caller on it
stands (`STREET_HALF_WIDTH_M`): a corridor. Three things follow from it:

- with other evidence (a GNSS fix, a cell sector), the estimate is the point of the street
  closest to that evidence (`nearest`), and the corridor is the likelihood fusion uses
  (`log_likelihood`: uniform inside the buffered line, falling off outside it);
- with none, the representative point is the street's *centre*, the street point from which the
  farthest part of the street is nearest, and the radius (`covering_radius_m`) reaches that
  farthest part plus the half width: it honestly covers the whole corridor;
- `polygon` draws it (shapely), for a console or a test.

The street is a cloud of points sampled every few metres along all its edges (the gazetteer's
`line_lonlat`), not one ordered polyline: a street of several carriageways or branches is
still one corridor. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from location_fusion.errors import InvalidInput
from location_fusion.geo import F64, LocalFrame

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

#: A caller "on" a street stands within this of its centre line: the carriageway, pavements
#: and the buildings fronting it; about the 95 % band of fusion's across-street Gaussian
#: (`FusionParams.street_sigma_m` 30 m x 1.96).
STREET_HALF_WIDTH_M = 60.0
EDGE_SOFTNESS_M = 15.0  # outside the corridor the likelihood halves about every 10 m
_DIRECTIONS = 36  # extreme points in this many directions stand in for the convex hull


def covering_centre(xy_m: F64) -> tuple[int, float]:
    """(index, radius_m): the point of `xy_m` whose farthest other point is nearest, and that
    distance (exact to within 0.4 %: the farthest point is sought among the extremes in 36
    directions, the convex hull's vertices near enough)."""
    if len(xy_m) == 0:
        raise InvalidInput("a corridor needs at least one point")
    angles = np.linspace(0.0, math.pi * 2, _DIRECTIONS, endpoint=False)
    unit = np.column_stack([np.cos(angles), np.sin(angles)])
    extremes = xy_m[np.unique(np.argmax(xy_m @ unit.T, axis=0))]
    far = cdist(xy_m, extremes).max(axis=1)
    k = int(np.argmin(far))
    return k, float(far[k] / math.cos(math.pi / _DIRECTIONS))  # the 36-gon's worst case


@dataclass(frozen=True)
class Corridor:
    """A street's points buffered by `half_width_m`: where a caller on that street can be."""

    line_lonlat: F64  # (p, 2) points along the street, lon/lat
    half_width_m: float = STREET_HALF_WIDTH_M
    frame: LocalFrame = field(init=False, compare=False)
    xy_m: F64 = field(init=False, compare=False, repr=False)
    tree: cKDTree = field(init=False, compare=False, repr=False)
    length_m: float = field(init=False, compare=False)  # from the spacing of its points

    def __post_init__(self) -> None:
        line = np.asarray(self.line_lonlat, dtype=np.float64)
        if line.ndim != 2 or line.shape[1] != 2 or not len(line) or not np.isfinite(line).all():
            raise InvalidInput("a corridor needs (p, 2) finite lon/lat points")
        if not (math.isfinite(self.half_width_m) and self.half_width_m > 0):
            raise InvalidInput(f"half_width_m must be > 0, got {self.half_width_m!r}")
        frame = LocalFrame(float(line[:, 0].mean()), float(line[:, 1].mean()))
        x, y = frame.to_xy(line[:, 0], line[:, 1])
        xy = np.column_stack([x, y])
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "xy_m", xy)
        tree = cKDTree(xy)
        object.__setattr__(self, "tree", tree)
        length = 0.0
        if len(xy) > 1:  # points are evenly spaced (the gazetteer's 10 m step); ends repeat
            gap = np.asarray(tree.query(xy, k=2)[0], dtype=np.float64)[:, 1]
            step = gap[gap > 1e-6]
            length = float(np.median(step)) * len(step) if len(step) else 0.0
        object.__setattr__(self, "length_m", length)

    def centre(self) -> tuple[float, float, float]:
        """(lon, lat, radius_m): the street's centre and the radius covering the corridor."""
        k, far = covering_centre(self.xy_m)
        lon, lat = (float(v) for v in self.line_lonlat[k])
        return lon, lat, far + self.half_width_m

    def distance_m(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        """Metres from each point to the corridor (0 inside)."""
        d = self._centre_line_m(lon, lat)
        return np.maximum(d - self.half_width_m, 0.0)

    def contains(self, lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
        """Whether each point lies inside the corridor."""
        return np.asarray(self._centre_line_m(lon, lat) <= self.half_width_m)

    def nearest(self, lon: float, lat: float) -> tuple[float, float]:
        """The point of the street closest to (lon, lat): the estimate given other evidence."""
        x, y = self.frame.to_xy(lon, lat)
        _, k = self.tree.query([float(x), float(y)])
        p_lon, p_lat = (float(v) for v in self.line_lonlat[int(k)])
        return p_lon, p_lat

    def covering_radius_m(self, lon: float, lat: float) -> float:
        """The radius about (lon, lat) that holds the whole corridor."""
        x, y = self.frame.to_xy(lon, lat)
        far = float(np.hypot(self.xy_m[:, 0] - x, self.xy_m[:, 1] - y).max())
        return far + self.half_width_m

    def log_likelihood(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        """log p(point | "on this street"), per m²: uniform inside the buffered line, falling
        off as a half-Gaussian (EDGE_SOFTNESS_M) outside, so a fix 5 m outside still counts."""
        out = self.distance_m(lon, lat)
        area = 2 * self.half_width_m * max(self.length_m, 1.0) + math.pi * self.half_width_m**2
        edge = math.sqrt(math.pi / 2) * EDGE_SOFTNESS_M * 2 * max(self.length_m, 1.0)
        return np.asarray(-0.5 * (out / EDGE_SOFTNESS_M) ** 2 - math.log(area + edge))

    def polygon(self) -> BaseGeometry:
        """The corridor as a shapely geometry in lon/lat (one polygon, or several for a street
        in pieces)."""
        from shapely import MultiPoint, transform

        buffered = MultiPoint(self.xy_m).buffer(self.half_width_m, quad_segs=4)

        def to_lonlat(xy: np.ndarray) -> np.ndarray:
            lon, lat = self.frame.to_lonlat(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        return transform(buffered, to_lonlat)

    def _centre_line_m(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        x, y = self.frame.to_xy(lon, lat)
        d, _ = self.tree.query(np.column_stack([np.ravel(x), np.ravel(y)]))
        return np.asarray(d, dtype=np.float64).reshape(np.shape(x))
