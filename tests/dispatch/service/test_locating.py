"""Locating in a worker process: the same answers as on the loop, a killed worker costs no call,
and a server killed with SIGKILL leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from simulator.load.servers import jijiu_serve
from tests.support.server import Running, start

# Calls with different evidence: a good fix, a wide one, words only, a fix and words that
# disagree, and nothing usable at all.
BODIES: list[dict[str, Any]] = [
    {"fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12}},
    {"fix": {"lat": 30.2850, "lon": 120.1400, "accuracy_m": 400}},
    {"spoken": "文三路和学院路交叉口"},
    {"fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 15}, "spoken": "武林广场"},
    {"spoken": "不知道"},
]


def _wait(check: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _serve(settings: Settings) -> tuple[Running, DispatchService]:
    opened: list[DispatchService] = []

    def open_service(config: Settings, hub: Hub) -> DispatchService:
        opened.append(DispatchService.open(config, hub))
        return opened[0]

    return start(settings, open_service), opened[0]


def _call(live: Running, i: int, body: dict[str, Any]) -> httpx.Response:
    payload = {"phone": f"+86139{i:08d}", "consent_location": True, **body}
    return httpx.post(
        f"{live.http}/api/v1/calls", json=payload, headers={"Idempotency-Key": f"loc-{i}"}
    )


def _estimates(live: Running, first: int) -> list[dict[str, Any]]:
    out = []
    for i, body in enumerate(BODIES):
        r = _call(live, first + i, body)
        assert r.status_code == 201, r.text
        out.append({**r.json()["estimate"], "status": r.json()["location_status"]})
    return out


def test_the_worker_locates_as_the_loop_does(settings: Settings, tmp_path: Path) -> None:
    """Five calls of different evidence fused by the worker give the estimates (point, radius,
    read-back, conflict) the loop gives for the same evidence."""
    live, svc = _serve(replace(settings, locate_workers=1))
    try:
        _wait(lambda: svc.locating._up)
        remote = _estimates(live, 0)
        assert svc.locating.remote == len(BODIES)
    finally:
        live.stop()
    inline_settings = replace(
        settings, locate_workers=0, store_url=f"sqlite:///{tmp_path / 'inline.db'}"
    )
    live, svc = _serve(inline_settings)
    try:
        inline = _estimates(live, 0)
        assert svc.locating.remote == 0
    finally:
        live.stop()
    # Equal up to float rounding (the two servers' clocks differ by the seconds between them).
    for a, b in zip(remote, inline, strict=True):
        assert a["lat"] == pytest.approx(b["lat"], abs=1e-7)  # ~1 cm
        assert a["lon"] == pytest.approx(b["lon"], abs=1e-7)
        assert a["radius95_m"] == pytest.approx(b["radius95_m"], abs=0.01)
        assert (a["description"], a["status"]) == (b["description"], b["status"])
        assert (a["conflict"] is None) == (b["conflict"] is None)
    assert {e["status"] for e in inline} == {"located", "unlocated"}


def test_a_killed_worker_costs_no_call(settings: Settings) -> None:
    """The worker is killed with SIGKILL: the next call is still answered 201 (located on the
    loop), a new worker starts and locates the calls after it."""
    live, svc = _serve(replace(settings, locate_workers=1))
    try:
        _wait(lambda: svc.locating._up)
        assert _call(live, 100, BODIES[0]).status_code == 201
        pool = svc.locating._pool
        assert pool is not None
        [pid] = [p.pid for p in pool._processes.values() if p.pid is not None]
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not _alive(pid), 10)
        r = _call(live, 101, BODIES[1])
        assert r.status_code == 201, r.text
        assert svc.locating.restarts == 1
        _wait(lambda: svc.locating._up)
        before = svc.locating.remote
        assert _call(live, 102, BODIES[0]).status_code == 201
        assert svc.locating.remote == before + 1
    finally:
        live.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie waits to be reaped: it is gone


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_a_server_killed_with_sigkill_leaves_no_worker(tmp_path: Path) -> None:
    """`jijiu serve` with its locating worker up, killed with SIGKILL: the worker exits by
    itself within seconds (no orphan holding a copy of the city)."""
    workers = {"JIJIU_LOCATE_WORKERS": "1"}
    url = f"sqlite:///{tmp_path / 'ev.db'}"
    with jijiu_serve("wulin", 2, url, tmp_path, 120, extra_env=workers) as srv:
        _wait(lambda: len(_children(srv.proc.pid)) >= 1, 30)
        workers = _children(srv.proc.pid)
        srv.proc.kill()
        srv.proc.wait(10)
        _wait(lambda: not any(_alive(p) for p in workers), 10)
