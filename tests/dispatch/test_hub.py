"""The fan-out hub: seq per topic, encode once, coalescing, lagging clients, resume, loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from dispatch.hub import Hub, Subscription, pump

# Every async test runs under this guard so a bug hangs nothing; no test asserts on time.
HANG_GUARD_S = 30.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run one async test body to completion on a fresh event loop."""

    async def guarded() -> None:
        async with asyncio.timeout(HANG_GUARD_S):
            await coro

    asyncio.run(guarded())


async def drain(sub: Subscription) -> list[dict[str, Any]]:
    """Every frame queued for `sub` right now, decoded."""
    out = []
    while sub.pending:
        frame = await sub.next()
        assert frame is not None
        out.append(json.loads(frame))
    return out


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition` holds (the hang guard bounds the wait)."""
    while not condition():
        await asyncio.sleep(0.001)


def test_seq_counts_per_topic_in_order() -> None:
    """Three console frames get seq 1, 2, 3 in order; unit:A1 counts on its own from 1."""
    hub = Hub()
    sub = hub.subscribe(["console"])
    assert [hub.publish("console", {"type": "t", "n": n}) for n in range(3)] == [1, 2, 3]
    assert hub.publish("unit:A1", {"type": "t"}) == 1
    got = asyncio.run(drain(sub))
    assert [(f["seq"], f["topic"], f["n"]) for f in got] == [(1, "console", 0), (2, "console", 1),
                                                              (3, "console", 2)]  # fmt: skip
    assert hub.last_seq("console") == 3 and hub.last_seq("unit:A1") == 1
    assert hub.last_seq("call:I9") == 0


def test_a_subscriber_of_two_topics_gets_both() -> None:
    """A tablet on unit:A1 and console gets both streams interleaved in publish order."""
    hub = Hub()
    sub = hub.subscribe(["unit:A1", "console"])
    hub.publish("console", {"type": "a"})
    hub.publish("unit:A1", {"type": "b"})
    hub.publish("console", {"type": "c"})
    got = asyncio.run(drain(sub))
    assert [(f["topic"], f["seq"], f["type"]) for f in got] == [
        ("console", 1, "a"), ("unit:A1", 1, "b"), ("console", 2, "c"),
    ]  # fmt: skip
    assert hub.subscribers("console") == 1 and hub.subscribers("unit:A1") == 1


def test_topics_are_isolated() -> None:
    """A caller on call:I1 never sees call:I2 or console frames."""
    hub = Hub()
    caller = hub.subscribe(["call:I1"])
    hub.publish("call:I2", {"type": "call.update"})
    hub.publish("console", {"type": "call.received"})
    hub.publish("call:I1", {"type": "call.update", "eta_s": 300})
    assert asyncio.run(drain(caller)) == [
        {"seq": 1, "topic": "call:I1", "type": "call.update", "eta_s": 300}
    ]


def test_one_encoding_shared_by_every_subscriber() -> None:
    """Three subscribers receive the very same bytes object: compact JSON, Chinese kept as is."""
    hub = Hub()
    subs = [hub.subscribe(["console"]) for _ in range(3)]
    hub.publish("console", {"type": "call.received", "street": "文三路"})

    async def first_frames() -> list[bytes | None]:
        return [await s.next() for s in subs]

    frames = asyncio.run(first_frames())
    assert (
        frames[0] == '{"seq":1,"topic":"console","type":"call.received","street":"文三路"}'.encode()
    )
    assert frames[1] is frames[0] and frames[2] is frames[0]


def test_a_message_cannot_override_seq_or_topic() -> None:
    """A message carrying its own seq is refused, and nothing is numbered."""
    hub = Hub()
    with pytest.raises(ValueError, match="seq"):
        hub.publish("console", {"seq": 7})
    assert hub.last_seq("console") == 0


def test_positions_coalesce_and_other_frames_are_kept() -> None:
    """Ten A1 positions around two status frames: the reader gets both statuses then position 10."""
    hub = Hub()
    sub = hub.subscribe(["console"])
    for n in range(1, 11):
        hub.publish("console", {"type": "unit.position", "unit": "A1", "n": n}, coalesce="pos:A1")
        if n in (3, 7):
            hub.publish("console", {"type": "unit.status", "after": n})
    got = asyncio.run(drain(sub))
    # seq: positions 1-3 are 1-3, status 4, positions 4-7 are 5-8, status 9, positions 8-10 10-12.
    assert [(f["seq"], f["type"], f.get("n"), f.get("after")) for f in got] == [
        (4, "unit.status", None, 3),
        (9, "unit.status", None, 7),
        (12, "unit.position", 10, None),
    ]


def test_coalesced_positions_never_fill_the_queue() -> None:
    """A hundred positions of two units through a queue of 3 leave 2 frames and no lag."""
    hub = Hub(queue_size=3)
    sub = hub.subscribe(["console"])
    for n in range(100):
        for unit in ("A1", "B2"):
            hub.publish("console", {"unit": unit, "n": n}, coalesce=f"pos:{unit}")
    assert not sub.lagging and sub.pending == 2
    assert [(f["unit"], f["n"]) for f in asyncio.run(drain(sub))] == [("A1", 99), ("B2", 99)]


def test_a_slow_subscriber_is_dropped_and_a_fast_one_gets_everything() -> None:
    """Queue of 4: a reader that never reads is dropped as lagging at frame 5; the other gets 20."""

    async def body() -> None:
        hub = Hub(queue_size=4)
        fast, slow = hub.subscribe(["console"]), hub.subscribe(["console"])
        seen = []
        for n in range(1, 21):
            hub.publish("console", {"n": n})
            seen += [f["seq"] for f in await drain(fast)]
            assert slow.lagging == (n >= 5)
        assert seen == list(range(1, 21))
        assert slow.closed and await slow.next() is None
        assert not fast.lagging and hub.subscribers("console") == 1

    run(body())


@pytest.mark.parametrize(
    ("history", "since", "snapshot", "replayed"),
    [
        (1024, 5, False, [6, 7, 8, 9, 10]),  # history holds 6..10: replay them
        (1024, 10, False, []),  # up to date: nothing to replay
        (1024, 0, False, list(range(1, 11))),  # "from the start" while history has it all
        (4, 5, True, []),  # history holds only 7..10: snapshot instead
        (1024, 12, True, []),  # a seq beyond the last one: the hub restarted
    ],
)
def test_resume_replays_or_asks_for_a_snapshot(
    history: int, since: int, snapshot: bool, replayed: list[int]
) -> None:
    """After 10 frames, since=N replays N+1..10 then live frames, or asks for a snapshot."""
    hub = Hub(history=history)
    for n in range(10):
        hub.publish("console", {"n": n})
    sub = hub.subscribe(["console"], since={"console": since})
    assert sub.needs_snapshot is snapshot
    hub.publish("console", {"n": 10})
    assert [f["seq"] for f in asyncio.run(drain(sub))] == [*replayed, 11]


def test_a_replay_larger_than_the_queue_asks_for_a_snapshot() -> None:
    """Ten missed frames do not fit a queue of 4: nothing is replayed, a snapshot is needed."""
    hub = Hub(queue_size=4)
    for n in range(10):
        hub.publish("console", {"n": n})
    sub = hub.subscribe(["console"], since={"console": 0})
    assert sub.needs_snapshot and sub.pending == 0 and not sub.lagging


def test_unsubscribe_stops_delivery_and_wakes_the_reader() -> None:
    """A reader waiting in next() gets None on unsubscribe; later frames are not queued."""

    async def body() -> None:
        hub = Hub()
        sub = hub.subscribe(["console", "unit:A1"])
        waiting = asyncio.create_task(sub.next())
        await asyncio.sleep(0)
        hub.unsubscribe(sub)
        assert await waiting is None
        hub.publish("console", {"n": 1})
        assert sub.pending == 0 and await sub.next() is None
        assert hub.subscribers("console") == 0 and hub.subscribers("unit:A1") == 0
        hub.unsubscribe(sub)  # idempotent

    run(body())


def test_pump_forwards_until_closed() -> None:
    """pump sends frames 1..3 in order and returns once the subscription is closed."""

    async def body() -> None:
        hub = Hub()
        sub = hub.subscribe(["console"])
        sent: list[bytes] = []

        async def send(frame: bytes) -> None:
            sent.append(frame)

        pumping = asyncio.create_task(pump(sub, send))
        for n in range(3):
            hub.publish("console", {"n": n})
        await until(lambda: len(sent) == 3)
        sub.close()
        await pumping
        assert [json.loads(f)["seq"] for f in sent] == [1, 2, 3]

    run(body())


def test_pump_stuck_in_a_send_returns_when_its_client_lags() -> None:
    """A send that never completes does not keep pump: lagging ends it and it returns normally."""

    async def body() -> None:
        hub = Hub(queue_size=2)
        sub = hub.subscribe(["console"])
        stuck = asyncio.Event()

        async def send(frame: bytes) -> None:
            stuck.set()
            await asyncio.Event().wait()  # a client that stopped reading

        pumping = asyncio.create_task(pump(sub, send))
        hub.publish("console", {"n": 1})
        await stuck.wait()
        for n in range(2, 5):
            hub.publish("console", {"n": n})
        await pumping  # returns; does not raise CancelledError
        assert sub.lagging and not pumping.cancelled()
        assert pumping.cancelling() == 0  # our cancel was absorbed

    run(body())


def test_pump_still_obeys_an_outside_cancel() -> None:
    """Cancelling the task that runs pump cancels it (the hub absorbs only its own cancel)."""

    async def body() -> None:
        hub = Hub()
        sub = hub.subscribe(["console"])

        async def send(frame: bytes) -> None:
            raise AssertionError("nothing was published")

        pumping = asyncio.create_task(pump(sub, send))
        await asyncio.sleep(0)
        pumping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pumping

    run(body())


# --- real loopback websockets ----------------------------------------------------------------


class ConsoleServer:
    """A websockets server whose handler subscribes to "console" and pumps it to the socket.

    Path /slow gets a queue of 4 and a 4 KiB kernel send buffer, so a client that stops reading
    fills it after a few frames instead of megabytes later.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.subs: dict[str, list[Subscription]] = {"/": [], "/slow": []}
        self.finished: list[Subscription] = []

    async def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        slow = path == "/slow"
        if slow:
            ws.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
            )
        sub = self.hub.subscribe(["console"], queue_size=4 if slow else None)
        self.subs[path].append(sub)

        async def close_when_gone() -> None:
            await ws.wait_closed()
            sub.close()

        watcher = asyncio.create_task(close_when_gone())
        try:
            await pump(sub, ws.send)
        except ConnectionClosed:
            pass
        finally:
            self.hub.unsubscribe(sub)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if sub.lagging:  # a close frame cannot get past its full buffer: drop the connection
            ws.transport.abort()
            await ws.wait_closed()
        self.finished.append(sub)


@contextlib.asynccontextmanager
async def console_server(hub: Hub) -> AsyncIterator[tuple[ConsoleServer, int]]:
    """A ConsoleServer on 127.0.0.1 at a free port, without compression."""
    app = ConsoleServer(hub)
    # No permessage-deflate: it would compress each frame once per connection, undoing the
    # encode-once, and squeeze the test's padding to nothing.
    async with serve(app.handler, "127.0.0.1", 0, ping_interval=None, compression=None) as server:
        yield app, server.sockets[0].getsockname()[1]


async def read_seqs(ws: ClientConnection, n: int) -> list[int]:
    """The seq of the next `n` frames on `ws`."""
    return [json.loads(await ws.recv())["seq"] for _ in range(n)]


def test_loopback_clients_get_everything_and_a_stalled_one_is_dropped() -> None:
    """Three clients get seq 1..100 in order; a fourth that never reads is cut off, they go on."""

    async def body() -> None:
        hub = Hub()
        async with console_server(hub) as (app, port), contextlib.AsyncExitStack() as stack:
            url = f"ws://127.0.0.1:{port}/"
            fast = [await stack.enter_async_context(connect(url, ping_interval=None))
                    for _ in range(3)]  # fmt: skip
            await until(lambda: hub.subscribers("console") == 3)
            for n in range(100):
                hub.publish("console", {"type": "tick", "n": n})
            got = await asyncio.gather(*(read_seqs(ws, 100) for ws in fast))
            assert got == [list(range(1, 101))] * 3

            # The fourth client: a 4 KiB receive buffer, and it stops reading after one frame.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            stack.callback(sock.close)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            stalled = await stack.enter_async_context(
                connect(f"ws://127.0.0.1:{port}/slow", sock=sock, max_queue=1, ping_interval=None)
            )
            await until(lambda: hub.subscribers("console") == 4)
            slow_sub = app.subs["/slow"][0]
            pad = "x" * 8192
            while not slow_sub.lagging:  # one 8 KiB frame at a time, each read by the others
                seq = hub.publish("console", {"type": "tick", "pad": pad})
                assert seq < 300, "the stalled client was never dropped"
                assert await asyncio.gather(*(read_seqs(ws, 1) for ws in fast)) == [[seq]] * 3
            await until(lambda: slow_sub in app.finished)
            assert hub.subscribers("console") == 3 and not any(s.lagging for s in app.subs["/"])

            # The others still receive later frames, in order.
            first = hub.last_seq("console") + 1
            for n in range(100):
                hub.publish("console", {"type": "tick", "n": n})
            got = await asyncio.gather(*(read_seqs(ws, 100) for ws in fast))
            assert got == [list(range(first, first + 100))] * 3

            # The stalled client, reading at last, finds a gap-free start then a dead connection.
            seen = []
            with pytest.raises(ConnectionClosedError):
                while True:
                    seen.append(json.loads(await stalled.recv())["seq"])
            assert seen == list(range(101, 101 + len(seen))) and 101 + len(seen) < first

    run(body())
