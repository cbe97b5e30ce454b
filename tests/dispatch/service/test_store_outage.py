"""Store outages with real faults: a redis-server stopped and started again, a full tmpfs.

The server must refuse writes while the store fails (503, Retry-After, a reason code, no
internals), leave no trace of a refused call, answer /healthz and fail /readyz meanwhile, and
take writes again by itself once the store is back, with every retried call ending as exactly
one incident. The only timing asserted is the recovery target the issue sets (5 s).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from dispatch.settings import Settings
from tests.support.outage import SmallDisk, call_body, call_stream, store_503_problems
from tests.support.redis_server import DURABLE, RedisServer
from tests.support.server import Running, auth, phone_of, recv_until, start

RECOVERY_TARGET_S = 5.0


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A durable redis-server of this test's own, to stop and start again."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir, *DURABLE)
    yield server
    server.stop()


def incident_ids(live: Running) -> list[str]:
    """Every incident the server lists, open or closed."""
    r = httpx.get(
        f"{live.http}/api/v1/incidents",
        params={"open_only": "false"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    return [i["incident_id"] for i in r.json()]


def wait_ready(live: Running, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while httpx.get(f"{live.http}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.1)


def post_call(live: Running, key: str, complaint: str = "chest_pain") -> httpx.Response:
    body = call_body(phone_of(key), complaint)  # another key, another caller
    return httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})


def drain(ws: ClientConnection, quiet_s: float = 0.5) -> list[dict[str, Any]]:
    """Every frame that arrives until the socket is quiet for `quiet_s`."""
    frames = []
    while True:
        try:
            frames.append(json.loads(ws.recv(timeout=quiet_s)))
        except TimeoutError:
            return frames


def test_calls_retried_across_a_redis_outage_end_as_one_incident_each(
    settings: Settings, redis: RedisServer
) -> None:
    """20 taps/s for 16 s, redis-server stopped from 3 s to 13 s: every tap ends as exactly one
    incident, the first writes after Redis returns are accepted within 5 s, no restart."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=o:"))
    try:

        async def scenario() -> tuple[list[Any], float]:
            stream = asyncio.create_task(call_stream(live.http, 20.0, 16.0))
            await asyncio.sleep(3.0)
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(10.0)
            await asyncio.to_thread(redis.restart)
            back = time.monotonic()
            return await stream, back

        answers, back = asyncio.run(scenario())
        assert all(a.status in (200, 201) for a in answers), [a.status for a in answers]
        assert sum(a.refusals for a in answers) > 0  # the outage was real
        assert [p for a in answers for p in a.problems] == []
        ids = [a.incident_id for a in answers]
        assert len(set(ids)) == len(answers)  # one incident per tap, none shared
        assert sorted(incident_ids(live)) == sorted(ids)  # none twice, no ghost
        resumed = min(a.answered_at for a in answers if a.answered_at and a.answered_at > back)
        assert resumed - back <= RECOVERY_TARGET_S
        assert httpx.get(f"{live.http}/readyz").status_code == 200
        cockpit = httpx.get(f"{live.http}/api/v1/cockpit", headers=auth(live.tokens["dispatcher"]))
        store = cockpit.json()["store"]
        assert store["state"] == "ok" and store["outages"] >= 1
        assert 0 < store["refused_calls"] <= sum(a.refusals for a in answers)
    finally:
        live.stop()


