"""Recent calls by place: the few incidents a new call could duplicate, without scanning them all.

A duplicate is a call within `radius_m` and `window_s` of an earlier one. Scanning every open
incident per call grows with the backlog: at 3,000 open incidents (a surge) it took 12 ms of
a 20 ms call. Here incidents sit in a grid of cells at least `radius_m` wide (up to 60° of
latitude), so every candidate is in the 3 x 3 cells around the new call, and they leave in the
order they came once older than the window, since engine time never goes back. The exact
great-circle test stays in `recommend.duplicate_candidates`.
"""

from __future__ import annotations

import math
from collections import deque

from dispatch.core.model import IncidentId

M_PER_DEG_LAT = 111_320.0
MAX_LAT_DEG = 60.0  # a cell is >= radius wide in longitude up to this latitude (cos 60° = 0.5)


class RecentIncidents:
    """Incidents received in the last `window_s`, findable by place."""

    def __init__(self, radius_m: float, window_s: float) -> None:
        if not (radius_m > 0 and window_s >= 0):
            raise ValueError("radius_m must be positive and window_s not negative")
        self.window_s = window_s
        self._cell_deg = radius_m / (M_PER_DEG_LAT * math.cos(math.radians(MAX_LAT_DEG)))
        self._cells: dict[tuple[int, int], dict[IncidentId, None]] = {}
        self._order: deque[tuple[float, IncidentId, tuple[int, int]]] = deque()

    def __len__(self) -> int:
        return len(self._order)

    def add(self, incident_id: IncidentId, lat: float, lon: float, at_s: float) -> None:
        """Record a call; calls must come in time order (the engine's clock)."""
        self.expire(at_s)
        cell = self._cell(lat, lon)
        self._cells.setdefault(cell, {})[incident_id] = None
        self._order.append((at_s, incident_id, cell))

    def near(self, lat: float, lon: float, at_s: float) -> list[IncidentId]:
        """Incidents received within the window before `at_s` in the cells around (lat, lon):
        a superset of those within the radius, in no particular order."""
        self.expire(at_s)
        row, col = self._cell(lat, lon)
        out: list[IncidentId] = []
        for r in (row - 1, row, row + 1):
            for c in (col - 1, col, col + 1):
                found = self._cells.get((r, c))
                if found:
                    out.extend(found)
        return out

    def expire(self, now_s: float) -> None:
        """Forget the calls older than the window."""
        order, cells = self._order, self._cells
        while order and order[0][0] < now_s - self.window_s:
            _, incident_id, cell = order.popleft()
            members = cells[cell]
            members.pop(incident_id, None)
            if not members:
                del cells[cell]

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self._cell_deg), math.floor(lon / self._cell_deg)
