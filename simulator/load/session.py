"""One load session against a server: every unit's socket and the consoles connected (each in
its own child process), then calls posted open loop one rate at a time.

Shared by `jijiu loadtest` and the server benchmark's call case. A `Session` is a context
manager: entering it connects the fleet (`simulator.load.fleet`), lets the positions settle
and posts a few warm-up calls; `step(rate, seconds, ...)` posts the calls of one rate
(`simulator.load.openloop`), then collects, bounded, what the consoles showed of them and what
the units sent since the previous step. The step's raw figures go to the caller's own summary
(`report.summarise_step` for the load test, `latency.summarise_calls` for the benchmark).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import numpy as np

from simulator.load.fleet import Unit, consoles_main, units_main
from simulator.load.loadgen import ask, child
from simulator.load.openloop import post_calls
from simulator.load.procfs import cpu_seconds, cpu_split
from simulator.load.report import Call

SETTLE_S = 2.0  # after connecting, before the first call: the 1 Hz positions are flowing
COLLECT_S = 10.0  # at most this long after a step for the consoles to show its last frames
WARM_RATE, WARM_S = 5.0, 1.0  # the warm-up calls (not reported)


@dataclass(frozen=True)
class Where:
    """The server a session drives: its HTTP and websocket addresses, the dispatcher's token,
    and its pid when we can see it (for its CPU seconds)."""

    host: str
    port: int
    ws_host: str
    ws_port: int
    dispatcher_token: str
    pid: int | None = None


def answered(calls: list[Call]) -> list[str]:
    """The incident ids of the calls answered 201."""
    return [iid for iid, _, _, status in calls if status == 201 and iid is not None]


class Session:
    """Units (at 1 Hz, or silent) and consoles connected to one server; a `step` per rate."""

    def __init__(
        self,
        where: Where,
        units: list[Unit],
        consoles: int,
        seed: int,
        deadline_s: float,
        positions: bool = True,
    ) -> None:
        self.where, self.units, self.consoles = where, units, consoles
        self.seed, self.deadline_s, self.positions = seed, deadline_s, positions
        self.places = np.array([(u[2], u[3]) for u in units])
        self.nonce = os.urandom(4).hex()  # idempotency keys unique to this session
        self.connected: dict[str, int] = {}
        self._stack = ExitStack()
        self._units: Connection | None = None
        self._consoles: Connection | None = None
        self._before: tuple[Any, ...] = ()  # the units' last count
        self._mark = self._main_cpu = self._consoles_cpu = 0.0

    def __enter__(self) -> Session:
        w = self.where
        try:
            self._units = self._stack.enter_context(
                child(
                    units_main,
                    w.ws_host,
                    w.ws_port,
                    self.units,
                    self.seed,
                    self.deadline_s,
                    self.positions,
                )
            )
            self._consoles = self._stack.enter_context(
                child(
                    consoles_main,
                    w.ws_host,
                    w.ws_port,
                    w.dispatcher_token,
                    self.consoles,
                    self.deadline_s,
                )
            )
            _, n_units, units_failed = ask(self._units, None, 240)
            _, n_consoles, consoles_failed = ask(self._consoles, None, 120)
            self.connected = {
                "units_connected": n_units,
                "units_failed": units_failed,
                "consoles_connected": n_consoles,
                "consoles_failed": consoles_failed,
            }
            if n_units and n_consoles:
                self._warm_up()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def _warm_up(self) -> None:
        time.sleep(SETTLE_S)
        w = self.where
        warm = asyncio.run(
            post_calls(
                w.host, w.port, WARM_RATE, WARM_S, self.places, f"s-{self.nonce}-w", self.seed
            )
        )
        self._consoles_cpu = self._collect(warm["calls"], 30)[5]
        self._before = ask(self._live(self._units), ("count",), 30)
        self._mark, self._main_cpu = time.monotonic(), time.process_time()

    @staticmethod
    def _live(conn: Connection | None) -> Connection:
        if conn is None:
            raise RuntimeError("the session is not open")
        return conn

    def _collect(self, calls: list[Call], spare_s: float) -> tuple[Any, ...]:
        message = ("collect", answered(calls), COLLECT_S)
        got: tuple[Any, ...] = ask(self._live(self._consoles), message, COLLECT_S + spare_s)
        return got

    def step(
        self,
        rate: float,
        seconds: float,
        tag: str,
        seed: int,
        tick: Callable[[int], object] | None = None,
        warm_connections: int = 0,
    ) -> dict[str, Any]:
        """Calls at `rate` for `seconds`, then what the consoles and units did since the last
        step: calls, floor, failures, achieved_rate (openloop.post_calls); received and
        recommended (incident id -> receipt times), console_frames, console_drops,
        drops_by_code, console_positions; positions_sent, position_errors (this step) and
        units_count (the units' cumulative reply); server_cpu_share over the calls and
        server_cpu_split (procfs.cpu_split before and after them); span_s and
        generator_cpu_s since the previous step."""
        w = self.where
        cpu0, t0 = _cpu(w.pid), time.monotonic()
        split0 = cpu_split(w.pid) if w.pid is not None else None
        got = asyncio.run(
            post_calls(
                w.host,
                w.port,
                rate,
                seconds,
                self.places,
                f"s-{self.nonce}-{tag}",
                seed,
                tick,
                warm_connections,
            )
        )
        cpu1, t1 = _cpu(w.pid), time.monotonic()
        split1 = cpu_split(w.pid) if w.pid is not None else None
        _, received, recommended, frames, drops, consoles_cpu, positions, by_code = self._collect(
            got["calls"], 60
        )
        after = ask(self._live(self._units), ("count",), 30)
        mark, main_cpu = time.monotonic(), time.process_time()
        before = self._before
        generator_cpu = (
            (after[4] - before[4])
            + (consoles_cpu - self._consoles_cpu)
            + (main_cpu - self._main_cpu)
        )
        share = (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else None
        got.update(
            received=received,
            recommended=recommended,
            console_frames=frames,
            console_drops=drops,
            drops_by_code=by_code,
            console_positions=positions,
            positions_sent=after[1] - before[1],
            position_errors=(after[2] - before[2]) + (after[3] - before[3]),
            units_count=after,
            server_cpu_share=share,
            server_cpu_split=(split0, split1),
            span_s=mark - self._mark,
            generator_cpu_s=generator_cpu,
        )
        self._before, self._mark = after, mark
        self._main_cpu, self._consoles_cpu = main_cpu, consoles_cpu
        return got


def _cpu(pid: int | None) -> float | None:
    return cpu_seconds(pid) if pid is not None else None