def test_a_call_refused_in_an_outage_leaves_no_trace_and_its_retry_makes_one(
    settings: Settings, redis: RedisServer
) -> None:
    """A cardiac arrest tapped just after Redis stops is applied, then its append fails: 503,
    not listed, nothing on the console or a tablet; its retry once Redis is back makes one
    incident, offered to a tablet (P1 auto-dispatch)."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=g:", auto_dispatch_p1=True))
    units = live.tokens["units"]
    try:
        with ExitStack() as sockets:
            console = sockets.enter_context(live.ws("/ws/console", live.tokens["dispatcher"]))
            tablets = {
                u: sockets.enter_context(live.ws(f"/ws/units/{u}", token))
                for u, token in units.items()
            }
            for tablet in tablets.values():
                assert json.loads(tablet.recv(timeout=10))["type"] == "snapshot"
            assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
            redis.stop()

            refused = post_call(live, "arrest-1", "cardiac_arrest")
            assert refused.status_code == 503 and store_503_problems(refused) == []
            assert incident_ids(live) == []
            frames = drain(console)  # the frames the failure caused, up to a quiet moment
            assert [(f["type"], f.get("reason")) for f in frames] == [
                ("store.degraded", "store_unavailable")
            ]
            assert [f for t in tablets.values() for f in drain(t, 0.3) if "incident_id" in f] == []
            ready = httpx.get(f"{live.http}/readyz")
            assert ready.status_code == 503 and store_503_problems(ready) == []
            assert httpx.get(f"{live.http}/healthz").status_code == 200

            redis.restart()
            wait_ready(live)
            retried = post_call(live, "arrest-1", "cardiac_arrest")
            assert retried.status_code == 201, retried.text
            iid = retried.json()["incident_id"]
            assert incident_ids(live) == [iid]
            assert (
                recv_until(console, lambda f: f["type"] == "store.restored")["refused_calls"] == 1
            )
            assert recv_until(console, lambda f: f["type"] == "call.received")["incident_id"] == iid
            offer = recv_until(console, lambda f: f["type"] == "offer.sent")
            assert (offer["incident_id"], offer["by"]) == (iid, "auto")
            tablet = tablets[offer["unit_id"]]
            assert recv_until(tablet, lambda f: f["type"] == "offer.sent")["incident_id"] == iid
    finally:
        live.stop()


def test_a_full_disk_refuses_calls_and_freeing_it_brings_them_back(
    settings: Settings, tmp_path: Path
) -> None:
    """SQLite on a 16 MB tmpfs filled by a ballast file: 503 with Retry-After, /readyz not
    ready, /healthz alive; the ballast deleted, the refused call's retry is answered within
    5 s, and a restarted server holds every acknowledged call and nothing else."""
    disk = SmallDisk(tmp_path / "disk", "16m")
    try:
        settings = replace(settings, store_url=f"sqlite:///{disk.path / 'events.db'}")
        live = start(settings)
        acknowledged: list[str] = []
        try:
            for i in range(3):
                r = post_call(live, f"before-{i}")
                assert r.status_code == 201, r.text
                acknowledged.append(r.json()["incident_id"])
            disk.fill()
            refused = None
            for i in range(500):  # the log's WAL may still hold a few before it must grow
                r = post_call(live, f"full-{i}")
                if r.status_code == 503:
                    refused = (f"full-{i}", r)
                    break
                assert r.status_code == 201, r.text
                acknowledged.append(r.json()["incident_id"])
            assert refused is not None, "the full disk never refused a call"
            key, response = refused
            assert store_503_problems(response) == []
            ready = httpx.get(f"{live.http}/readyz")
            assert ready.status_code == 503 and store_503_problems(ready) == []
            assert httpx.get(f"{live.http}/healthz").status_code == 200
            assert post_call(live, "while-full").status_code == 503

            disk.free()
            freed = time.monotonic()
            while (r := post_call(live, key)).status_code == 503:
                assert time.monotonic() - freed <= RECOVERY_TARGET_S, "calls did not come back"
                time.sleep(0.1)
            assert r.status_code == 201, r.text
            acknowledged.append(r.json()["incident_id"])
            assert sorted(incident_ids(live)) == sorted(acknowledged)
        finally:
            live.stop()
        again = start(settings)
        try:
            assert sorted(incident_ids(again)) == sorted(acknowledged)  # nothing acked lost
        finally:
            again.stop()
    finally:
        disk.unmount()


def test_concurrent_calls_caught_by_a_failing_append_are_all_refused(
    settings: Settings, redis: RedisServer
) -> None:
    """Ten taps at once just after Redis stops (one batch fails, the rest queue behind it or
    come after): all ten 503, none listed; retried once Redis is back, ten incidents."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=c:"))
    keys = [f"burst-{i}" for i in range(10)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.post(
                            f"{live.http}/api/v1/calls",
                            json=call_body(f"+8613700000{i:03d}"),
                            headers={"Idempotency-Key": key},
                        )
                        for i, key in enumerate(keys)
                    )
                )
            )

    try:
        redis.stop()
        refused = asyncio.run(burst())
        assert [r.status_code for r in refused] == [503] * len(keys)
        assert incident_ids(live) == []
        redis.restart()
        wait_ready(live)
        answered = asyncio.run(burst())
        assert [r.status_code for r in answered] == [201] * len(keys)
        ids = sorted(r.json()["incident_id"] for r in answered)
        assert len(set(ids)) == len(keys) and sorted(incident_ids(live)) == ids
    finally:
        live.stop()


def test_a_redis_that_comes_back_without_its_data_stops_writes_and_says_why(
    settings: Settings, redis: RedisServer
) -> None:
    """Redis restarted with its data directory emptied (the log lost what we hold): writes stay
    refused with `store_diverged`, said on /readyz and the console; reads go on from memory."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=d:"))
    try:
        first = post_call(live, "kept-1")
        assert first.status_code == 201, first.text
        with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
            assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
            redis.stop()
            assert post_call(live, "lost-1").status_code == 503
            for path in sorted(redis.workdir.rglob("*"), reverse=True):
                if path.name != "redis.log":
                    path.unlink() if path.is_file() else path.rmdir()
            redis.restart()
            said = recv_until(console, lambda f: f.get("reason") == "store_diverged")
            assert (said["type"], said["retry_after_s"]) == ("store.degraded", 30)
        ready = httpx.get(f"{live.http}/readyz")
        assert (ready.status_code, ready.json()["reason"]) == (503, "store_diverged")
        refused = post_call(live, "lost-1")
        assert (refused.status_code, refused.headers["Retry-After"]) == (503, "30")
        assert store_503_problems(refused) == []
        assert incident_ids(live) == [first.json()["incident_id"]]
    finally:
        live.stop()


def test_past_the_memory_bound_a_refused_call_is_undone_from_the_log_once_it_is_back(
    settings: Settings, redis: RedisServer
) -> None:
    """With no durable records kept in memory (`rebuild_copy_records=0`), a call refused in an
    outage is undone from the log itself once Redis is back: after recovery it is not listed,
    and its retry makes exactly one incident."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=b:", rebuild_copy_records=0))
    try:
        kept = post_call(live, "before-1")
        assert kept.status_code == 201, kept.text
        redis.stop()
        refused = post_call(live, "during-1", "cardiac_arrest")
        assert refused.status_code == 503 and store_503_problems(refused) == []
        redis.restart()
        wait_ready(live)
        assert incident_ids(live) == [kept.json()["incident_id"]]
        retried = post_call(live, "during-1", "cardiac_arrest")
        assert retried.status_code == 201, retried.text
        assert sorted(incident_ids(live)) == sorted(
            [kept.json()["incident_id"], retried.json()["incident_id"]]
        )
    finally:
        live.stop()
