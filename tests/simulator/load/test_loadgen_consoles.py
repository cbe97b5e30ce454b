"""The load generator's console pool (`simulator.load.loadgen.Consoles`) against a live server.

A console whose connection is lost reconnects with `since` = the last seq it saw and misses
nothing: the frames published while it was away arrive after the resume, once each.
"""

from __future__ import annotations

import asyncio
import json

from simulator.load.loadgen import Consoles
from tests.support.server import Running, new_call


def test_a_lost_console_resumes_with_since_and_misses_no_call(live: Running) -> None:
    async def run() -> tuple[list[int], list[str], int, list[bytes], bytes]:
        drops: list[int] = []
        seen: list[str] = []
        firsts: list[bytes] = []

        def on_frame(i: int, payload: bytes, now: float) -> None:
            frame = json.loads(payload)
            if len(firsts) < 1:
                firsts.append(payload)
            if frame.get("type") == "call.received":
                seen.append(frame["incident_id"])

        consoles = Consoles(live.ws_port, live.tokens["dispatcher"], on_frame, drops.append)
        try:
            assert await consoles.open(1) == 1
            first = consoles.live[0]
            await asyncio.to_thread(new_call, live, "before")
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.05)
            first.abort()  # the connection is lost
            await first.finished.wait()
            made = await asyncio.to_thread(new_call, live, "while-away")
            for _ in range(200):  # reconnected, and the call made meanwhile came after
                if consoles.live[0] is not first and len(seen) >= 2:
                    break
                await asyncio.sleep(0.05)
            return drops, seen, int(made.status_code), firsts, consoles.live[0].request
        finally:
            consoles.close()

    drops, seen, status, firsts, resumed = asyncio.run(run())
    assert status == 201
    assert json.loads(firsts[0])["type"] == "snapshot"
    assert len(drops) == 1  # one loss, one resume
    assert b"&since=" in resumed.split(b"\r\n")[0]  # from the last seq seen, not a snapshot
    assert len(seen) == 2 and len(set(seen)) == 2  # both calls, once each: nothing replayed twice
