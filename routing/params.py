"""Parameter objects of the routing core: the ambulance speed model and snapping limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing.errors import InvalidArgument


@dataclass(frozen=True)
class SpeedModel:
    """Ambulance speed as a multiple of the free-flow car speed of each road.

    With lights and siren an ambulance runs faster than free-flow traffic on arterials, where
    others pull over, and barely faster in narrow streets. A road whose free-flow speed is at
    least `band_floor_kph[i]` gets `speedup[i]`; the result is capped at `max_kph`. The bundled
    Hangzhou data has free-flow bands of 15/25/40/54/64 km/h, so the defaults give
    15, 27.5, 48, 67.5 and 80 km/h.
    """

    band_floor_kph: tuple[float, ...] = (0.0, 20.0, 35.0, 50.0)
    speedup: tuple[float, ...] = (1.0, 1.10, 1.20, 1.25)
    max_kph: float = 100.0
    min_edge_s: float = 0.1  # no edge is free: keeps Dijkstra strictly increasing along paths

    def __post_init__(self) -> None:
        if len(self.band_floor_kph) != len(self.speedup) or not self.speedup:
            raise InvalidArgument("band_floor_kph and speedup need the same, non-zero length")
        if list(self.band_floor_kph) != sorted(self.band_floor_kph) or self.band_floor_kph[0] != 0:
            raise InvalidArgument("band_floor_kph must rise from 0")
        if any(not math.isfinite(s) or s <= 0 for s in self.speedup):
            raise InvalidArgument("every speedup must be a positive number")
        if not (math.isfinite(self.max_kph) and self.max_kph > 0):
            raise InvalidArgument("max_kph must be positive")
        if not (math.isfinite(self.min_edge_s) and self.min_edge_s > 0):
            raise InvalidArgument("min_edge_s must be positive")


@dataclass(frozen=True)
class SnapParams:
    """How far from a road a point may be and still be placed on it."""

    max_snap_m: float = 500.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_snap_m) and self.max_snap_m > 0):
            raise InvalidArgument("max_snap_m must be a positive number of metres")
