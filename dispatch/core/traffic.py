"""Live congestion reports: which jam entries are active and which factor each edge should have.

Two sources. A traffic feed reports jams (a factor on a set of road edges, until an expiry
time): feed entries, T1, T2, ... The fleet's own positions teach the server how slowly each
edge is really driven (`dispatch.core.probe_speeds`): probe entries, one per edge, each expiring
unless re-learned. The factor an edge gets:

- among feed entries, the newest one covering the edge wins (a feed lowers or lifts a jam by
  re-sending it);
- between the feed and the probes, the slower wins: on an edge with a probe entry, the
  larger of the probe's factor and the newest feed factor (free flow if no feed entry covers
  it); on an edge without one, the feed's factor as it is (even one below 1.0);
- with neither, free flow.

The shell writes what `written` / `set_probe` return into the router at once; when entries
expire, `expire` says what the edges they touched must go back to.

Pure: edge ids in, (edge ids, factor) groups out; the caller hands in `now_s` and applies the
result to the router. `edges_of` turns a report's edge ids, GeoJSON area or street name into
the edge ids of one network, refusing unknown ones with typed errors.

Nothing here is logged: congestion is live data that the feed re-sends continuously and that
expires, and probe factors are re-learned from positions within minutes, so replaying stale
jams after a restart would be wrong; after a restart the feed's next reports and the fleet's
next positions rebuild the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
DENSE_ABOVE = 4096  # `factors` of more edges than this paints a dense array instead of searching


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
            "source": "feed",
            "factor": self.factor,
            "edges": int(self.edges.shape[0]),
            "edge_ids": None,
            "added_at_s": self.added_at_s,
            "expires_at_s": self.expires_at_s,
        }


@dataclass(frozen=True)
class Restore:
    """Edges to set to one factor (after an expiry, 1.0: back to free flow)."""

    edges: I64
    factor: float


class TrafficBook:
    """The active feed entries (ids T1, T2, ... in the order added, oldest first) and the
    probe entries (one per edge, learned from the fleet's positions)."""

    def __init__(self) -> None:
        self._entries: list[TrafficEntry] = []
        self._next = 1
        # Probe entries, sorted by edge id (a few thousand at most: the edges the fleet drove).
        self._probe_edge: I64 = np.zeros(0, dtype=np.int64)
        self._probe_factor: F64 = np.zeros(0)
        self._probe_added_s: F64 = np.zeros(0)
        self._probe_expires_s: F64 = np.zeros(0)

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
        """Record a new feed entry (it becomes the newest); the caller writes `written(entry)`."""
        if len(self._entries) >= MAX_ENTRIES:
            raise TooManyEntries(f"at most {MAX_ENTRIES} traffic entries may be active")
        ids = _unique(np.asarray(edges, dtype=np.int64))
        entry = TrafficEntry(
            f"T{self._next}", kind, ids, float(factor), now_s, now_s + expires_in_s, street
        )
        self._next += 1
        self._entries.append(entry)
        return entry

    def written(self, entry: TrafficEntry) -> list[Restore]:
        """What the edges of a just-added feed entry become: its factor, or a slower probe's."""
        factor = self._with_probes(entry.edges, np.full(entry.edges.shape[0], entry.factor))
        return _groups(entry.edges, factor)

    def set_probe(
        self, edges: I64, factors: F64, now_s: float, expires_in_s: float
    ) -> list[Restore]:
        """Learned factors for edges (1.0 or less: the fleet sees no jam there any more, the
        probe entry goes); what those edges become under the precedence rule."""
        ids = np.asarray(edges, dtype=np.int64)
        f = np.asarray(factors, dtype=np.float64)
        if ids.shape != f.shape or not np.all(np.isfinite(f)) or expires_in_s <= 0:
            raise InvalidEvent("probe factors: one finite factor per edge, a positive lifetime")
        if ids.size == 0:
            return []
        ids, first = np.unique(ids, return_index=True)
        f = np.clip(f[first], FREE_FLOW, MAX_FACTOR)
        old = ~np.isin(self._probe_edge, ids, assume_unique=True)
        new = f > FREE_FLOW
        edge = np.concatenate([self._probe_edge[old], ids[new]])
        order = np.argsort(edge, kind="stable")
        self._probe_edge = edge[order]
        self._probe_factor = np.concatenate([self._probe_factor[old], f[new]])[order]
        self._probe_added_s = np.concatenate(
            [self._probe_added_s[old], np.full(int(new.sum()), now_s)]
        )[order]
        self._probe_expires_s = np.concatenate(
            [self._probe_expires_s[old], np.full(int(new.sum()), now_s + expires_in_s)]
        )[order]
        return _groups(ids, self.factors(ids))

    def active(self) -> list[TrafficEntry]:
        """The feed entries not yet expired (as of the last `expire`), oldest first."""
        return list(self._entries)

    def views(self) -> list[dict[str, object]]:
        """Every active entry as the API lists it: the feed's oldest first, then the probes'."""
        probes = [
            {
                "id": f"P{edge}",
                "kind": "edges",
                "source": "probe",
                "street": None,
                "factor": factor,
                "edges": 1,
                "edge_ids": [edge],
                "added_at_s": added,
                "expires_at_s": expires,
            }
            for edge, factor, added, expires in zip(
                self._probe_edge.tolist(),
                self._probe_factor.tolist(),
                self._probe_added_s.tolist(),
                self._probe_expires_s.tolist(),
                strict=True,
            )
        ]
        return [e.view() for e in self._entries] + probes

    def expire(self, now_s: float) -> list[Restore]:
        """Drop entries with `expires_at_s <= now_s`; the factors their edges go back to.

        Every edge a dropped entry (feed or probe) touched gets the factor the remaining
        entries give it; edges no dropped entry touched are left alone (they already show
        the right factor). Empty when nothing expired.
        """
        gone = [e for e in self._entries if e.expires_at_s <= now_s]
        probe_gone = self._probe_expires_s <= now_s
        if not gone and not probe_gone.any():
            return []
        self._entries = [e for e in self._entries if e.expires_at_s > now_s]
        touched = _unique(np.concatenate([self._probe_edge[probe_gone]] + [e.edges for e in gone]))
        keep = ~probe_gone
        self._probe_edge, self._probe_factor = self._probe_edge[keep], self._probe_factor[keep]
        self._probe_added_s = self._probe_added_s[keep]
        self._probe_expires_s = self._probe_expires_s[keep]
        return _groups(touched, self.factors(touched))

    def factors(self, edges: I64) -> F64:
        """The factor each of `edges` should have now (the precedence rule above)."""
        ids = np.asarray(edges, dtype=np.int64)
        out = np.full(ids.shape[0], FREE_FLOW)
        if ids.size > DENSE_ABOVE and self._entries:  # many edges (an expiry): one dense pass
            last = max((int(e.edges[-1]) for e in self._entries if e.edges.size), default=0)
            top = max(int(ids.max()), last)
            dense = np.full(top + 1, FREE_FLOW)
            for entry in self._entries:  # oldest first: the newest write wins
                dense[entry.edges] = entry.factor
            out = dense[ids]
        else:
            open_ = np.arange(ids.shape[0])  # edges no newer entry has claimed yet
            for entry in reversed(self._entries):  # newest first: the first to cover one wins
                if open_.size == 0:
                    break
                hit = _covers(entry.edges, ids[open_])
                out[open_[hit]] = entry.factor
                open_ = open_[~hit]
        return self._with_probes(ids, out)

    def _with_probes(self, ids: I64, feed: F64) -> F64:
        """The feed's factors of `ids`, raised to the probe's where a probe entry is slower
        (an edge without a probe entry keeps the feed's factor, even one below 1.0)."""
        hit = _covers(self._probe_edge, ids)
        pos = np.searchsorted(self._probe_edge, ids[hit])
        feed[hit] = np.maximum(feed[hit], self._probe_factor[pos])
        return feed


def _covers(sorted_ids: I64, ids: I64) -> NDArray[np.bool_]:
    """Which of `ids` are in `sorted_ids` (sorted, unique): a binary search each."""
    if sorted_ids.size == 0 or ids.size == 0:
        return np.zeros(ids.shape[0], dtype=np.bool_)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.shape[0] - 1)
    return np.asarray(sorted_ids[pos] == ids, dtype=np.bool_)


def _groups(edges: I64, factor: F64) -> list[Restore]:
    """Edges grouped by the factor they are to be set to (one router write per group)."""
    return [Restore(edges[factor == f], float(f)) for f in _unique(factor)]


def _unique(values: NDArray[Any]) -> NDArray[Any]:
    """Sorted unique values (a sort and a compare: numpy's hashing `unique` is ~5x slower on
    the 70 000 edge ids of an expiring city-wide report)."""
    a = np.sort(values)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if a.size else a


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
