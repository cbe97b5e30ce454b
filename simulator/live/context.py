"""What every client of a live run shares: the endpoints, the clock, HTTP, routes and records.

Time. The run has one speed factor: city time = `start_s` + wall time x `speed` since the run
began (`start_s` seconds after midnight of day 0, the demand model's clock). Every drawn
duration (a call-taker's, a crew's, a drive along a route) is city time and is waited as
city / speed wall seconds; the server, its clock, HTTP and websockets run in real time.

Stopping. `stop` is set when the run ends: no new call is placed and every client returns at
its next wait, after the request it is in (so the simulator's record of each call always
matches what the server acknowledged). `pause(wall_s)` is that wait.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from routing.errors import OutsideNetwork
from routing.router import Router
from simulator.live.drive import DrivePath, along, straight
from simulator.live.summary import CallRecord, Tally

HTTP_TIMEOUT_S = 10.0
MAX_VITALS_TRACKED = 100_000  # (unit, seq) of vitals sent and not yet seen at a hospital
SERVER_STATUS = "HTTP 5xx"


@dataclass(frozen=True)
class Endpoints:
    """Where the server listens (loopback) and its tokens file's content."""

    http: str  # "http://127.0.0.1:8000"
    ws: str  # "ws://127.0.0.1:8001"
    tokens: Mapping[str, Any]

    @classmethod
    def of(cls, http: str, ws: str, tokens_file: Path) -> Endpoints:
        return cls(http.rstrip("/"), ws.rstrip("/"), json.loads(tokens_file.read_text()))


