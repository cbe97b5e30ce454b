"""The Locator: a call's raw evidence in, one estimate out, with read-back text and road position.

Glue over the pure parts: geocode the spoken text (gazetteer), resolve the serving cell (cell
table), fuse (fuse.py), then describe the spot for the dispatcher to read back and snap it to
the road network for routing. Holds only read-only lookup structures; no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from location_fusion.cells import CellObservation, CellTable, sector_for
from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.fuse import Conflict, FusionParams, SourceWeight, fuse
from location_fusion.gazetteer import Gazetteer, Place
from routing.errors import OutsideNetwork
from routing.router import Router
from routing.snap import RoadPosition

MAX_FIXES = 50  # a call carries a handful of fixes; more is a malformed request


@dataclass(frozen=True)
class CallEvidence:
    """Everything known about where a caller is, as received."""

    fixes: tuple[DeviceFix, ...] = ()
    cell: CellObservation | None = None
    spoken: str | None = None

    def __post_init__(self) -> None:
        if len(self.fixes) > MAX_FIXES:
            raise InvalidInput(f"at most {MAX_FIXES} device fixes per call")


@dataclass(frozen=True)
class Estimate:
    """Where the caller is: point, 95 % circle, sources, conflict, read-back, road position."""

    lat: float
    lon: float
    radius95_m: float
    sources: tuple[SourceWeight, ...]
    conflict: Conflict | None
    description: str
    road: RoadPosition | None
    candidates: tuple[Place, ...]


class Locator:
    """Fuses a call's evidence against one city's gazetteer, cell table and road network."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        cells: CellTable | None = None,
        router: Router | None = None,
        params: FusionParams | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.cells = cells
        self.router = router
        self.params = params or FusionParams()

    def places_for(self, spoken: str | None) -> list[Place]:
        """Geocoded candidates worth fusing: those within half the best one's confidence."""
        if not spoken:
            return []
        found = self.gazetteer.geocode(spoken, limit=5)
        if not found:
            return []
        top = found[0].confidence
        return [p for p in found if p.confidence >= 0.5 * top]

    def locate(self, evidence: CallEvidence, now_s: float) -> Estimate | None:
        """The fused estimate, or None when the call carries no usable evidence."""
        if not math.isfinite(now_s):
            raise InvalidInput("now_s must be finite")
        places = self.places_for(evidence.spoken)
        sector = None
        if evidence.cell is not None and self.cells is not None:
            cell = self.cells.lookup(evidence.cell)
            sector = sector_for(cell, evidence.cell) if cell is not None else None
        fused = fuse(list(evidence.fixes), sector, places, now_s, self.params)
        if fused is None:
            return None
        return Estimate(
            lat=fused.lat,
            lon=fused.lon,
            radius95_m=fused.radius95_m,
            sources=fused.sources,
            conflict=fused.conflict,
            description=self.describe(fused.lon, fused.lat)
            + self._stale_note(fused.sources)
            + self._heard_note(places),
            road=self._snap(fused.lat, fused.lon),
            candidates=tuple(places),
        )

    def describe(self, lon: float, lat: float) -> str:
        """Read-back text in the city's locale (the gazetteer's `readback`): "文三路与学院路交叉口
        附近，约 40 米" or "near the junction of 7th Street and Wood Street, about 40 m", else
        the nearest street, else the coordinates."""
        words = self.gazetteer.readback
        junction = self.gazetteer.nearest_intersection(lon, lat)
        if junction is not None and junction[4] <= 150:
            a, b, _, _, d = junction
            return words.describe_junction(a, b, d)
        street = self.gazetteer.nearest_street(lon, lat)
        if street is not None:
            return words.describe_street(street[0], street[1])
        return words.describe_point(lat, lon)

    def _stale_note(self, sources: tuple[SourceWeight, ...]) -> str:
        """Say that a stale fix was set aside (the newest such), or nothing."""
        ages = [s.age_s for s in sources if s.stale and s.age_s is not None]
        return self.gazetteer.readback.describe_stale(min(ages)) if ages else ""

    def _heard_note(self, places: list[Place]) -> str:
        """Say how a relative phrase was understood ("来电者说：石祥西路往东一点"), or nothing."""
        if not places or not places[0].relation:
            return ""
        return self.gazetteer.readback.describe_heard(places[0].name)

    def _snap(self, lat: float, lon: float) -> RoadPosition | None:
        if self.router is None:
            return None
        try:
            return self.router.snap(lat, lon)
        except OutsideNetwork:
            return None
