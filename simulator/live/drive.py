"""A unit driving a route: where it is t seconds after setting off, at the road's own speed.

Pure. A `routing.route.Route` holds the polyline and its legs (one street each, with length
and free-flow or congested driving time). The path maps time to distance leg by leg (so a
unit is slow on a side street and fast on an arterial, as the route's ETA assumed), then
distance to a point along the polyline. Leg lengths come from the network (`length_m`), the
polyline's from its coordinates; the two are reconciled by scaling, so the unit reaches the
polyline's end exactly at the route's ETA. `slower` stretches the whole drive by a call's
drawn actual / predicted factor (`simulator.world.calls`: real drives scatter about the prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from location_fusion.geo import DEG_M
from routing.network import F64
from routing.route import Route
from simulator.errors import InvalidArgument

FALLBACK_KPH = 25.0  # straight line at this speed when no route exists (reported as such)


@dataclass(frozen=True)
class DrivePath:
    """Time (s) → position along a polyline; `duration_s` is when the unit arrives."""

    lonlat: F64  # (p, 2), p >= 1
    cum_m: F64  # (p,) polyline metres from the start
    knot_s: F64  # (k,) leg boundaries in seconds from the start, 0 first
    knot_m: F64  # (k,) the same boundaries in polyline metres
    duration_s: float

    def at(self, t_s: float) -> tuple[float, float]:
        """(lat, lon) at t_s seconds after setting off (clamped to the ends)."""
        if self.lonlat.shape[0] == 1 or self.duration_s <= 0:
            lon, lat = self.lonlat[-1] if t_s > 0 else self.lonlat[0]
            return float(lat), float(lon)
        t = min(max(t_s, 0.0), self.duration_s)
        d = float(np.interp(t, self.knot_s, self.knot_m))
        lon = float(np.interp(d, self.cum_m, self.lonlat[:, 0]))
        lat = float(np.interp(d, self.cum_m, self.lonlat[:, 1]))
        return lat, lon

    @property
    def length_m(self) -> float:
        return float(self.cum_m[-1])

    def slower(self, factor: float) -> DrivePath:
        """The same path driven in `factor` times the time (0.8: faster than predicted)."""
        if not (math.isfinite(factor) and factor > 0):
            raise InvalidArgument(f"a time factor must be positive, got {factor!r}")
        return replace(self, knot_s=self.knot_s * factor, duration_s=self.duration_s * factor)


def polyline_m(lonlat: F64) -> F64:
    """Cumulative metres along a lon/lat polyline (equirectangular: fine over a city)."""
    kx = math.cos(math.radians(float(lonlat[:, 1].mean())))
    step = np.hypot(np.diff(lonlat[:, 0]) * kx, np.diff(lonlat[:, 1])) * DEG_M
    return np.concatenate([[0.0], np.cumsum(step)])


def along(route: Route) -> DrivePath:
    """The path of a found route, driven leg by leg at each leg's own speed."""
    lonlat = np.asarray(route.lonlat, dtype=np.float64)
    cum = polyline_m(lonlat)
    leg_m = np.array([leg.length_m for leg in route.legs], dtype=np.float64)
    leg_s = np.array([leg.eta_s for leg in route.legs], dtype=np.float64)
    total_m = float(leg_m.sum())
    scale = cum[-1] / total_m if total_m > 0 else 0.0
    knot_m = np.concatenate([[0.0], np.cumsum(leg_m) * scale])
    knot_s = np.concatenate([[0.0], np.cumsum(leg_s)])
    # The legs' times sum to the route's ETA up to float rounding; keep knots non-decreasing.
    knot_s = np.maximum.accumulate(knot_s)
    return DrivePath(lonlat, cum, knot_s, knot_m, float(knot_s[-1]))


def straight(lat0: float, lon0: float, lat1: float, lon1: float) -> DrivePath:
    """A straight line at `FALLBACK_KPH`, for the rare origin no route leaves."""
    lonlat = np.array([[lon0, lat0], [lon1, lat1]], dtype=np.float64)
    cum = polyline_m(lonlat)
    duration_s = float(cum[-1]) / (FALLBACK_KPH / 3.6)
    return DrivePath(lonlat, cum, np.array([0.0, duration_s]), cum.copy(), duration_s)
