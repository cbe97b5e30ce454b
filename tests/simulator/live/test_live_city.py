"""The live city on a city folder it has never seen: West Oakland, in English, agreeing.

A 15-second live run (time x120) against a real server on the West Oakland folder of
tests/support/cities.py with three units: the callers, dispatcher bot, tablets and the two
Oakland hospitals drive it, and every call must end in a state the server and the simulator
agree on, with no error on either side. No assertion is about timing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from dispatch.settings import Settings
from simulator.live.city import LiveParams, run_live
from simulator.live.context import Endpoints
from simulator.live.local_server import ErrorLogCounter
from tests.support.cities import OAKLAND_HOSPITAL_IDS, oakland_city
from tests.support.server import start


def test_a_short_live_run_on_west_oakland_agrees_with_the_server(tmp_path: Path) -> None:
    """Calls are placed, answered 201 and end where the server has them; the run reads every
    incident back with no mismatch, and the hospitals connected are Oakland's two."""
    folder = oakland_city(tmp_path / "city")
    settings = Settings(
        city=str(folder),
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        tokens_file=tmp_path / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=3,
        tick_s=0.2,
    )
    counter = ErrorLogCounter()
    counter.attach()
    running = start(settings)
    try:
        endpoints = Endpoints(running.http, f"ws://127.0.0.1:{running.ws_port}", running.tokens)
        params = LiveParams(speed=120.0, calls_per_day=600.0, duration_s=15.0, seed=3)
        result = asyncio.run(run_live(endpoints, "", params, city=str(folder)))
    finally:
        running.stop()
        counter.detach()
    assert set(running.tokens["hospitals"]) == OAKLAND_HOSPITAL_IDS
    assert result.records, "a city hour at 600 calls a day places some calls"
    assert all(r.incident_id is not None for r in result.records)
    assert result.check.checked == len(result.records)
    assert result.check.mismatches == ()
    assert result.hospitals == 2
    assert dict(result.tally.errors) == {} and counter.count == 0
