"""Simulated callers: the calls of the shared demand model, each tapped in with `POST /calls`.

The calls are `simulator.world.calls.generate_calls`, the model the fast engine draws from, so both
engines meet the same city: arrivals a Poisson process following the hourly rhythm, places by
demand zone (denser downtown, by day more so), the complaint mix and priorities, and each
call's service times (`CallSpec`: call-taking, turnout, on scene, transport or not, at
hospital, driving-time noise). They are generated one city day at a time and each is posted at
its time (waited at the run's speed), with its own Idempotency-Key and its own phone number
(so the server's flood alarm stays quiet), with location consent and the phone's GNSS fix.

The fix (SYNTHETIC): the phone's 68 % accuracy radius by where it is, open sky 5-15 m (60 %
of calls), urban canyon 15-50 m (30 %), indoors 50-150 m (10 %), and the reported point off
the caller by a 2-D normal error of that radius. At most `max_in_flight` calls wait for their
answer at once; a call that finds them all busy is not placed and is counted.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

import numpy as np

from location_fusion.geo import LocalFrame
from routing.network import RoadNetwork
from simulator.live.context import LiveContext
from simulator.live.summary import CallRecord
from simulator.live.vitals import draw_patient
from simulator.world.calls import CallSpec, DemandParams, generate_calls
from simulator.world.rhythm import Rhythm
from simulator.world.zones import Zones

SETTLE_S = 15.0  # how long the calls in flight get to finish when the run stops
DAY_S = 86_400.0
_FIX_KINDS = ((0.6, 5.0, 15.0), (0.3, 15.0, 50.0), (0.1, 50.0, 150.0))  # share, radius m
_SIGMA_OF_R68 = 1.0 / math.sqrt(-2.0 * math.log(1.0 - 0.68))  # 2-D normal: P(r <= 1.51σ) = 68 %


def phone_fix(rng: np.random.Generator, lat: float, lon: float) -> tuple[float, float, float]:
    """(lat, lon, accuracy_m) the phone of a caller at (lat, lon) reports."""
    u, cum = rng.random(), 0.0
    kind = _FIX_KINDS[-1]
    for k in _FIX_KINDS:
        cum += k[0]
        if u < cum:
            kind = k
            break
    accuracy_m = float(rng.uniform(kind[1], kind[2]))
    dx, dy = rng.normal(0.0, accuracy_m * _SIGMA_OF_R68, 2)
    fix_lon, fix_lat = LocalFrame(lon, lat).to_lonlat(dx, dy)
    return float(fix_lat), float(fix_lon), round(accuracy_m, 1)


async def run_callers(
    ctx: LiveContext,
    net: RoadNetwork,
    zones: Zones,
    rhythm: Rhythm,
    calls_per_day: float,
    seed: int,
    max_calls: int,
    max_in_flight: int = 64,
) -> None:
    """Place the model's calls from the run's city time on, until it stops or `max_calls`."""
    rng = np.random.default_rng([seed, 11])  # the phones and patients (calls.py uses stream 7)
    in_flight: set[asyncio.Task[Any]] = set()
    placed = 0
    day = int(ctx.city_s() // DAY_S)
    while placed < max_calls and not ctx.stop.is_set():
        start_s, end_s = max(ctx.city_s(), day * DAY_S), (day + 1) * DAY_S
        specs = generate_calls(
            zones, net, rhythm, DemandParams(calls_per_day), seed * 1000 + day, start_s, end_s
        )
        for spec in specs:
            if placed >= max_calls or not await ctx.pause_city(spec.at_s - ctx.city_s()):
                break
            placed += 1
            if len(in_flight) >= max_in_flight:
                ctx.tally.error("call not placed: too many calls in flight")
                continue
            task = ctx.spawn(place_call(ctx, spec, rng, placed), "caller")
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        else:  # the day's calls are placed: wait for the next day (a quiet day passes too)
            await ctx.pause_city(end_s - ctx.city_s())
        day += 1
    if in_flight:
        await asyncio.wait(in_flight, timeout=SETTLE_S)


async def place_call(ctx: LiveContext, spec: CallSpec, rng: np.random.Generator, n: int) -> None:
    """One tap: the call's record, its POST, and the 201's incident handed to the others."""
    complaint = spec.complaint.value
    age_band, sex = draw_patient(rng, complaint)
    key = f"sim-{uuid.uuid4().hex}"
    record = CallRecord(key, complaint, int(spec.priority), spec, age_band=age_band, sex=sex)
    ctx.records.append(record)
    fix_lat, fix_lon, accuracy_m = phone_fix(rng, spec.lat, spec.lon)
    body = {
        "phone": f"+86139{n:08d}",
        "consent_location": True,
        "complaint": complaint,
        "fix": {
            "lat": round(fix_lat, 6),
            "lon": round(fix_lon, 6),
            "accuracy_m": accuracy_m,
            "source": "gnss",
        },
    }
    record.at["posted"] = ctx.wall()
    r = await ctx.api("POST", "/api/v1/calls", body=body, headers={"Idempotency-Key": key})
    if r is None:
        return
    if r.status_code != 201:
        ctx.tally.error(f"call answered {r.status_code}, not 201")
        return
    done = ctx.wall()
    ctx.tally.sample("POST /calls → 201", done - record.at["posted"])
    ctx.tally.count("calls_created")
    record.incident_id = r.json()["incident_id"]
    record.reached("created", done)
    ctx.created(record)