class LiveContext:
    """The run's shared state; one per run, used from one event loop."""

    def __init__(
        self, endpoints: Endpoints, router: Router, speed: float, start_s: float = 0.0
    ) -> None:
        self.endpoints = endpoints
        self.router = router
        self.speed = speed
        self.start_s = start_s
        self.t0 = time.monotonic()
        self.tally = Tally()
        self.stop = asyncio.Event()
        self.http = httpx.AsyncClient(
            base_url=endpoints.http,
            timeout=HTTP_TIMEOUT_S,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.records: list[CallRecord] = []
        self._by_incident: dict[str, asyncio.Future[CallRecord]] = {}
        self._destination: dict[str, asyncio.Future[str]] = {}
        self.unit_status: dict[str, str] = {}  # as the console last showed it
        self.console_seen: dict[str, dict[str, float]] = {}  # incident -> frame type -> wall
        self.vitals_sent: OrderedDict[tuple[str, int], tuple[tuple[int, ...], float]] = (
            OrderedDict()
        )
        self._freed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.hospital_doors: dict[str, tuple[float, float]] = {}  # id -> (lat, lon)

    # --- time -----------------------------------------------------------------------------------
    @staticmethod
    def wall() -> float:
        return time.monotonic()

    def city_s(self) -> float:
        """City seconds since midnight of day 0."""
        return self.start_s + (time.monotonic() - self.t0) * self.speed

    async def pause(self, wall_s: float) -> bool:
        """Wait `wall_s` seconds; False (at once) when the run is stopping."""
        if self.stop.is_set():
            return False
        try:
            await asyncio.wait_for(self.stop.wait(), max(wall_s, 0.0))
        except TimeoutError:
            return True
        return False

    async def pause_city(self, city_s: float) -> bool:
        return await self.pause(city_s / self.speed)

    # --- tasks ---------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task whose failure is counted as a simulator bug (and kept until it is done)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.tally.error(f"simulator bug in {task.get_name()}: {type(exc).__name__}: {exc}")

    async def settle(self, timeout_s: float) -> None:
        """Let the spawned tasks finish (the run is stopping); those still running are left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    # --- calls, units and destinations ----------------------------------------------------------
    def _future(self, incident_id: str) -> asyncio.Future[CallRecord]:
        fut = self._by_incident.get(incident_id)
        if fut is None:
            fut = self._by_incident[incident_id] = asyncio.get_running_loop().create_future()
        return fut

    def created(self, record: CallRecord) -> None:
        """A call got its 201: its incident is now known to the other clients."""
        assert record.incident_id is not None
        fut = self._future(record.incident_id)
        if not fut.done():
            fut.set_result(record)

    def record_now(self, incident_id: str) -> CallRecord | None:
        fut = self._by_incident.get(incident_id)
        return fut.result() if fut is not None and fut.done() else None

    async def record_of(self, incident_id: str, timeout_s: float = 15.0) -> CallRecord | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self._future(incident_id)), timeout_s)
        except TimeoutError:
            return None

    def routed(self, incident_id: str, hospital_id: str) -> None:
        """The server chose (or changed) this patient's hospital."""
        fut = self._destination.get(incident_id)
        if fut is None or fut.done():
            fut = self._destination[incident_id] = asyncio.get_running_loop().create_future()
        fut.set_result(hospital_id)

    async def destination_of(self, incident_id: str, timeout_s: float) -> str | None:
        fut = self._destination.get(incident_id)
        if fut is None:
            fut = self._destination[incident_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            return None

    def unit_freed(self) -> None:
        self._freed.set()
        self._freed = asyncio.Event()

    async def wait_for_free_unit(self, wall_s: float) -> None:
        """Until the console shows a unit freed, the run stops, or `wall_s` passed."""
        waits = [asyncio.create_task(self._freed.wait()), asyncio.create_task(self.stop.wait())]
        await asyncio.wait(waits, timeout=wall_s, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)

    def vitals_out(self, unit_id: str, seq: int, fingerprint: tuple[int, ...]) -> None:
        self.vitals_sent[(unit_id, seq)] = (fingerprint, time.monotonic())
        while len(self.vitals_sent) > MAX_VITALS_TRACKED:
            self.vitals_sent.popitem(last=False)

    # --- roads ------------------------------------------------------------------------------------
    def path(
        self, lat0: float, lon0: float, lat1: float, lon1: float, noise: float = 1.0
    ) -> DrivePath:
        """The route a unit drives from one point to another (a straight line if none), its
        driving time the road ETA x `noise` (the call's drawn actual / predicted factor)."""
        try:
            route = self.router.route(self.router.snap(lat0, lon0), self.router.snap(lat1, lon1))
        except OutsideNetwork:
            route = None
        if route is None or not route.legs:
            self.tally.count("straight-line drives (no route)")
            return straight(lat0, lon0, lat1, lon1).slower(noise)
        return along(route).slower(noise)

    # --- HTTP -------------------------------------------------------------------------------------
    async def api(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: tuple[int, ...] = (),
    ) -> httpx.Response | None:
        """One request; a transport failure, a 5xx or an unexpected 4xx is counted (None)."""
        head = dict(headers or {})
        if token is not None:
            head["Authorization"] = f"Bearer {token}"
        try:
            r = await self.http.request(method, path, json=body, headers=head)
        except httpx.HTTPError as exc:
            self.tally.error(f"HTTP {method} failed ({type(exc).__name__})")
            return None
        if r.status_code >= 500:
            self.tally.error(SERVER_STATUS)
            return None
        if r.status_code >= 400 and r.status_code not in expected:
            self.tally.error(f"HTTP {r.status_code} {_reason(r)} on {method} {_route(path)}")
            return None
        return r

    async def close(self) -> None:
        await self.http.aclose()


def _reason(r: httpx.Response) -> str:
    try:
        return str(r.json().get("reason"))
    except (ValueError, AttributeError):
        return "?"


def _route(path: str) -> str:
    """The path with ids taken out, so errors group by route."""
    parts = path.split("?")[0].strip("/").split("/")
    return "/" + "/".join(
        "{id}" if i in (3,) and len(parts) > 3 else p for i, p in enumerate(parts)
    )
