"""A big road network made from a real one: K x K shifted copies stitched at their borders.

The 1M-node benchmark graph is Hangzhou (39,059 nodes) tiled 5 x 5 (976,475 nodes). Each copy
is shifted east by the network's bounding-box width and north by its height (plus a 2 % gap,
so tiles never overlap and snapping stays inside one tile), and every pair of adjacent tiles is
joined by `links_per_side` two-way links: each of the nodes nearest to the shared side of one
tile is linked to the nearest of the nodes nearest to the facing side of the other. A link's
length is the haversine distance between its ends and its time is that length at 40 km/h.

Every copy is strongly connected (the source is) and the links are two-way, so the whole is
strongly connected; `tile_network` checks that with scipy anyway. Everything is built with
numpy over whole arrays: the copies repeat the base edge arrays with an id offset and the
link pattern is computed once and repeated for every adjacent pair of tiles.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.network import EARTH_RADIUS_M, F64, I64, RoadNetwork, from_edge_list

LINK_KPH = 40.0  # driving speed on a stitching link
GAP_SHARE = 0.02  # gap between neighbouring tiles, as a share of the bounding-box side


def haversine_m(lonlat_a: F64, lonlat_b: F64) -> F64:
    """Great-circle metres between matching rows of two (n, 2) lon/lat arrays."""
    lon1, lat1 = np.radians(lonlat_a[:, 0]), np.radians(lonlat_a[:, 1])
    lon2, lat2 = np.radians(lonlat_b[:, 0]), np.radians(lonlat_b[:, 1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    metres: F64 = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return metres


def tile_offsets(net: RoadNetwork, k: int) -> F64:
    """(k*k, 2) lon/lat shift of each tile; tile t sits at row t // k (north), column t % k."""
    lonlat = net.node_lonlat
    step = (lonlat.max(axis=0) - lonlat.min(axis=0)) * (1.0 + GAP_SHARE)
    row, col = np.divmod(np.arange(k * k), k)
    return np.column_stack([col * step[0], row * step[1]])


def _side_pairs(lonlat: F64, axis: int, shift: float, count: int) -> tuple[I64, I64]:
    """Link pattern across one side: (near-side node, facing-side node) pairs in base ids.

    The near side is the high end of `axis` (east for lon, north for lat) of one tile; the
    facing side is the low end of the next tile, `shift` degrees further along `axis`.
    """
    count = min(count, lonlat.shape[0])
    near = np.argpartition(-lonlat[:, axis], count - 1)[:count]
    far = np.argpartition(lonlat[:, axis], count - 1)[:count]
    far_ll = lonlat[far].copy()
    far_ll[:, axis] += shift
    kx = np.cos(np.radians(lonlat[:, 1].mean()))  # equirectangular is plenty to pick the nearest
    dx = (lonlat[near, 0][:, None] - far_ll[:, 0][None, :]) * kx
    dy = lonlat[near, 1][:, None] - far_ll[:, 1][None, :]
    nearest = np.argmin(dx * dx + dy * dy, axis=1)
    return near.astype(np.int64), far[nearest].astype(np.int64)


def tile_network(net: RoadNetwork, k: int, links_per_side: int = 30) -> RoadNetwork:
    """`net` copied k x k and stitched with two-way links between adjacent tiles.

    Node v of tile t becomes node t * n + v; edge names are kept, links are unnamed; there is
    no edge geometry. Raises ValueError when k < 1 or links_per_side < 1.
    """
    if k < 1 or links_per_side < 1:
        raise ValueError(f"need k >= 1 and links_per_side >= 1, not k={k}, {links_per_side}")
    n, tiles = net.n_nodes, k * k
    offsets = tile_offsets(net, k)
    node_lonlat = (net.node_lonlat[None, :, :] + offsets[:, None, :]).reshape(-1, 2)
    base = (np.arange(tiles, dtype=np.int64) * n)[:, None]  # first node id of each tile
    tail = (net.edge_tail[None, :] + base).ravel()
    head = (net.edge_head[None, :] + base).ravel()

    # Adjacent tile pairs (a, b): b east of a, then b north of a.
    row, col = np.divmod(np.arange(tiles), k)
    east_of = np.nonzero(col < k - 1)[0]
    north_of = np.nonzero(row < k - 1)[0]
    step = offsets[k + 1] if k > 1 else np.zeros(2)  # tile (1, 1): one step east and north
    link_tail, link_head = [], []
    for axis, a_tiles, b_offset in ((0, east_of, 1), (1, north_of, k)):
        near, far = _side_pairs(net.node_lonlat, axis, float(step[axis]), links_per_side)
        u = (a_tiles[:, None] * n + near[None, :]).ravel()
        v = ((a_tiles + b_offset)[:, None] * n + far[None, :]).ravel()
        link_tail += [u, v]  # both directions
        link_head += [v, u]
    lt = np.concatenate(link_tail).astype(np.int64)
    lh = np.concatenate(link_head).astype(np.int64)
    link_len = haversine_m(node_lonlat[lt], node_lonlat[lh])
    link_len = np.maximum(link_len, 1.0)  # coincident ends would make a free edge

    tail = np.concatenate([tail, lt]).astype(np.int32)
    head = np.concatenate([head, lh]).astype(np.int32)
    length_m = np.concatenate([np.tile(net.length_m, tiles), link_len])
    time_s = np.concatenate([np.tile(net.base_time_s, tiles), link_len / (LINK_KPH / 3.6)])
    edge_name = np.concatenate([np.tile(net.edge_name, tiles), np.full(lt.shape[0], -1)])
    osm_id = (net.node_osm_id[None, :] * tiles + np.arange(tiles)[:, None]).ravel()

    n_all = n * tiles
    adj = csr_matrix((np.ones(tail.shape[0], dtype=np.int8), (tail, head)), shape=(n_all, n_all))
    n_comp, _ = connected_components(adj, directed=True, connection="strong")
    assert n_comp == 1, f"tiled network has {n_comp} strongly connected components"

    meta = dict(net.meta)
    meta.update(
        source=f"{net.meta.get('source', 'network')} tiled {k}x{k}",
        tiles=k,
        links_per_side=links_per_side,
        base_nodes=n,
        base_edges=net.n_edges,
    )
    return from_edge_list(
        node_lonlat=node_lonlat,
        node_osm_id=osm_id,
        tail=tail,
        head=head,
        length_m=length_m,
        time_s=time_s,
        edge_name=edge_name.astype(np.int32),
        names=[str(s) for s in net.names],
        geom=None,
        meta=meta,
    )
