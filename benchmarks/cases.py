"""The routing benchmark's cases (a-e in `benchmarks.bench_routing`), each ours vs its peers.

Each case samples its questions, times ours over all of them, then each peer over a prefix of
the same list (slow peers get fewer), prints p50/p99 and the ratio, checks the answers where a
peer can check them, and returns (a record for the JSON report, rows for the table).
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.peers import (
    IgraphPeer,
    NetworkxPeer,
    PandanaPeer,
    ScipyPeer,
    build_pandana,
    top_k,
)
from benchmarks.queries import (
    RankQuery,
    RouteQuery,
    arriving_at,
    arriving_point,
    leaving_point,
    random_edge_sets,
    rank_queries,
    route_queries,
)
from benchmarks.targets import QUICK, Scorecard
from benchmarks.timing import NO_PEER, NO_PEER_CHECK, Row, Timing, fmt_ms, time_calls
from routing.compile import to_networkx
from routing.load import load_network
from routing.router import Router

if TYPE_CHECKING:
    from benchmarks.bench_routing import Plan

FACTOR = 1.7  # the congestion factor the benchmark sets
FLOOR = "in-place CSR write"  # timed beside ours, but a floor (the bare write), not a peer


def say(text: str) -> None:
    print(text, flush=True)


def warm_up(r: Router, rng: np.random.Generator) -> None:
    """Compile (or load the cached) numba kernels and touch the arrays once, untimed."""
    for q in rank_queries(r, rng, 3, 50):
        r.rank(q.units, q.incident, 5)
    for rq in route_queries(r, rng, 3):
        r.route(rq.origin, rq.destination)


def report_line(t: Timing, ours: Timing | None = None) -> None:
    ratio = f"  ratio {t.p50_ms / ours.p50_ms:,.3g}x" if ours is not None else ""
    say(
        f"   {t.name:<34} p50 {fmt_ms(t.p50_ms):>9}  p99 {fmt_ms(t.p99_ms):>9}"
        f"  (n={len(t.samples_s)}){ratio}"
    )


def compare(
    case: str,
    ours: Timing,
    peers: list[Timing],
    card: Scorecard,
    keys: dict[str, str],
    unjudged: str | None = None,
) -> tuple[dict[str, Any], list[Row]]:
    """Print and tabulate each peer against ours; `keys` maps peer name -> its ratio target.

    `unjudged` says why this run does not judge the ratios (a quick run, the small tiling):
    they are shown with that note and no verdict.
    """
    record: dict[str, Any] = {"ours": ours.summary(), "peers": {}}
    rows = []
    for t in peers:
        ratio = t.p50_ms / ours.p50_ms
        report_line(t, ours)
        name = f"— (no peer: floor, {t.name})" if t.name == FLOOR else t.name
        key = keys.get(t.name)
        if key is None:
            record["peers"][t.name] = dict(t.summary(), ratio=ratio, min_ratio=None, passed=None)
            rows.append(Row(case, ours.text(), name, t.text(), ratio))
            continue
        c = card.check(key, ratio, unjudged=unjudged)
        record["peers"][t.name] = dict(t.summary(), ratio=ratio, min_ratio=c.limit, passed=c.passed)
        rows.append(Row.judged(case, ours.text(), c, name, t.text(), ratio))
    return record, rows


def failures(answers: list[float | None]) -> int:
    """Queries that failed: no answer (None), or a NaN or infinite ETA."""
    return sum(1 for eta in answers if eta is None or not np.isfinite(eta))


def bench_rank(
    case_id: str,
    title: str,
    r: Router,
    rng: np.random.Generator,
    plan: Plan,
    *,
    units: int,
    scipy: ScipyPeer,
    igraph: IgraphPeer,
    nx: NetworkxPeer | None,
    reps: dict[str, int],
    card: Scorecard,
    keys: dict[str, str],
    eta_key: str,
    p50_key: str | None = None,
    unjudged: str | None = None,
) -> tuple[dict[str, Any], list[Row]]:
    """Rank `units` units to one incident: ours vs scipy (unbounded, bounded), igraph, networkx.

    `keys` maps peer name -> ratio target, `eta_key` is the answer check's target and
    `p50_key` our absolute p50's (not judged in quick runs); `unjudged` says why the ratios
    are not judged in this run, if they are not.
    """
    case = f"{case_id}. {title}"
    say(f"\n{case}")
    k = plan.k
    queries = rank_queries(r, rng, plan.reps, units)
    for q in queries[:3]:
        r.rank(q.units, q.incident, k)  # warm the caches on this graph

    def ours_fn(q: RankQuery) -> tuple[list[Any], int]:
        return r.rank(q.units, q.incident, k), r.space.last_settled

    ours, out = time_calls("ours: Router.rank", ours_fn, queries)
    # A ranking short of k units, or with a NaN or infinite ETA, is a failed query.
    kth = [res[-1].eta_s if len(res) == k else None for res, _ in out]
    failed = sum(len(res) < k or not np.all(np.isfinite([u.eta_s for u in res])) for res, _ in out)
    settled = np.array([s for _, s in out])
    say(f"   ours settles {np.median(settled):,.0f} nodes (median) of {r.net.n_nodes:,}")
    report_line(ours)
    peers = [
        time_calls(
            "scipy unbounded",
            lambda q: scipy.rank(q.incident_node, q.unit_nodes, k),
            queries[: reps["scipy unbounded"]],
            progress=True,
        )[0],
        time_calls(
            "scipy bounded at k-th ETA",
            lambda qk: scipy.rank(qk[0].incident_node, qk[0].unit_nodes, k, qk[1] + 1e-6),
            [(q, eta) for q, eta in zip(queries, kth, strict=True) if eta is not None],
        )[0],
        time_calls(
            "igraph distances",
            lambda q: igraph.rank(q.incident_node, q.unit_nodes, k),
            queries[: reps["igraph distances"]],
            progress=True,
        )[0],
    ]
    if nx is not None and reps.get("networkx", 0) > 0:
        peers.append(
            time_calls(
                "networkx",
                lambda q: nx.rank(q.incident_node, q.unit_nodes, k),
                queries[: reps["networkx"]],
                progress=True,
            )[0]
        )
    record, rows = compare(case, ours, peers, card, keys, unjudged)
    record.update(
        title=title,
        settled_median=float(np.median(settled)),
        units=units,
        k=k,
        failed_queries=failed,
    )
    if p50_key is not None:
        c = card.check(p50_key, ours.p50_ms, unjudged=None if plan.judged else QUICK)
        rows.append(Row.judged(case, ours.text(), c, NO_PEER))
        record["p50_budget_ms"] = c.limit

    # Same answers as scipy when every point sits exactly on a node.
    worst = 0.0
    for q in queries[: max(2, min(10, reps["scipy unbounded"]))]:
        mine = r.rank(arriving_at(r.net, q.unit_nodes), leaving_point(r.net, q.incident_node), k)
        _, theirs = top_k(scipy.eta_to(q.incident_node)[q.unit_nodes], k)
        worst = max(worst, float(np.max(np.abs(np.array([u.eta_s for u in mine]) - theirs))))
    say(f"   node-exact check vs scipy: max |ΔETA| over top {k} = {worst:.3g} s")
    record["check_max_abs_eta_diff_s"] = worst
    c = card.check(eta_key, worst)
    rows.append(
        Row.judged(
            f"{case_id}. rank ETAs = scipy (node-exact points)",
            f"max ΔETA {worst:.2g} s",
            c,
            "scipy Dijkstra",
        )
    )
    return record, rows


def bench_route(
    r: Router,
    rng: np.random.Generator,
    plan: Plan,
    card: Scorecard,
    *,
    nx: NetworkxPeer,
    pandana: PandanaPeer,
) -> tuple[dict[str, Any], list[Row]]:
    """Point to point with polyline: ours vs networkx bidirectional, pandana CH (API and core).

    The ratio to networkx is judged in quick runs too (Hangzhou in both; see targets.toml).
    """
    case = "c. route A→B with polyline, Hangzhou"
    say(f"\n{case}")
    queries = route_queries(r, rng, plan.reps)

    def ours_fn(q: RouteQuery) -> tuple[Any, int]:
        return r.route(q.origin, q.destination), r.space.last_settled

    ours, out = time_calls("ours: Router.route", ours_fn, queries)
    settled = [n for _, n in out]
    failed = failures([None if route is None else route.eta_s for route, _ in out])
    say(f"   ours settles {np.median(settled):,.0f} nodes (median) of {r.net.n_nodes:,}")
    report_line(ours)
    slow = queries[: plan.reps_slow]
    peers = [
        time_calls(
            "networkx bidirectional",
            lambda q: nx.route(q.origin_node, q.destination_node),
            slow,
            progress=True,
        )[0],
        time_calls(
            "pandana CH (public API)",
            lambda q: pandana.route(q.origin_node, q.destination_node),
            slow,
            progress=True,
        )[0],
        time_calls(
            "pandana CH (C++ core)",
            lambda q: pandana.route_core(q.origin_node, q.destination_node),
            queries,
        )[0],
    ]
    keys = {"networkx bidirectional": "route_ratio_vs_networkx_min"}
    record, rows = compare(case, ours, peers, card, keys)
    record.update(title=case[3:], settled_median=float(np.median(settled)), failed_queries=failed)

    # Node-to-node pairs: our ETA against networkx (exact) and pandana (rounds weights).
    d_nx, d_pd = [], []
    for q in slow:
        a, b = q.origin_node, q.destination_node
        route = r.route(arriving_point(r.net, a), leaving_point(r.net, b))
        assert route is not None
        d_nx.append(abs(route.eta_s - nx.route(a, b)[0]))
        d_pd.append(abs(route.eta_s - pandana.route_core(a, b)[0]))
    worst_nx, worst_pd = max(d_nx), max(d_pd)
    say(
        f"   node-exact check: max |ΔETA| vs networkx {worst_nx:.3g} s, vs pandana {worst_pd:.3g} s"
    )
    record.update(check_max_abs_eta_diff_nx_s=worst_nx, check_max_abs_eta_diff_pandana_s=worst_pd)
    c = card.check("route_eta_delta_vs_networkx_s_max", worst_nx)
    rows.append(
        Row.judged(
            "c. route ETA = networkx (node-exact pairs)",
            f"max ΔETA {worst_nx:.2g} s",
            c,
            "networkx",
            f"pandana: max ΔETA {worst_pd:.2g} s",
        )
    )
    return record, rows


def bench_congestion(
    r: Router, rb: Router, rng: np.random.Generator, plan: Plan, card: Scorecard
) -> tuple[dict[str, Any], list[Row]]:
    """Congest 1 % of the edges on Hangzhou (also vs a pandana rebuild) and on the big graph."""
    record: dict[str, Any] = {}
    rows: list[Row] = []
    for label, router in (("Hangzhou", r), (f"{rb.net.n_nodes / 1e6:.2g}M nodes", rb)):
        record[label], got = congestion_case(label, router, rng, plan, card, rebuild=router is r)
        rows += got
    return record, rows


def congestion_case(
    label: str,
    router: Router,
    rng: np.random.Generator,
    plan: Plan,
    card: Scorecard,
    rebuild: bool,
) -> tuple[dict[str, Any], list[Row]]:
    """Ours vs the bare write of both CSR weight arrays (and a pandana CH rebuild if asked).

    The Hangzhou case (`rebuild`) checks the plain keys, the big graph's the `_1m` ones.
    """
    graph = "" if rebuild else "_1m"
    net = router.net
    sets = random_edge_sets(net, rng, plan.reps)
    case = f"d. congestion on 1 % ({sets[0].shape[0]:,} edges), {label}"
    say(f"\n{case}")

    def floor(ids: np.ndarray) -> None:
        net.time_s[ids] = net.base_time_s[ids] * FACTOR
        net.rev_time_s[net.edge_rev_pos[ids]] = net.time_s[ids]

    undo = router.clear_congestion  # untimed, after every call
    ours, _ = time_calls(
        "ours: Router.set_congestion",
        lambda ids: router.set_congestion(ids, FACTOR),
        sets,
        after=undo,
    )
    report_line(ours)
    peers = [time_calls(FLOOR, floor, sets, after=undo)[0]]
    keys = {FLOOR: f"congestion{graph}_ratio_vs_csr_write_min"}
    if rebuild:
        router.set_congestion(sets[0], FACTOR)
        rebuilds = range(plan.reps_rebuild)
        peers.append(
            time_calls("pandana CH rebuild", lambda _: build_pandana(net), rebuilds, True)[0]
        )
        router.clear_congestion(sets[0])
        keys["pandana CH rebuild"] = "congestion_ratio_vs_pandana_rebuild_min"
    record, rows = compare(case, ours, peers, card, keys, None if plan.judged else QUICK)
    seen = sees_congestion(router, rng, plan)
    say(f"   next query sees it: {seen['text']}")
    c = card.check(f"congestion{graph}_unseen_checks_max", seen["unseen_checks"])
    rows.append(
        Row.judged(
            f"d. next query sees congestion, {label}",
            seen["text"],
            c,
            NO_PEER_CHECK,
        )
    )
    assert not np.any(net.factor != 1.0), "the benchmark left congestion behind"
    record.update(title=case[3:], edges=int(sets[0].shape[0]), sees_change=seen)
    return record, rows


def sees_congestion(router: Router, rng: np.random.Generator, plan: Plan) -> dict[str, Any]:
    """Congest the edges of the best unit's route and of a route: both ETAs must rise, then
    come back exactly when cleared."""
    net = router.net
    q = next(
        q
        for q in rank_queries(router, rng, 20, plan.k * 4)
        if router.rank(q.units, q.incident, plan.k)[0].route(net).edges.size
    )
    rq = next(
        q
        for q in route_queries(router, rng, 20)
        if getattr(router.route(q.origin, q.destination), "edges", np.zeros(0)).size
    )

    def both() -> tuple[float, float]:
        top = router.rank(q.units, q.incident, plan.k)[0].eta_s
        route = router.route(rq.origin, rq.destination)
        assert route is not None
        return top, route.eta_s

    before = both()
    best = router.rank(q.units, q.incident, plan.k)[0].route(router.net)
    path = router.route(rq.origin, rq.destination)
    assert path is not None
    edges = np.unique(np.concatenate([best.edges, path.edges]))
    router.set_congestion(edges, FACTOR)
    during = both()
    router.clear_congestion(edges)
    after = both()
    # Four checks: each ETA rises while congested, and each comes back exactly once cleared.
    checks = [during[i] > before[i] + 1e-9 for i in (0, 1)]
    checks += [abs(after[i] - before[i]) <= 1e-9 for i in (0, 1)]
    rose, back = all(checks[:2]), all(checks[2:])
    text = (
        f"rank {before[0]:.1f}→{during[0]:.1f} s, route {before[1]:.1f}→{during[1]:.1f} s, "
        f"cleared {'=' if back else '≠'} before"
    )
    return {
        "before_s": before,
        "during_s": during,
        "after_s": after,
        "passed": rose and back,
        "unseen_checks": checks.count(False),
        "text": text,
    }


def bench_memory(plan: Plan, card: Scorecard) -> tuple[dict[str, Any], list[Row]]:
    """Compiled Hangzhou: bytes held, tracemalloc peak of a cached load, cold vs cached time."""
    say("\ne. memory and load time, Hangzhou")
    with tempfile.TemporaryDirectory(prefix="jijiu-bench-") as tmp:
        cache = Path(tmp)

        def cold(i: int) -> bool:
            return load_network("hangzhou", cache=cache / str(i))[1].cached

        t_cold, flags = time_calls("cold: compile from CSV", cold, range(plan.reps_rebuild))
        assert not any(flags), "a cold load came from a cache"
        t_cached, flags = time_calls(
            "ours: cached load",
            lambda _: load_network("hangzhou", cache=cache / "0")[1].cached,
            range(max(5, plan.reps_slow)),
        )
        assert all(flags), "a cached load compiled"
        tracemalloc.start()
        net, _ = load_network("hangzhou", cache=cache / "0")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    tracemalloc.start()
    graph = to_networkx(net)
    _, nx_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del graph
    mb = 1e6
    say(
        f"   arrays {net.nbytes / mb:.1f} MB, cached-load peak {peak / mb:.1f} MB, "
        f"networkx DiGraph {nx_peak / mb:.1f} MB"
    )
    report_line(t_cached)
    report_line(t_cold, t_cached)
    arrays = card.check("network_arrays_mb_max", net.nbytes / mb)
    cached = card.check("cached_load_peak_mb_max", peak / mb)
    rows = [
        Row.judged(
            "e. Hangzhou network memory",
            f"{net.nbytes / mb:.1f} MB arrays",
            arrays,
            "networkx DiGraph (tracemalloc)",
            f"{nx_peak / mb:.1f} MB",
            nx_peak / net.nbytes,
        ),
        Row.judged("e. cached load, tracemalloc peak", f"{peak / mb:.1f} MB", cached, NO_PEER),
        Row(
            "e. load time, cached vs cold",
            t_cached.text(),
            "— (no peer: ours, cold compile from CSV)",
            t_cold.text(),
            t_cold.p50_ms / t_cached.p50_ms,
            "reported",
        ),
    ]
    record = {
        "nbytes": net.nbytes,
        "cached_load_peak_bytes": peak,
        "networkx_peak_bytes": nx_peak,
        "cached_load": t_cached.summary(),
        "cold_load": t_cold.summary(),
        "arrays": {k: int(v.nbytes) for k, v in vars(net).items() if hasattr(v, "nbytes")},
    }
    return record, rows
