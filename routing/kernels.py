"""Compiled graph searches over CSR arrays: one bounded, multi-target Dijkstra.

Everything here is numba `njit` code on plain arrays; no Python objects, no I/O. The one search
serves three callers:

- ranking (`routing.rank`): run on the *reverse* graph from the incident, with the units as
  targets; it stops as soon as the k nearest units are final, so the bound is exactly the k-th
  unit's ETA, the tightest bound any search can have.
- routing (`routing.route`): run on the *forward* graph from the origin with one target.
- matrices: forward from each origin, with every destination as a target.

Points on the road are not nodes. A point is a position along a directed edge, so a search
starts from *seeds* (the nodes next to the start point, each with the partial-edge cost to reach
it) and ends at *targets* given as exits: (node, extra cost, target index). An exit with node -1
is a direct hit (start and target on the same edge) and is pushed at the start. Targets are
virtual heap entries keyed by index n + exit: when one pops, that target is final, so targets
come out in exact cost order.

Workspace arrays are reused across calls with a generation stamp, so a search touches only the
nodes it settles, never all n (a 1M-node graph would otherwise cost a memset per query).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]


@njit(cache=True, nogil=True)
def _heap_push(keys: F64, ids: I64, size: int, key: float, item: int) -> int:
    """Push (key, item) on a binary min-heap stored in keys/ids; return the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        ids[i] = ids[parent]
        i = parent
    keys[i] = key
    ids[i] = item
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(keys: F64, ids: I64, size: int) -> int:
    """Remove the heap top (read it from keys[0]/ids[0] first); return the new size."""
    size -= 1
    key = keys[size]
    item = ids[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i] = keys[child]
        ids[i] = ids[child]
        i = child
    keys[i] = key
    ids[i] = item
    return size


@njit(cache=True, nogil=True)
def multi_target_search(
    indptr: I32,
    adj_node: I32,
    adj_edge: I32,
    weight: F64,
    seed_node: I32,
    seed_cost: F64,
    exit_node: I32,
    exit_cost: F64,
    exit_target: I32,
    came_from: I32,
    n_targets: int,
    k: int,
    max_cost: float,
    dist: F64,
    stamp: I64,
    done: I64,
    pred_edge: I32,
    tmark: I32,
    tnext: I32,
    heap_keys: F64,
    heap_ids: I64,
    gen: int,
) -> tuple[I32, F64, I32, I32, I32, I32, int]:
    """Dijkstra from the seeds until k distinct targets are final (or max_cost is passed).

    `weight[p]` is the cost of CSR slot p (edge `adj_edge[p]` leading to `adj_node[p]`);
    `came_from[e]` is the node the search stands on when it walks edge e (the edge's tail in a
    forward search, its head in a reverse one).
    Returns (target, cost, exit used, seed reached, path_ptr, path_edges, settled nodes).
    Target i's path is path_edges[path_ptr[i]:path_ptr[i+1]]: the edge ids walked back from its
    exit node to seed i (-1 for a direct exit), in search order (reverse them for a forward
    search). `tmark` must be all -1 on entry
    and is left so.
    """
    n = indptr.shape[0] - 1
    # Link exits by node: tmark[node] -> first exit, tnext[exit] -> next exit at that node.
    n_exits = exit_node.shape[0]
    for j in range(n_exits):
        v = exit_node[j]
        if v >= 0:
            tnext[j] = tmark[v]
            tmark[v] = j
    t_done = np.zeros(n_targets, dtype=np.bool_)
    out_target = np.empty(k, dtype=np.int32)
    out_cost = np.empty(k, dtype=np.float64)
    out_exit = np.empty(k, dtype=np.int32)
    n_out = 0
    size = 0
    for i in range(seed_node.shape[0]):
        v = seed_node[i]
        c = seed_cost[i]
        if stamp[v] != gen or c < dist[v]:
            stamp[v] = gen
            dist[v] = c
            pred_edge[v] = -2 - i  # a chain ends here; the code names the seed
            size = _heap_push(heap_keys, heap_ids, size, c, v)
    for j in range(n_exits):
        if exit_node[j] < 0:
            size = _heap_push(heap_keys, heap_ids, size, exit_cost[j], n + j)
    settled = 0
    while size > 0 and n_out < k:
        d = heap_keys[0]
        item = heap_ids[0]
        size = _heap_pop(heap_keys, heap_ids, size)
        if d > max_cost:
            break
        if item >= n:  # a target's virtual entry: final now
            j = item - n
            t = exit_target[j]
            if not t_done[t]:
                t_done[t] = True
                out_target[n_out] = t
                out_cost[n_out] = d
                out_exit[n_out] = j
                n_out += 1
            continue
        v = item
        if done[v] == gen or d > dist[v]:
            continue
        done[v] = gen
        settled += 1
        j = tmark[v]
        while j >= 0:
            if not t_done[exit_target[j]]:
                size = _heap_push(heap_keys, heap_ids, size, d + exit_cost[j], n + j)
            j = tnext[j]
        for p in range(indptr[v], indptr[v + 1]):
            w = adj_node[p]
            nd = d + weight[p]
            if stamp[w] != gen or nd < dist[w]:
                stamp[w] = gen
                dist[w] = nd
                pred_edge[w] = adj_edge[p]
                size = _heap_push(heap_keys, heap_ids, size, nd, w)
    for j in range(n_exits):
        v = exit_node[j]
        if v >= 0:
            tmark[v] = -1
    # Walk each found target's predecessor chain back to a seed.
    path_ptr = np.zeros(n_out + 1, dtype=np.int32)
    out_seed = np.full(n_out, -1, dtype=np.int32)
    total = 0
    for i in range(n_out):
        v = exit_node[out_exit[i]]
        while v >= 0 and pred_edge[v] >= 0:
            total += 1
            v = came_from[pred_edge[v]]
        if v >= 0:
            out_seed[i] = -2 - pred_edge[v]
        path_ptr[i + 1] = total
    path_edges = np.empty(total, dtype=np.int32)
    for i in range(n_out):
        pos = path_ptr[i]
        v = exit_node[out_exit[i]]
        while v >= 0 and pred_edge[v] >= 0:
            e = pred_edge[v]
            path_edges[pos] = e
            pos += 1
            v = came_from[e]
    return (
        out_target[:n_out],
        out_cost[:n_out],
        out_exit[:n_out],
        out_seed,
        path_ptr,
        path_edges,
        settled,
    )


