"""The vitals load's run: everyone connected, a warm-up, all hospitals reading, one slow, drain.

`drive` opens every hospital and tablet against a server we started (`servers.Served`), streams
through the three phases (`Phases`), notes the server's CPU and memory at each boundary (into the
`Ledger`'s marks), then releases the slow hospital, lets it resume with `since=` and closes
everything. What it returns is raw: `simulator.load.vitals.ledger` tallies it.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm
from websockets.asyncio.client import ClientConnection

from simulator.load.procfs import cpu_seconds, rss_bytes
from simulator.load.servers import Served
from simulator.load.vitals.hospitals import (
    SLOW_MODES,
    HospitalClient,
    open_hospital,
    read_hospital,
    release_slow,
    resume,
    watch_log,
)
from simulator.load.vitals.ledger import Ledger
from simulator.load.vitals.tablets import Tablet, ecg_uv, open_tablet, read_tablet, stream

PHASES = ("warm-up", "all reading", "one slow", "after")
OPEN_AT_ONCE = 32  # tablet handshakes in flight


@dataclass(frozen=True)
class Phases:
    """How long each phase lasts: the warm-up (sent, received, not counted), phase 1 (every
    hospital reads) and phase 2 (the first hospital slow)."""

    warmup_s: float
    all_reading_s: float
    one_slow_s: float

    def __post_init__(self) -> None:
        if not min(self.warmup_s, self.all_reading_s, self.one_slow_s) > 0:
            raise ValueError("phases last a positive number of seconds")


def process_stats(pid: int) -> dict[str, float]:
    """The server's CPU seconds and resident memory (MB, now and peak) from /proc, and this
    process's own CPU seconds (`gen_cpu_s`), at monotonic time `t`."""

    def mb(n: int | None) -> float:
        return math.nan if n is None else n / 2**20

    cpu = cpu_seconds(pid)
    return {
        "t": time.monotonic(),
        "cpu_s": math.nan if cpu is None else cpu,
        "rss_mb": mb(rss_bytes(pid)),
        "peak_rss_mb": mb(rss_bytes(pid, "VmHWM")),
        "gen_cpu_s": time.process_time(),
    }


async def wait_phase(
    ledger: Ledger, name: str, seconds: float, pid: int, hs: list[HospitalClient]
) -> None:
    """Let a phase run `seconds`, with a progress bar; the server's figures at its end."""
    start = time.monotonic()
    end = start + seconds
    total = round(seconds)
    with tqdm(total=total, desc=name, unit="s", file=sys.stderr, leave=False) as bar:
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(1.0, end - now))
            bar.n = min(round(time.monotonic() - start), total)
            bar.set_postfix(received=sum(h.frames for h in hs), refresh=False)
            bar.refresh()
    ledger.marks.append(process_stats(pid))


async def drive(
    srv: Served,
    tablets: list[Tablet],
    phases: Phases,
    slow_mode: str,
    seed: int,
    say: Callable[[str], None] = print,
) -> tuple[Ledger, list[HospitalClient], dict[str, Any]]:
    """Connect everyone, run the warm-up and both phases, drain; what was recorded, the
    hospitals (the first is the slow one) and the slow one's fate (`slow`, `resume`)."""
    if slow_mode not in SLOW_MODES:
        raise ValueError(f"slow_mode is one of {SLOW_MODES}, not {slow_mode!r}")
    port, pid, tokens = srv.ws_port, srv.proc.pid, srv.tokens["hospitals"]
    ledger = Ledger()
    ecg = ecg_uv()
    hospitals = list(dict.fromkeys(t.hospital_id for t in tablets))
    hs = [HospitalClient(hid, slow=(i == 0)) for i, hid in enumerate(hospitals)]
    await asyncio.wait_for(
        asyncio.gather(*(open_hospital(port, h, tokens[h.hospital_id]) for h in hs)), 60
    )
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(t: Tablet) -> ClientConnection:
        async with gate:
            return await open_tablet(port, t)

    sockets = await asyncio.wait_for(asyncio.gather(*(one(t) for t in tablets)), 120)
    say(f"{len(sockets)} tablets connected and acknowledged; {len(hs)} hospitals connected")
    slow_on, stop = asyncio.Event(), asyncio.Event()
    readers = [asyncio.create_task(read_hospital(h, slow_mode, slow_on)) for h in hs]
    pairs = list(zip(tablets, sockets, strict=True))
    readers += [asyncio.create_task(read_tablet(t, ws, ledger)) for t, ws in pairs]
    senders = [
        asyncio.create_task(stream(t, ws, ledger, stop, ecg, seed + i))
        for i, (t, ws) in enumerate(pairs)
    ]
    fate: dict[str, Any] = {}
    try:
        ledger.marks.append(process_stats(pid))
        await wait_phase(ledger, PHASES[0], phases.warmup_s, pid, hs)
        ledger.phase = 1
        await wait_phase(ledger, PHASES[1], phases.all_reading_s, pid, hs)
        ledger.phase = 2
        slow_on.set()
        log_size = srv.log_path.stat().st_size
        readers.append(asyncio.create_task(watch_log(srv.log_path, hs[0], log_size)))
        await wait_phase(ledger, PHASES[2], phases.one_slow_s, pid, hs)
        ledger.phase = 3
        stop.set()
        await asyncio.wait(senders, timeout=5)
        await asyncio.sleep(2.0)  # the last frames reach the hospitals that keep up
        fate["slow"] = await release_slow(hs[0], slow_on, ledger.marks[2]["t"])
        fate["resume"] = await resume(port, hs[0], tokens[hs[0].hospital_id])
        ledger.marks.append(process_stats(pid))
    finally:
        stop.set()
        for task in senders:
            task.cancel()
        closing = [ws.close() for ws in sockets] + [h.ws.close() for h in hs if h.ws is not None]
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 20)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, *senders, return_exceptions=True)
    return ledger, hs, fate
