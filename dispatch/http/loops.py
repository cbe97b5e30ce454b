"""The app's background loops, started by its lifespan: the engine's clock (offer escalations)
and the units' positions (snapped on a worker thread, probe speeds learned, sent on)."""

from __future__ import annotations

import asyncio
import logging

from dispatch.core.model import UnitId
from dispatch.core.probe_speeds import DRIVING, Learned, ProbeLearner, ProbeParams
from dispatch.errors import DispatchError
from dispatch.service.service import DispatchService
from routing.snap import RoadPosition, Snapper

logger = logging.getLogger("jijiu.dispatch")
PROBE_EXPIRES_IN_S = ProbeParams().expires_in_s  # a learned factor's life without a refresh


async def run_clock(svc: DispatchService, period_s: float) -> None:
    """Tick the engine every period (offer escalations); a failing store is logged once."""
    while True:
        await asyncio.sleep(period_s)
        if svc.poisoned:
            continue
        try:
            svc.tick()
        except DispatchError as exc:
            logger.error("clock tick refused: %s", exc.reason)


async def run_positions(svc: DispatchService, period_s: float) -> None:
    """Every period: snap the units that moved onto the road on a worker thread (a batch of
    1000 takes ~13 ms of STRtree queries, which release the GIL: the loop keeps serving) and
    learn the speeds they drive there (dispatch.core.probe_speeds, on the same thread), then send
    the movements to consoles and callers and write the learned factors into the router."""
    learner: ProbeLearner | None = ProbeLearner(svc.router.net)
    while True:
        await asyncio.sleep(period_s)
        ids, lats, lons = svc.engine.take_moved()
        if ids:
            units = svc.engine.units
            driving = [(u := units.get(i)) is not None and u.status in DRIVING for i in ids]
            now_s = svc.now()
            found, learned = await asyncio.to_thread(
                _snap_and_learn, svc.router.snapper, learner, ids, lats, lons, driving, now_s
            )
            svc.engine.apply_road_positions(ids, lats, lons, found)
            if learned is None:
                learner = None  # it failed (logged once): positions go on, learning stops
            elif learned.edges.size:
                writes = svc.inputs.traffic.set_probe(
                    learned.edges, learned.factors, now_s, PROBE_EXPIRES_IN_S
                )
                for write in writes:
                    svc.router.set_congestion(write.edges, write.factor)
        svc.fanout.flush_positions()


def _snap_and_learn(
    snapper: Snapper,
    learner: ProbeLearner | None,
    ids: list[UnitId],
    lats: list[float],
    lons: list[float],
    driving: list[bool],
    now_s: float,
) -> tuple[list[RoadPosition | None], Learned | None]:
    """The worker thread's part: road positions, and the probe factors they teach (None when
    the learner is off or failed: a bug there must not stop positions reaching consoles)."""
    found = snapper.road_positions(lats, lons)
    if learner is None:
        return found, None
    edges = [p.edge if p is not None else -1 for p in found]
    fractions = [p.fraction if p is not None else 0.0 for p in found]
    try:
        return found, learner.observe(ids, edges, fractions, driving, now_s)
    except Exception:  # logged once, here; the loop then stops learning
        logger.exception("probe speeds failed; learning from positions stops")
        return found, None
