"""Live congestion reports: which jam entries are active and which factor each edge should have.

A traffic feed reports jams (a factor on a set of road edges, until an expiry time). The shell
writes a new entry's factor straight into the router (the last write wins, so the newest entry
is what an edge shows). When entries expire, the `TrafficBook` says what the edges they touched
must go back to: the factor of the newest entry still covering the edge, else free flow (1.0).

Pure: edge ids in, (edge ids, factor) groups out; the caller hands in `now_s` and applies the
result to the router. `edges_of` turns a report's edge ids, GeoJSON area or street name into
the edge ids of one network, refusing unknown ones with typed errors.

Nothing here is logged: congestion is live data that the feed re-sends continuously and that
expires, so replaying stale jams after a restart would be wrong; after a restart the feed's
next reports rebuild the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from dispatch.errors import DispatchError, InvalidEvent
from routing import congestion
from routing.errors import InvalidArgument, UnknownId
from routing.network import RoadNetwork

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

MAX_FACTOR = 1000.0  # routing.congestion's bound: an effectively closed road
MAX_ENTRIES = 1000  # active entries at once; a feed re-sending faster than they expire is broken
FREE_FLOW = 1.0


class UnknownStreet(DispatchError, KeyError):
    """404: a jam on a street name the road network does not have."""

    reason = "unknown_street"


class UnknownEdge(DispatchError, KeyError):
    """404: a jam on an edge id the road network does not have."""

    reason = "unknown_edge"


class InvalidArea(DispatchError, ValueError):
    """422: a jam area that is not a valid polygon (self-intersecting, empty)."""

    reason = "invalid_area"


class TooManyEntries(DispatchError, ValueError):
    """429: more than MAX_ENTRIES jams active at once."""

    reason = "too_many_traffic_entries"


@dataclass(frozen=True)
class TrafficEntry:
    """One jam report: a factor on some edges from `added_at_s` until `expires_at_s`."""

    entry_id: str
    kind: str  # "edges" | "area" | "street": how the feed named the edges
    edges: I64  # sorted, unique edge ids
    factor: float
    added_at_s: float
    expires_at_s: float
    street: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("edges", "area", "street"):
            raise InvalidEvent(f"unknown traffic entry kind {self.kind!r}")
        if not (math.isfinite(self.factor) and 0 < self.factor <= MAX_FACTOR):
            raise InvalidEvent(f"factor must be in (0, {MAX_FACTOR:g}], got {self.factor!r}")
        if not (math.isfinite(self.added_at_s) and math.isfinite(self.expires_at_s)):
            raise InvalidEvent("entry times must be finite")
        if self.expires_at_s <= self.added_at_s:
            raise InvalidEvent("an entry must expire after it was added")

    def view(self) -> dict[str, object]:
        """The entry as the API lists it: the edge count, not the (up to 100 000) ids."""
        return {
            "id": self.entry_id,
            "kind": self.kind,
            "street": self.street,
            "factor": self.factor,
            "edges": int(self.edges.shape[0]),
            "added_at_s": self.added_at_s,
            "expires_at_s": self.expires_at_s,
        }


@dataclass(frozen=True)
class Restore:
    """Edges to set to one factor after an expiry (1.0: back to free flow)."""

    edges: I64
    factor: float


class TrafficBook:
    """The active jam entries, oldest first; ids are T1, T2, ... in the order added."""

    def __init__(self) -> None:
        self._entries: list[TrafficEntry] = []
        self._next = 1

    def __len__(self) -> int:
        return len(self._entries)

    def add(
        self,
        kind: str,
        edges: I64,
        factor: float,
        now_s: float,
        expires_in_s: float,
        street: str | None = None,
    ) -> TrafficEntry:
        """Record a new entry (it becomes the newest); the caller writes its factor at once."""
        if len(self._entries) >= MAX_ENTRIES:
            raise TooManyEntries(f"at most {MAX_ENTRIES} traffic entries may be active")
        ids = np.unique(np.asarray(edges, dtype=np.int64))
        entry = TrafficEntry(
            f"T{self._next}", kind, ids, float(factor), now_s, now_s + expires_in_s, street
        )
        self._next += 1
        self._entries.append(entry)
        return entry

    def active(self) -> list[TrafficEntry]:
        """The entries not yet expired (as of the last `expire`), oldest first."""
        return list(self._entries)

    def expire(self, now_s: float) -> list[Restore]:
        """Drop entries with `expires_at_s <= now_s`; the factors their edges go back to.

        Every edge a dropped entry touched gets the factor of the newest remaining entry that
        covers it, or free flow; edges of remaining entries that no dropped entry touched are
        left alone (they already show the newest write). Empty when nothing expired.
        """
        gone = [e for e in self._entries if e.expires_at_s <= now_s]
        if not gone:
            return []
        self._entries = [e for e in self._entries if e.expires_at_s > now_s]
        touched = np.unique(np.concatenate([e.edges for e in gone]))
        factor = self.factors(touched)
        return [Restore(touched[factor == f], float(f)) for f in np.unique(factor)]

    def factors(self, edges: I64) -> F64:
        """The factor each of `edges` should have now: the newest active entry's, else 1.0."""
        ids = np.asarray(edges, dtype=np.int64)
        out = np.full(ids.shape[0], FREE_FLOW)
        for entry in self._entries:  # oldest first, so the newest write wins
            out[np.isin(ids, entry.edges, assume_unique=False)] = entry.factor
        return out


def edges_of(
    net: RoadNetwork,
    edges: list[int] | None = None,
    area: list[list[tuple[float, float]]] | None = None,
    street: str | None = None,
) -> tuple[str, I64]:
    """(kind, edge ids) of a report naming edge ids, an area (rings of (lon, lat)) or a street."""
    if edges is not None:
        ids = np.asarray(edges, dtype=np.int64)
        bad = (ids < 0) | (ids >= net.n_edges)
        if bad.any():
            raise UnknownEdge(
                f"unknown edge id {int(ids[np.argmax(bad)])} (network has {net.n_edges})"
            )
        return "edges", ids
    if area is not None:
        try:
            polygon = shapely.Polygon(area[0], area[1:])
            return "area", congestion.edges_in_polygon(net, polygon).astype(np.int64)
        except (InvalidArgument, ValueError) as exc:  # shapely refuses a ring with a ValueError
            raise InvalidArea(str(exc).splitlines()[0][:200]) from None
    if street is not None:
        try:
            return "street", congestion.edges_named(net, street).astype(np.int64)
        except UnknownId:
            raise UnknownStreet(f"no street named {street!r}") from None
    raise InvalidEvent("a traffic report names edges, an area or a street")
