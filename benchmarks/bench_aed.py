"""AED benchmark: the nearest open AEDs for one incident over a 10,000-AED registry.

Targets it guards (issue 6; the `target` column, values in `benchmarks/targets.toml` [aed];
ratio = peer p50 / ours p50, above 1 = we are faster):

1. `nearest_aeds(index, lat, lon, now_local, k=3, max_walk_s=600)` over a 10,000-AED SYNTHETIC
   registry on the bundled Hangzhou network (39,059 nodes): p50 under 2 ms, the index built
   once beforehand (its build time is its own row, reported, no target).
2. Named peer, same run, same incidents and times: a brute-force reference. networkx
   `single_source_dijkstra_path_length` over the very same undirected walking graph
   (`aed_map.footways.walking_graph`, copied into an `nx.Graph`), the incident's road point a
   virtual node tied to both ends of its edge, cut off at the walking budget; then every
   indexed AED's road metres from the two ends of its edge (or straight along a shared road),
   the same off-road and building allowances, the same open-now filter (`open_state` on the
   same parsed hours) and the same (walk time, id) order, the first k kept. It writes no
   directions (ours does, for the k it answers), so the comparison flatters the peer.
3. Answers: at every incident ours and the peer return the same AED ids in the same order, and
   walk times within 1e-6 s.

Registry. `aed_map.synthetic.make_registry` places about 1,100 AEDs on Hangzhou: its 2,203
candidate junctions, 200 m apart at least, cap one draw. The 10,000-AED registry is
successive draws from seeds spawned off `SEED` (same generator, so the same mix of kinds,
hours, unreadable hours and private access), renumbered `SYN-AED-00001...` and cut at 10,000:
a denser city where each busy junction holds several cabinets. Private ones are never
indexed, so the index holds the ~9,100 public ones.

Incidents: random network nodes jittered by ~30 m (`INCIDENT_JITTER_DEG`), seeded, at random
minutes of one week (Monday 2025-05-05 00:00 to Sunday 23:59 local time), no holiday calendar
(as the server calls it). 50 untimed warm-up calls precede the timed ones.
`--quick` (CI, < 30 s): 100 incidents for ours, 30 for the peer; the p50 target is shown, not
judged (an absolute time); the answer check is judged.

    python -m benchmarks.bench_aed [--quick]     (exit 1 when a judged target is missed)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import networkx as nx
import numpy as np

from aed_map.opening_hours import OpenState, open_state
from aed_map.registry import Aed, AedId
from aed_map.synthetic import make_registry
from aed_map.walking import AedIndex, AedOption, nearest_aeds
from benchmarks import targets
from benchmarks.timing import (
    NO_PEER,
    Row,
    Timing,
    close_report,
    fmt_ms,
    machine_info,
    time_calls,
)
from routing.errors import OutsideNetwork
from routing.load import load_network
from routing.network import RoadNetwork

SEED = 20261206  # the synthetic registry's default seed
QUERY_SEED = 20240611
N_AEDS = 10_000
K = 3
MAX_WALK_S = 600.0
WARM_UP = 50
INCIDENT_JITTER_DEG = 3e-4  # ~30 m
WEEK_START = datetime(2025, 5, 5)  # a Monday

Answer = list[tuple[AedId, float]]  # (AED id, one-way walk s), best first


@dataclass(frozen=True)
class Plan:
    incidents: int  # timed for ours
    peer_incidents: int  # the first of those, timed for the peer and checked against ours
    judged: bool


FULL = Plan(incidents=500, peer_incidents=500, judged=True)
QUICK = Plan(incidents=100, peer_incidents=30, judged=False)


@dataclass(frozen=True)
class Incident:
    lat: float
    lon: float
    now_local: datetime


def say(text: str) -> None:
    print(text, flush=True)


def big_registry(net: RoadNetwork, n_aeds: int = N_AEDS, seed: int = SEED) -> list[Aed]:
    """n_aeds SYNTHETIC AEDs: successive `make_registry` draws, renumbered (see the docstring)."""
    aeds: list[Aed] = []
    for child in np.random.SeedSequence(seed).spawn(1_000):
        draw = make_registry(net, np.random.default_rng(child), n_aeds)
        for a in draw[: n_aeds - len(aeds)]:
            aeds.append(dataclasses.replace(a, id=AedId(f"SYN-AED-{len(aeds) + 1:05d}")))
        if len(aeds) == n_aeds:
            return aeds
    raise RuntimeError("the generator placed too few AEDs")  # not with Hangzhou's junctions


def incidents(index: AedIndex, rng: np.random.Generator, n: int) -> list[Incident]:
    """n incidents on the walking map: jittered random nodes at random minutes of one week."""
    net = index.net
    out: list[Incident] = []
    while len(out) < n:
        lon, lat = net.node_lonlat[rng.integers(net.n_nodes)] + rng.normal(
            0.0, INCIDENT_JITTER_DEG, 2
        )
        minute = int(rng.integers(7 * 24 * 60))
        try:
            index.place(float(lat), float(lon))
        except OutsideNetwork:
            continue
        out.append(Incident(float(lat), float(lon), WEEK_START + timedelta(minutes=minute)))
    return out


class BruteForcePeer:
    """networkx Dijkstra with a cutoff over the same walking graph, then every AED (docstring)."""

    def __init__(self, index: AedIndex) -> None:
        self.index = index
        coo = index.graph.csr.tocoo()
        self.graph: nx.Graph[Any] = nx.Graph()
        self.graph.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
        )
        net = index.net
        self.tail = net.edge_tail[index.edge].astype(np.int64).tolist()
        self.head = net.edge_head[index.edge].astype(np.int64).tolist()
        self.length_m = net.length_m[index.edge]
        self.ids = [a.id for a in index.aeds]

    def nearest(self, q: Incident) -> Answer:
        idx, p, net = self.index, self.index.params, self.index.net
        origin = idx.place(q.lat, q.lon)
        off_m = origin.offroad_m * p.detour_factor
        limit_m = max(MAX_WALK_S * p.speed_mps - off_m, 0.0)
        o_len = float(net.length_m[origin.edge])
        ends: dict[int, float] = {}
        for node, m in (
            (int(net.edge_tail[origin.edge]), origin.fraction * o_len),
            (int(net.edge_head[origin.edge]), (1.0 - origin.fraction) * o_len),
        ):
            ends[node] = min(m, ends.get(node, np.inf))
        g = self.graph
        for node, m in ends.items():
            g.add_edge("incident", node, weight=m)
        try:
            dist = nx.single_source_dijkstra_path_length(g, "incident", cutoff=limit_m)
        finally:
            g.remove_node("incident")
        n = len(self.ids)
        d_tail = np.fromiter((dist.get(u, np.inf) for u in self.tail), np.float64, n)
        d_head = np.fromiter((dist.get(v, np.inf) for v in self.head), np.float64, n)
        road_m = np.minimum(
            d_tail + idx.fraction * self.length_m, d_head + (1 - idx.fraction) * self.length_m
        )
        # Both on one road (the origin's edge or its reverse): straight along it if shorter.
        same = (idx.edge == origin.edge) | (idx.edge == net.twin[origin.edge])
        along = np.where(idx.edge == origin.edge, idx.fraction, 1.0 - idx.fraction)
        road_m = np.where(same, np.minimum(road_m, np.abs(along - origin.fraction) * o_len), road_m)
        metres = off_m + road_m + idx.offroad_m * p.detour_factor
        walk_s = metres / p.speed_mps + idx.building_s
        within = np.flatnonzero(walk_s <= MAX_WALK_S).tolist()
        out: Answer = []
        for i in sorted(within, key=lambda i: (walk_s[i], self.ids[i])):
            if open_state(idx.hours[i], q.now_local) is not OpenState.CLOSED:
                out.append((self.ids[i], float(walk_s[i])))
                if len(out) == K:
                    break
        return out


def _ours(index: AedIndex, q: Incident) -> list[AedOption]:
    return nearest_aeds(index, q.lat, q.lon, q.now_local, k=K, max_walk_s=MAX_WALK_S)


def compare(ours: list[list[AedOption]], peer: list[Answer]) -> dict[str, Any]:
    """Same ids in the same order at every incident, and the largest walk-time difference."""
    same, worst, answered = 0, 0.0, 0
    for got, ref in zip(ours, peer, strict=False):
        ids = [o.aed.id for o in got]
        if ids == [i for i, _ in ref]:
            same += 1
            answered += len(ids)
            worst = max([worst, *(abs(o.walk_s - t) for o, (_, t) in zip(got, ref, strict=True))])
    return {
        "incidents": len(peer),
        "same_answer": same,
        "max_delta_walk_s": worst,
        "options": answered,
    }


def line(t: Timing, ours: Timing | None = None) -> None:
    p95 = float(np.percentile(t.samples_s, 95)) * 1e3
    ratio = f"  ratio {t.p50_ms / ours.p50_ms:,.3g}x" if ours is not None else ""
    say(
        f"   {t.name:<34} p50 {fmt_ms(t.p50_ms):>9}  p95 {fmt_ms(p95):>9}  "
        f"p99 {fmt_ms(t.p99_ms):>9}  (n={len(t.samples_s)}){ratio}"
    )


def run(quick: bool = False) -> dict[str, Any]:
    """Build the registry and index, time ours and the peer; print and return the report."""
    plan = QUICK if quick else FULL
    t_start = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "plan": asdict(plan), "machine": machine()}
    card = targets.Scorecard(targets.load("aed"), say)
    rows: list[Row] = []

    say(f"# AED benchmark ({'quick' if quick else 'full'} mode), SYNTHETIC registry")
    net, _ = load_network("hangzhou")
    t0 = time.perf_counter()
    registry = big_registry(net)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = AedIndex(net, registry)
    build_s = time.perf_counter() - t0
    say(
        f"Hangzhou: {net.n_nodes:,} nodes; {len(registry):,} SYNTHETIC AEDs generated in "
        f"{gen_s:.1f} s; AedIndex of {len(index.aeds):,} public ones ({len(index.unplaced)} "
        f"unplaced) built in {build_s:.2f} s"
    )
    t0 = time.perf_counter()
    peer = BruteForcePeer(index)
    peer_build_s = time.perf_counter() - t0
    say(f"networkx walking graph built in {peer_build_s:.1f} s")

    rng = np.random.default_rng(QUERY_SEED)
    for q in incidents(index, rng, WARM_UP):
        _ours(index, q)
    queries = incidents(index, rng, plan.incidents)
    ours, answers = time_calls("ours: nearest_aeds", lambda q: _ours(index, q), queries)
    brute, ref = time_calls(
        "networkx brute force", peer.nearest, queries[: plan.peer_incidents], progress=True
    )

    case = f"1. nearest {K} AEDs, {len(registry):,}-AED registry"
    say(f"\n{case} (max_walk_s={MAX_WALK_S:g})")
    line(ours)
    line(brute, ours)
    ratio = brute.p50_ms / ours.p50_ms
    fast = card.check(
        "nearest_p50_ms_max", ours.p50_ms, unjudged=None if plan.judged else targets.QUICK
    )
    agree = compare(answers, ref)
    differing = card.check("answers_differing_max", agree["incidents"] - agree["same_answer"])
    delta = card.check("answer_delta_walk_s_max", agree["max_delta_walk_s"])
    answered = [len(a) for a in answers]
    say(
        f"   answers = brute force at {agree['same_answer']} of {agree['incidents']} incidents, "
        f"max Δ walk {agree['max_delta_walk_s']:.2g} s; ours answered {np.mean(answered):.2f} "
        f"AEDs per incident (none at {answered.count(0)})"
    )
    rows += [
        Row(
            f"0. build AedIndex ({len(index.aeds):,} public AEDs)",
            f"{build_s:.2f} s",
            "networkx graph",
            f"{peer_build_s:.1f} s",
            target="reported",
        ),
        Row.judged(case, ours.text(), fast, NO_PEER),
        Row(case, ours.text(), brute.name, brute.text(), ratio),
        Row(
            f"{case}: answers = brute force",
            f"{agree['same_answer']}/{agree['incidents']} same, max Δ "
            f"{agree['max_delta_walk_s']:.2g} s",
            brute.name,
            "—",
            None,
            f"{differing.text} differing, Δ {delta.text}",
            differing.passed and delta.passed,
        ),
    ]
    p95 = {t.name: float(np.percentile(t.samples_s, 95)) * 1e3 for t in (ours, brute)}
    report.update(
        registry={"aeds": len(registry), "indexed": len(index.aeds), "generate_s": gen_s},
        build_s=build_s,
        peer_build_s=peer_build_s,
        nearest={
            "title": case,
            "ours": dict(ours.summary(), p95_ms=p95[ours.name]),
            "p50_budget_ms": fast.limit,
            "passed": fast.passed,
            "answered_mean": float(np.mean(answered)),
            "peers": {brute.name: dict(brute.summary(), p95_ms=p95[brute.name], ratio=ratio)},
            "agreement": agree,
        },
    )
    close_report(report, rows, t_start, say, card)
    return report


def machine() -> dict[str, Any]:
    """Versions and CPU count, so a report says what it was measured on."""
    import scipy

    return machine_info(np, scipy, nx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few incidents (CI smoke run)")
    args = parser.parse_args(argv)
    return 1 if run(quick=args.quick)["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
