"""Landmarks for A* (ALT): exact driving-time lower bounds from the triangle inequality.

For a landmark L, d(L, t) - d(L, v) and d(v, L) - d(t, L) are both lower bounds on d(v, t);
their maximum over a few landmarks spread over the network's rim steers a point-to-point
search toward its target so it settles a small fraction of the nodes plain Dijkstra would.
Distances are on free-flow times; congestion only slows roads, so the bounds stay valid, and
a factor below 1 is covered by scaling the bound down (see `routing.route`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.network import F64, I32

N_LANDMARKS = 16


def fastest_parallel(n: int, tail: I32, head: I32, time_s: F64) -> NDArray[np.intp]:
    """Indices of the edges to keep so each (tail, head) pair has only its fastest edge."""
    key = tail.astype(np.int64) * n + head
    order = np.lexsort((time_s, key))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return order[first]


def _sssp(graph: csr_matrix, source: int) -> F64:
    """Free-flow seconds from one node to every node (inf where unreachable)."""
    out: F64 = np.asarray(dijkstra(graph, indices=[source])[0], dtype=np.float64)
    return out


def compute_landmarks(
    n: int, tail: I32, head: I32, time_s: F64, count: int = N_LANDMARKS
) -> tuple[I32, F64, F64]:
    """Pick `count` landmarks by farthest-point selection; return (ids, from_lm, to_lm).

    from_lm[v, i] = d(landmark i -> v), to_lm[v, i] = d(v -> landmark i), both (n, count),
    node-major so one node's bounds are contiguous. The graph must be strongly connected.
    """
    sel = fastest_parallel(n, tail, head, time_s)  # csgraph would add parallel edges up
    graph = csr_matrix((time_s[sel], (tail[sel], head[sel])), shape=(n, n))
    graph_t = graph.T.tocsr()
    count = min(count, n)
    ids = np.empty(count, dtype=np.int32)
    from_lm = np.empty((n, count), dtype=np.float64)
    to_lm = np.empty((n, count), dtype=np.float64)
    # Start from the node farthest from an arbitrary one, then keep adding the node farthest
    # (round trip) from every landmark chosen so far.
    spread = _sssp(graph, 0) + _sssp(graph_t, 0)
    nearest = np.full(n, np.inf)
    for i in range(count):
        ids[i] = int(np.argmax(np.where(np.isfinite(spread), spread, -1.0)))
        from_lm[:, i] = _sssp(graph, int(ids[i]))
        to_lm[:, i] = _sssp(graph_t, int(ids[i]))
        nearest = np.minimum(nearest, from_lm[:, i] + to_lm[:, i])
        spread = nearest
    return ids, from_lm, to_lm
