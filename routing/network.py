"""The compiled road network: CSR travel-time graph, node positions, edge geometry, names.

A `RoadNetwork` is a bag of numpy arrays and nothing else, so it saves to one `.npz` file and
loads back in milliseconds. Edge ids are positions in the forward CSR (edges sorted by tail), so
`edge_head[e]`, `length_m[e]`, `time_s[e]` need no indirection. The reverse CSR (edges sorted by
head) serves searches toward a point; `edge_rev_pos[e]` finds an edge's slot there, so a live
congestion factor is one write into each of the two weight arrays.

Travel times are seconds for an ambulance (the speed model is applied at compile time);
`base_time_s` is free of congestion and `time_s` / `rev_time_s` are the live weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.errors import NetworkLoadError

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]

#: Bumped whenever the array layout changes, so stale caches are rebuilt, never misread.
FORMAT_VERSION = 2

EARTH_RADIUS_M = 6_371_008.8


@dataclass(eq=False)
class RoadNetwork:
    """A directed road graph compiled to arrays (see the module docstring for the layout)."""

    node_lonlat: F64  # (n, 2) WGS-84 degrees
    node_osm_id: I64  # (n,) source node ids
    fwd_indptr: I32  # (n+1,) edges of node u are ids fwd_indptr[u]:fwd_indptr[u+1]
    edge_tail: I32  # (m,) u of edge e
    edge_head: I32  # (m,) v of edge e
    length_m: F64  # (m,)
    base_time_s: F64  # (m,) ambulance free-flow seconds
    time_s: F64  # (m,) live seconds = base_time_s * factor
    factor: F64  # (m,) live congestion factor, 1.0 = free flow
    rev_indptr: I32  # (n+1,) edges *into* node v are rev slots rev_indptr[v]:rev_indptr[v+1]
    rev_tail: I32  # (m,) tail node of the edge in each reverse slot
    rev_edge: I32  # (m,) edge id in each reverse slot
    rev_time_s: F64  # (m,) live seconds in reverse-slot order
    edge_rev_pos: I32  # (m,) reverse slot of edge e
    fwd_edge: I32  # (m,) arange(m): the edge id of each forward slot, for the shared kernel
    twin: I32  # (m,) the edge v->u of an edge u->v sharing its geometry, or -1 (one-way)
    edge_name: I32  # (m,) index into names, -1 when the road is unnamed
    names: NDArray[np.str_]  # (s,) street names
    geom_indptr: I32  # (m+1,) intermediate shape points of edge e: geom_lonlat[ptr[e]:ptr[e+1]]
    geom_lonlat: F64  # (g, 2)
    landmark: I32  # (L,) landmark node ids for A* bounds (routing.landmarks)
    from_landmark_s: F64  # (n, L) free-flow seconds from each landmark to each node
    to_landmark_s: F64  # (n, L) free-flow seconds from each node to each landmark
    meta: dict[str, Any] = field(default_factory=dict)  # source, counts, speed model, ...

    @property
    def n_nodes(self) -> int:
        return int(self.node_lonlat.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_head.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the network's memory footprint)."""
        return sum(int(getattr(self, f.name).nbytes) for f in fields(self) if f.name != "meta")

    def edge_lonlat(self, e: int) -> F64:
        """The (p, 2) polyline of edge e from its tail to its head."""
        inner = self.geom_lonlat[self.geom_indptr[e] : self.geom_indptr[e + 1]]
        ends = self.node_lonlat[[self.edge_tail[e], self.edge_head[e]]]
        return np.vstack([ends[:1], inner, ends[1:]])

    def save(self, path: Path) -> None:
        """Write every array and the metadata to one uncompressed `.npz` (fast to load)."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "meta"}
        meta = dict(self.meta, format_version=FORMAT_VERSION)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, meta_json=np.array(_dumps(meta)), **arrays)
        tmp.replace(path)  # atomic: a crash never leaves a half-written cache

    @classmethod
    def load(cls, path: Path) -> RoadNetwork:
        """Read a network written by `save`; raise NetworkLoadError on a stale or broken file."""
        try:
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
                meta = _loads(str(z["meta_json"]))
                if meta.get("format_version") != FORMAT_VERSION:
                    raise NetworkLoadError(f"{path}: cache format {meta.get('format_version')}")
                arrays = {f.name: z[f.name] for f in fields(cls) if f.name != "meta"}
        except Exception as exc:  # a torn zip fails in many ways (BadZipFile, EOFError, ...)
            raise NetworkLoadError(f"{path}: {exc}") from exc
        return cls(meta=meta, **arrays)


def from_edge_list(
    node_lonlat: F64,
    node_osm_id: I64,
    tail: I32,
    head: I32,
    length_m: F64,
    time_s: F64,
    edge_name: I32,
    names: list[str],
    geom: list[F64] | None = None,
    meta: dict[str, Any] | None = None,
) -> RoadNetwork:
    """Build the CSR layout from an edge list (any order); `geom[i]` are edge i's inner points."""
    n = node_lonlat.shape[0]
    if tail.shape[0] == 0:
        raise NetworkLoadError("the network has no edges")
    order = np.lexsort((head, tail))  # forward CSR: by tail, then head (deterministic)
    tail, head = tail[order].astype(np.int32), head[order].astype(np.int32)
    length_m = length_m[order].astype(np.float64)
    time_s = time_s[order].astype(np.float64)
    edge_name = edge_name[order].astype(np.int32)
    m = tail.shape[0]
    fwd_indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(tail, minlength=n), out=fwd_indptr[1:])
    rev_order = np.lexsort((tail, head)).astype(np.int32)  # reverse CSR: by head, then tail
    rev_indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(head, minlength=n), out=rev_indptr[1:])
    edge_rev_pos = np.empty(m, dtype=np.int32)
    edge_rev_pos[rev_order] = np.arange(m, dtype=np.int32)
    if geom is None:
        geom_indptr = np.zeros(m + 1, dtype=np.int32)
        geom_lonlat = np.zeros((0, 2), dtype=np.float64)
    else:
        ordered = [geom[i] for i in order]
        sizes = np.array([g.shape[0] for g in ordered], dtype=np.int32)
        geom_indptr = np.zeros(m + 1, dtype=np.int32)
        np.cumsum(sizes, out=geom_indptr[1:])
        geom_lonlat = (
            np.vstack(ordered).astype(np.float64) if sizes.sum() else np.zeros((0, 2), np.float64)
        )
    from routing.landmarks import compute_landmarks  # scipy: kept off the import path

    landmark, from_lm, to_lm = compute_landmarks(n, tail, head, time_s)
    net = RoadNetwork(
        node_lonlat=np.ascontiguousarray(node_lonlat, dtype=np.float64),
        node_osm_id=np.asarray(node_osm_id, dtype=np.int64),
        fwd_indptr=fwd_indptr,
        edge_tail=tail,
        edge_head=head,
        length_m=length_m,
        base_time_s=time_s.copy(),
        time_s=time_s.copy(),
        factor=np.ones(m, dtype=np.float64),
        rev_indptr=rev_indptr,
        rev_tail=tail[rev_order],
        rev_edge=rev_order,
        rev_time_s=time_s[rev_order],
        edge_rev_pos=edge_rev_pos,
        fwd_edge=np.arange(m, dtype=np.int32),
        twin=_twins(tail, head, length_m, geom_indptr, geom_lonlat),
        edge_name=edge_name,
        names=np.array(names, dtype=np.str_) if names else np.zeros(0, dtype="<U1"),
        geom_indptr=geom_indptr,
        geom_lonlat=geom_lonlat,
        landmark=landmark,
        from_landmark_s=from_lm,
        to_landmark_s=to_lm,
        meta=dict(meta or {}),
    )
    return net


