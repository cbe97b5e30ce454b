"""One writer on a shared Redis log: a second server stands by and takes over, and a leader that
was paused past its lease cannot write when it wakes (a real redis-server, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_py

from dispatch.settings import Settings
from simulator.load.loadgen import stop_server
from simulator.load.servers import ROOT, free_port
from tests.support.outage import call_body, store_503_problems
from tests.support.redis_server import DURABLE, RedisServer
from tests.support.server import Running, auth, phone_of, start


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A durable redis-server of this test's own."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir, *DURABLE)
    yield server
    server.stop()


def _wait(check: Callable[[], bool], within_s: float, what: str) -> float:
    """Poll `check` until true; the seconds it took. Fails after `within_s`."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < within_s, f"not within {within_s} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - t0


def _post(http: str, key: str) -> httpx.Response:
    body = call_body(phone_of(key))
    return httpx.post(f"{http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})


def _incidents(http: str, token: str) -> set[str]:
    r = httpx.get(f"{http}/api/v1/incidents", params={"open_only": "false"}, headers=auth(token))
    assert r.status_code == 200, r.text
    return {i["incident_id"] for i in r.json()}


def _ready(http: str) -> bool:
    try:
        return httpx.get(f"{http}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_second_server_stands_by_and_takes_over_when_the_first_stops(
    settings: Settings, redis: RedisServer
) -> None:
    """Two servers on one Redis: the second answers writes 503 `standby` (and says so on
    /readyz) while the first takes calls, and lists the first one's new calls within seconds
    (it follows the log); the first stops, the second takes over within seconds and takes
    calls."""
    shared = replace(settings, store_url=f"{redis.url}?prefix=w:", lease_ttl_s=1.0)
    first: Running = start(shared)
    second: Running | None = None
    try:
        r = _post(first.http, "one-writer-1")
        assert r.status_code == 201, r.text
        taken = r.json()["incident_id"]
        second = start(shared)
        for _ in range(25):  # a caller app retrying hard: still one call, not a flood
            refused = _post(second.http, "one-writer-2")
            assert refused.status_code == 503 and refused.json()["reason"] == "standby"
            assert store_503_problems(refused) == []
        ready = httpx.get(f"{second.http}/readyz")
        assert ready.status_code == 503 and ready.json()["reason"] == "standby"
        assert _incidents(second.http, second.tokens["dispatcher"]) == {taken}  # reads go on
        r = _post(first.http, "one-writer-3")  # the writer goes on; the standby follows it
        assert r.status_code == 201, r.text
        followed = {taken, r.json()["incident_id"]}
        _wait(
            lambda: _incidents(second.http, second.tokens["dispatcher"]) == followed,
            5,
            "the standby applied the writer's new call",
        )
        first.stop()
        _wait(lambda: _ready(second.http), 30, "the standby took over")  # speed: the benchmark
        r = _post(second.http, "one-writer-2")  # the refused call, retried with its key
        assert r.status_code == 201, r.text  # a new incident, not quarantined (202)
        assert _incidents(second.http, second.tokens["dispatcher"]) == {
            *followed,
            r.json()["incident_id"],
        }
    finally:
        first.stop()
        if second is not None:
            second.stop()


@contextmanager
def _serve(url: str, workdir: Path, ttl_s: float) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m dispatch serve` on Wulin and the shared Redis log; yields once it answers
    /healthz (a standby is alive but not ready)."""
    port, ws_port = free_port(), free_port()
    env = {
        **os.environ,
        "JIJIU_SEED_FLEET": "4",
        "JIJIU_LEASE_TTL_S": str(ttl_s),
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, "-m", "dispatch", "serve", "--network", "wulin", "--store", url]
    cmd += ["--tokens", str(workdir.parent / "tokens.json"), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--ws-port", str(ws_port)]
    workdir.mkdir()
    with (workdir / "server.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    http = f"http://127.0.0.1:{port}"

    def alive() -> bool:
        assert proc.poll() is None, (workdir / "server.log").read_text()[-2000:]
        try:
            return httpx.get(f"{http}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(alive, 120, "the server answers /healthz")
        yield proc, http
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            stop_server(proc)


def _calls_logged(url: str) -> list[dict[str, Any]]:
    """Every CallReceived in the Redis stream, read straight from Redis."""
    client = redis_py.Redis.from_url(url)
    try:
        entries = client.xrange("f:events")
    finally:
        client.close()
    bodies = [json.loads(fields[b"body"]) for _, fields in entries]
    return [b for b in bodies if b.get("type") == "CallReceived"]


def test_a_leader_paused_past_its_lease_cannot_write_when_it_wakes(
    redis: RedisServer, tmp_path: Path
) -> None:
    """The leader is frozen with SIGSTOP; the standby takes over and takes a call; the old
    leader is thawed and sent a call: 503, it stands by, and the log holds only the calls
    the two leaders acknowledged, each once (no second writer, no ghost)."""
    url = f"{redis.url}?prefix=f:"
    with _serve(url, tmp_path / "a", 1.0) as (a, a_http):
        _wait(lambda: _ready(a_http), 60, "the first server leads")
        with _serve(url, tmp_path / "b", 1.0) as (_, b_http):
            assert not _ready(b_http)  # standing by
            token = json.loads((tmp_path / "tokens.json").read_text())["dispatcher"]
            first = _post(a_http, "paused-1")
            assert first.status_code == 201, first.text
            os.kill(a.pid, signal.SIGSTOP)
            _wait(lambda: _ready(b_http), 30, "the standby took over")
            second = _post(b_http, "paused-2")
            assert second.status_code == 201, second.text
            os.kill(a.pid, signal.SIGCONT)
            late = _post(a_http, "paused-3")  # the thawed old leader
            assert late.status_code == 503, late.text
            assert late.json()["reason"] in ("standby", "store_unavailable")
            _wait(
                lambda: httpx.get(f"{a_http}/readyz").json().get("reason") == "standby",
                10,
                "the thawed leader stands by",
            )
            logged = [c["incident_id"] for c in _calls_logged(redis.url)]
            ids = [first.json()["incident_id"], second.json()["incident_id"]]
            assert sorted(logged) == sorted(ids)  # each once; the thawed one wrote nothing
            assert _incidents(b_http, token) == set(ids)


def _post_anywhere(https: list[str], key: str, give_up_s: float = 30.0) -> tuple[str, float]:
    """What a load balancer checking /readyz gives a caller app: the call is posted to a
    server that takes it, retried with the same key on a refusal or a dead server; the
    incident id and when it was answered."""
    deadline = time.monotonic() + give_up_s
    body = call_body(phone_of(key))
    while time.monotonic() < deadline:
        for http in https:
            try:
                r = httpx.post(
                    f"{http}/api/v1/calls",
                    json=body,
                    headers={"Idempotency-Key": key},
                    timeout=5,
                )
            except httpx.HTTPError:
                continue
            if r.status_code in (200, 201):
                return r.json()["incident_id"], time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"call {key} not answered within {give_up_s} s")


def test_a_leader_killed_under_load_loses_no_call_and_the_survivor_takes_calls(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Two processes, a call every 0.1 s posted wherever it is taken; the leader is killed
    with SIGKILL after 2 s: every call is answered, each answered call is in the log exactly
    once, and the survivor takes calls after the kill."""
    url = f"{redis.url}?prefix=k:"
    with (
        _serve(url, tmp_path / "a", 3.0) as (a, a_http),
        _serve(url, tmp_path / "b", 3.0) as (_, b_http),
    ):
        _wait(lambda: _ready(a_http) or _ready(b_http), 60, "one server leads")
        leader = a if _ready(a_http) else None
        assert leader is not None  # the first started leads
        answered: list[tuple[str, float]] = []
        killed_at = None
        t0 = time.monotonic()
        for i in range(60):
            if killed_at is None and time.monotonic() - t0 > 2.0:
                leader.kill()
                killed_at = time.monotonic()
            answered.append(_post_anywhere([a_http, b_http], f"kill-{i}"))
            time.sleep(0.1)
        assert killed_at is not None
        after = [at for _, at in answered if at > killed_at]
        assert after  # the survivor took calls (how fast: benchmarks/bench_failover.py)
        ids = [iid for iid, _ in answered]
        assert len(set(ids)) == len(ids)  # one incident per call
        client = redis_py.Redis.from_url(redis.url)
        try:
            bodies = [json.loads(f[b"body"]) for _, f in client.xrange("k:events")]
        finally:
            client.close()
        logged = [b["incident_id"] for b in bodies if b.get("type") == "CallReceived"]
        assert sorted(logged) == sorted(ids)  # each answered call logged exactly once