@njit(cache=True, nogil=True)
def _lower_bound(v: int, x: int, from_lm: F64, to_lm: F64) -> float:
    """ALT lower bound on the free-flow time from node v to node x."""
    best = 0.0
    for i in range(from_lm.shape[1]):
        a = from_lm[x, i] - from_lm[v, i]
        if a > best:
            best = a
        b = to_lm[v, i] - to_lm[x, i]
        if b > best:
            best = b
    return best


@njit(cache=True, nogil=True)
def astar_search(
    indptr: I32,
    adj_node: I32,
    adj_edge: I32,
    weight: F64,
    came_from: I32,
    seed_node: I32,
    seed_cost: F64,
    entry_node: I32,
    entry_cost: F64,
    direct_cost: float,
    from_lm: F64,
    to_lm: F64,
    hscale: float,
    dist: F64,
    hval: F64,
    stamp: I64,
    done: I64,
    pred_edge: I32,
    heap_keys: F64,
    heap_ids: I64,
    gen: int,
) -> tuple[float, int, int, I32, int]:
    """A* with landmark bounds from the seeds to one target point, forward only.

    The target is entered from `entry_node[i]` at extra cost `entry_cost[i]` (at most two), or
    reached directly at `direct_cost` (inf when not on the source's road). The bound is
    min over entries of (hscale * landmark bound + entry cost): consistent, so the first time
    the target's virtual entry pops its cost is exact. Returns (cost or inf, entry used
    (-1 direct), seed reached, path edges walked back from the entry node, settled nodes).
    """
    n = indptr.shape[0] - 1
    size = 0
    for i in range(seed_node.shape[0]):
        v = seed_node[i]
        c = seed_cost[i]
        if stamp[v] != gen or c < dist[v]:
            if stamp[v] != gen:
                hval[v] = _heuristic(v, entry_node, entry_cost, from_lm, to_lm, hscale)
            stamp[v] = gen
            dist[v] = c
            pred_edge[v] = -2 - i
            size = _heap_push(heap_keys, heap_ids, size, c + hval[v], v)
    if direct_cost < np.inf:
        size = _heap_push(heap_keys, heap_ids, size, direct_cost, n + entry_node.shape[0])
    settled = 0
    best = np.inf
    used = -2
    while size > 0:
        key = heap_keys[0]
        item = heap_ids[0]
        size = _heap_pop(heap_keys, heap_ids, size)
        if item >= n:
            best = key
            used = item - n
            break
        v = item
        if done[v] == gen:
            continue
        done[v] = gen
        settled += 1
        d = dist[v]
        for i in range(entry_node.shape[0]):
            if entry_node[i] == v:
                size = _heap_push(heap_keys, heap_ids, size, d + entry_cost[i], n + i)
        for p in range(indptr[v], indptr[v + 1]):
            w = adj_node[p]
            nd = d + weight[p]
            if stamp[w] != gen or nd < dist[w]:
                if stamp[w] != gen:
                    hval[w] = _heuristic(w, entry_node, entry_cost, from_lm, to_lm, hscale)
                stamp[w] = gen
                dist[w] = nd
                pred_edge[w] = adj_edge[p]
                size = _heap_push(heap_keys, heap_ids, size, nd + hval[w], w)
    if used == entry_node.shape[0]:
        used = -1  # the direct hit
    count = 0
    seed = -1
    if used >= 0:
        v = entry_node[used]
        while pred_edge[v] >= 0:
            count += 1
            v = came_from[pred_edge[v]]
        seed = -2 - pred_edge[v]
    path = np.empty(count, dtype=np.int32)
    if used >= 0:
        v = entry_node[used]
        for i in range(count):
            path[i] = pred_edge[v]
            v = came_from[path[i]]
    return best, used, seed, path, settled


@njit(cache=True, nogil=True)
def _heuristic(
    v: int, entry_node: I32, entry_cost: F64, from_lm: F64, to_lm: F64, hscale: float
) -> float:
    h = np.inf
    for i in range(entry_node.shape[0]):
        c = hscale * _lower_bound(v, entry_node[i], from_lm, to_lm) + entry_cost[i]
        if c < h:
            h = c
    return h
