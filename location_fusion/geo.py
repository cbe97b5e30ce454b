"""Local metric frames and great-circle distances for fusing positions.

Fusion works in a flat local frame (metres east/north of a reference point): over the few
kilometres a single call spans, the equirectangular projection errs by well under a metre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from location_fusion.errors import InvalidInput

F64 = NDArray[np.float64]
EARTH_RADIUS_M = 6_371_008.8
DEG_M = EARTH_RADIUS_M * math.pi / 180.0  # metres per degree of latitude


def check_lat_lon(lat: float, lon: float, what: str = "position") -> None:
    """Raise InvalidInput unless lat is in [-90, 90] and lon in [-180, 180], both finite."""
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)):
        raise InvalidInput(f"{what}: lat/lon must be numbers")
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise InvalidInput(f"{what}: invalid coordinate lat={lat!r}, lon={lon!r}")


@dataclass(frozen=True)
class LocalFrame:
    """Metres east (x) and north (y) of (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return DEG_M * math.cos(math.radians(self.lat0))

    def to_xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        return (lon_a - self.lon0) * self.kx, (lat_a - self.lat0) * DEG_M

    def to_lonlat(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[F64, F64]:
        x = np.asarray(x_m, dtype=np.float64)
        y = np.asarray(y_m, dtype=np.float64)
        return x / self.kx + self.lon0, y / DEG_M + self.lat0


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> F64:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(np.asarray(lat1, np.float64)), np.radians(np.asarray(lat2, np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, np.float64) - np.asarray(lon1, np.float64))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))))