def _twins(tail: I32, head: I32, length_m: F64, geom_indptr: I32, geom_lonlat: F64) -> I32:
    """For each edge u->v, the id of an edge v->u over the same ground, else -1.

    Parallel edges between the same pair are matched by length (within 1 m), and the inner
    shape must be the reversed shape, so a two-way street is one road, not two.
    """
    m = tail.shape[0]
    twin = np.full(m, -1, dtype=np.int32)
    key_fwd = tail.astype(np.int64) << 32 | head.astype(np.int64)
    key_rev = head.astype(np.int64) << 32 | tail.astype(np.int64)
    order = np.argsort(key_fwd, kind="stable")
    sorted_keys = key_fwd[order]
    lo = np.searchsorted(sorted_keys, key_rev, side="left")
    hi = np.searchsorted(sorted_keys, key_rev, side="right")
    sizes = np.diff(geom_indptr)
    simple = (hi - lo == 1) & (sizes == 0)  # the common case, done in bulk
    e_simple = np.nonzero(simple)[0]
    cand = order[lo[e_simple]]
    ok = (sizes[cand] == 0) & (np.abs(length_m[cand] - length_m[e_simple]) <= 1.0)
    twin[e_simple[ok]] = cand[ok]
    for e in np.nonzero((hi > lo) & ~simple)[0]:
        for c in order[lo[e] : hi[e]]:
            if abs(length_m[c] - length_m[e]) > 1.0:
                continue
            a = geom_lonlat[geom_indptr[e] : geom_indptr[e + 1]]
            b = geom_lonlat[geom_indptr[c] : geom_indptr[c + 1]]
            if a.shape == b.shape and np.allclose(a, b[::-1]):
                twin[e] = c
                break
    return twin


def _dumps(meta: dict[str, Any]) -> str:
    return json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str)


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("metadata is not an object")
    return value
