"""The fan-out hub: seq per topic, encode once, coalescing, lagging clients, resume, direct writes
to a sink, loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from dispatch.live.hub import Hub, Subscription, pump
from dispatch.ws.sink import ConnectionSink

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
    assert [(f["seq"], f["topic"], f["n"]) for f in got] == [
        (1, "console", 0),
        (2, "console", 1),
        (3, "console", 2),
    ]
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
        ("console", 1, "a"),
        ("unit:A1", 1, "b"),
        ("console", 2, "c"),
    ]
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


# --- direct writes to a sink -------------------------------------------------------------------


class ListSink:
    """A `Sink` (our own Protocol) that appends what it is written to `out`.

    `open` is what `writable()` answers, as a socket below or above its high-water mark;
    `error`, when set, is raised by `write`, as by a connection that died.
    """

    def __init__(self, out: list[bytes] | None = None) -> None:
        self.out: list[bytes] = [] if out is None else out
        self.open = True
        self.error: Exception | None = None

    def writable(self) -> bool:
        return self.open

    def write(self, frame: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.out.append(frame)


def seqs(frames: list[bytes]) -> list[int]:
    """The seq of each frame."""
    return [json.loads(f)["seq"] for f in frames]


def test_a_writable_sink_gets_frames_at_once_and_nothing_is_queued() -> None:
    """Three frames to a writable sink are written inside publish, in order; nothing is queued."""
    hub = Hub()
    sink = ListSink()
    sub = hub.subscribe(["console"], sink=sink)
    for n in range(3):
        hub.publish("console", {"n": n}, coalesce="pos:A1")
        assert seqs(sink.out) == list(range(1, n + 2))  # written before publish returned
    assert sub.pending == 0 and not sub.lagging


def test_a_sink_that_pushes_back_gets_its_frames_queued_then_direct_again() -> None:
    """Frames 2-3 meet a full socket and queue; pump sends them; frame 4 is written directly."""

    async def body() -> None:
        hub = Hub()
        sink = ListSink()
        sub = hub.subscribe(["console"], sink=sink)
        hub.publish("console", {"n": 1})
        sink.open = False
        hub.publish("console", {"n": 2})
        hub.publish("console", {"n": 3})
        assert seqs(sink.out) == [1] and sub.pending == 2

        async def send(frame: bytes) -> None:  # the awaited send, to the same socket
            sink.out.append(frame)

        sink.open = True
        pumping = asyncio.create_task(pump(sub, send))
        await until(lambda: sub.pending == 0 and len(sink.out) == 3)
        hub.publish("console", {"n": 4})
        assert seqs(sink.out) == [1, 2, 3, 4] and sub.pending == 0
        sub.close()
        await pumping

    run(body())


def test_a_direct_write_waits_behind_the_frame_the_pump_is_sending() -> None:
    """While pump's send of frame 1 is stuck, frame 2 queues even though the sink is writable."""

    async def body() -> None:
        hub = Hub()
        sink = ListSink()
        sub = hub.subscribe(["console"], sink=sink)
        sink.open = False
        hub.publish("console", {"n": 1})
        sending, release = asyncio.Event(), asyncio.Event()

        async def send(frame: bytes) -> None:  # writes, then waits for buffer room
            sink.out.append(frame)
            sending.set()
            await release.wait()

        pumping = asyncio.create_task(pump(sub, send))
        await sending.wait()
        sink.open = True
        hub.publish("console", {"n": 2})
        assert seqs(sink.out) == [1] and sub.pending == 1
        release.set()
        await until(lambda: len(sink.out) == 2)
        hub.publish("console", {"n": 3})
        assert seqs(sink.out) == [1, 2, 3]
        sub.close()
        await pumping

    run(body())


def test_a_sink_that_raises_closes_only_its_subscription() -> None:
    """A dead connection's write error closes its subscription alone; the other gets the frame."""
    hub = Hub()
    good, bad = ListSink(), ListSink()
    bad.error = ConnectionResetError("peer gone")
    first = hub.subscribe(["console"], sink=bad)
    second = hub.subscribe(["console"], sink=good)
    assert hub.publish("console", {"n": 1}) == 1
    assert first.closed and not first.lagging and first.failure is bad.error
    assert not second.closed and seqs(good.out) == [1]
    assert hub.subscribers("console") == 1
    hub.publish("console", {"n": 2})
    assert seqs(good.out) == [1, 2]


def test_a_lagging_sink_subscription_is_closed_once_its_queue_fills() -> None:
    """Queue of 2 behind a socket that never drains: frames 1-2 queue, frame 3 marks it lagging."""
    hub = Hub(queue_size=2)
    sink = ListSink()
    sink.open = False
    sub = hub.subscribe(["console"], sink=sink)
    hub.publish("console", {"n": 1})
    hub.publish("console", {"n": 2})
    assert (sub.pending, sub.lagging) == (2, False)
    hub.publish("console", {"n": 3})
    assert (sub.lagging, sub.closed, sub.pending, sink.out) == (True, True, 0, [])


@pytest.mark.parametrize("writable", [True, False])
def test_send_first_puts_the_snapshot_before_every_live_frame(writable: bool) -> None:
    """A snapshot handed to send_first right after subscribe precedes live frames 1 and 2."""

    async def body() -> None:
        hub = Hub()
        sink = ListSink()
        sink.open = writable
        sub = hub.subscribe(["console"], sink=sink)
        sub.send_first(b'{"type":"snapshot","last_seq":0}')
        hub.publish("console", {"n": 1})
        sink.open = True
        hub.publish("console", {"n": 2})

        async def send(frame: bytes) -> None:
            sink.out.append(frame)

        pumping = asyncio.create_task(pump(sub, send))
        await until(lambda: len(sink.out) == 3)
        sub.close()
        await pumping
        assert [json.loads(f).get("seq") for f in sink.out] == [None, 1, 2]

    run(body())


def test_send_first_leads_a_replay_without_a_sink() -> None:
    """Without a sink, send_first goes ahead of the replayed frames 2-3 in the queue."""
    hub = Hub()
    for n in range(3):
        hub.publish("console", {"n": n})
    sub = hub.subscribe(["console"], since={"console": 1})
    sub.send_first(b'{"type":"hello"}')
    got = asyncio.run(drain(sub))
    assert [f.get("seq") for f in got] == [None, 2, 3]


def test_a_replay_is_queued_and_live_frames_wait_behind_it() -> None:
    """Resuming from seq 1, writable sink: replay 2-3 queued, live 4 behind it, then 5 direct."""

    async def body() -> None:
        hub = Hub()
        for n in range(3):
            hub.publish("console", {"n": n})
        sink = ListSink()
        sub = hub.subscribe(["console"], since={"console": 1}, sink=sink)
        hub.publish("console", {"n": 3})
        assert sink.out == [] and sub.pending == 3

        async def send(frame: bytes) -> None:
            sink.out.append(frame)

        pumping = asyncio.create_task(pump(sub, send))
        await until(lambda: len(sink.out) == 3)
        hub.publish("console", {"n": 4})  # queue empty again: direct
        assert seqs(sink.out) == [2, 3, 4, 5] and sub.pending == 0
        sub.close()
        await pumping

    run(body())


# One step of the order property: publish a plain frame, publish position "a" or "b", the socket
# starts or stops taking frames at once, it lets one of the pump's sends through, or the loop
# runs (so the pump wakes up; without it, publishes follow each other in one loop step).
STEPS = st.lists(
    st.sampled_from(["plain", "pos:a", "pos:b", "toggle", "release", "yield"]), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(steps=STEPS)
def test_direct_and_queued_frames_arrive_in_seq_order(steps: list[str]) -> None:
    """Any mix of direct writes, queued frames and pump sends delivers increasing seqs, every
    plain frame, and each unit's last position."""

    async def body() -> None:
        hub = Hub(queue_size=64)
        sink = ListSink()
        sub = hub.subscribe(["console"], sink=sink)
        room = asyncio.Semaphore(0)  # sends the socket has let through

        async def send(frame: bytes) -> None:  # waits for buffer room, then writes
            await room.acquire()
            sink.out.append(frame)

        pumping = asyncio.create_task(pump(sub, send))
        plain: list[int] = []
        last: dict[str, int] = {}
        for step in steps:
            if step == "plain":
                plain.append(hub.publish("console", {"n": 0}))
            elif step.startswith("pos:"):
                last[step] = hub.publish("console", {"n": 0}, coalesce=step)
            elif step == "toggle":
                sink.open = not sink.open
            elif step == "release":
                room.release()
            else:
                for _ in range(3):
                    await asyncio.sleep(0)
        sink.open = True
        for _ in range(len(steps) + 1):
            room.release()
        await until(lambda: sub.pending == 0)
        for _ in range(3):
            await asyncio.sleep(0)  # the last send completes
        sub.close()
        await pumping
        got = seqs(sink.out)
        assert got == sorted(set(got)), "seqs out of order or repeated"
        assert set(plain) <= set(got) and set(last.values()) <= set(got)
        assert not sub.lagging

    run(body())


# --- real loopback websockets ----------------------------------------------------------------


class CountingSink(ConnectionSink):
    """A ConnectionSink that counts its direct writes, so a test can see which path a frame took."""

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__(connection)
        self.writes = 0

    def write(self, frame: bytes) -> None:
        self.writes += 1
        super().write(frame)


class ConsoleServer:
    """A websockets server whose handler subscribes to "console" and pumps it to the socket.

    With `sink`, as the fan-out benchmark's server: frames go straight to the socket while it
    keeps up and through the queue and pump when it does not. Path /slow gets a queue of 4 and a
    4 KiB kernel send buffer, so a client that stops reading fills it after a few frames instead
    of megabytes later.
    """

    def __init__(self, hub: Hub, sink: bool) -> None:
        self.hub = hub
        self.sink = sink
        self.subs: dict[str, list[Subscription]] = {"/": [], "/slow": []}
        self.sinks: dict[str, list[CountingSink]] = {"/": [], "/slow": []}
        self.finished: list[Subscription] = []

    async def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        slow = path == "/slow"
        if slow:
            ws.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
            )
        size = 4 if slow else None
        if self.sink:
            sink = CountingSink(ws)
            self.sinks[path].append(sink)
            sub = self.hub.subscribe(["console"], queue_size=size, sink=sink)
            send: Callable[[bytes], Awaitable[None]] = sink.send
        else:
            sub = self.hub.subscribe(["console"], queue_size=size)
            send = ws.send
        self.subs[path].append(sub)

        async def close_when_gone() -> None:
            await ws.wait_closed()
            sub.close()

        watcher = asyncio.create_task(close_when_gone())
        try:
            await pump(sub, send)
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
async def console_server(hub: Hub, sink: bool) -> AsyncIterator[tuple[ConsoleServer, int]]:
    """A ConsoleServer on 127.0.0.1 at a free port, without compression."""
    app = ConsoleServer(hub, sink)
    # No permessage-deflate: it would compress each frame once per connection, undoing the
    # encode-once, and squeeze the test's padding to nothing.
    async with serve(app.handler, "127.0.0.1", 0, ping_interval=None, compression=None) as server:
        yield app, server.sockets[0].getsockname()[1]


async def read_seqs(ws: ClientConnection, n: int) -> list[int]:
    """The seq of the next `n` frames on `ws`."""
    return [json.loads(await ws.recv())["seq"] for _ in range(n)]


@pytest.mark.parametrize("sink", [False, True], ids=["pump-only", "sink"])
def test_loopback_clients_get_everything_and_a_stalled_one_is_dropped(sink: bool) -> None:
    """Three clients get seq 1..100 in order; a fourth that never reads is queued, then cut off as
    lagging, and they go on. With a sink, the readers' frames are written directly."""

    async def body() -> None:
        hub = Hub()
        async with console_server(hub, sink) as (app, port), contextlib.AsyncExitStack() as stack:
            url = f"ws://127.0.0.1:{port}/"
            fast = [
                await stack.enter_async_context(connect(url, ping_interval=None)) for _ in range(3)
            ]
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
            queued = 0  # the most frames the stalled client's queue held
            while not slow_sub.lagging:  # one 8 KiB frame at a time, each read by the others
                seq = hub.publish("console", {"type": "tick", "pad": pad})
                assert seq < 300, "the stalled client was never dropped"
                queued = max(queued, slow_sub.pending)
                assert await asyncio.gather(*(read_seqs(ws, 1) for ws in fast)) == [[seq]] * 3
            assert queued > 0
            if sink:  # the readers took the direct path, the stalled one did until it filled up
                assert all(s.writes > 0 for s in app.sinks["/"])
                assert 0 < app.sinks["/slow"][0].writes < seq - 100
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


def test_an_ended_topic_delivers_what_is_queued_then_stops() -> None:
    """Two frames queued, then end: next() gives both, then None (not lagging); topic forgotten."""
    hub = Hub()
    caller = hub.subscribe(["call:I1"])
    console = hub.subscribe(["console"])
    hub.publish("call:I1", {"type": "incident.stepped", "n": 1})
    hub.publish("call:I1", {"type": "incident.stepped", "n": 2})
    hub.end("call:I1")

    async def read_all() -> list[bytes | None]:
        return [await caller.next() for _ in range(3)]

    frames = asyncio.run(read_all())
    assert [json.loads(f)["n"] for f in frames[:2] if f is not None] == [1, 2]
    assert frames[2] is None and caller.ended and not caller.lagging
    assert hub.last_seq("call:I1") == 0 and hub.subscribers("call:I1") == 0
    assert not console.closed and hub.subscribers("console") == 1  # other topics go on


def test_a_fed_topic_publishes_with_the_seq_its_record_was_logged_with() -> None:
    """An explicit seq must be the next one; start_at continues a topic after a restart with
    empty history, so only a resume from its new start is covered."""
    hub = Hub(history=2)
    assert hub.publish("hospital:a", {"type": "t"}, seq=1) == 1
    with pytest.raises(ValueError, match="next seq is 2"):
        hub.publish("hospital:a", {"type": "t"}, seq=3)
    assert hub.last_seq("hospital:a") == 1
    restarted = Hub(history=2)
    restarted.start_at("hospital:a", 40)
    assert restarted.publish("hospital:a", {"type": "t"}) == 41
    assert restarted.covers("hospital:a", 41) and restarted.covers("hospital:a", 40)
    assert not restarted.covers("hospital:a", 39)  # 40 was before the restart
    assert not restarted.covers("hospital:a", 42)  # from the future
    restarted.publish("hospital:a", {"type": "t"})
    restarted.publish("hospital:a", {"type": "t"})
    assert not restarted.covers("hospital:a", 40)  # history holds 2: 42 and 43
    with pytest.raises(ValueError, match="cannot go back"):
        restarted.start_at("hospital:a", 5)


def test_a_gap_longer_than_a_queue_is_not_covered_even_inside_history() -> None:
    """subscribe(since) would fall back to a snapshot for 3 missed frames with a 2-frame
    queue, so `covers` says no and a fed topic replays from the log instead."""
    hub = Hub(queue_size=2, history=10)
    for _ in range(5):
        hub.publish("hospital:a", {"type": "t"})
    assert not hub.covers("hospital:a", 2) and hub.covers("hospital:a", 3)
    assert hub.subscribe(["hospital:a"], since={"hospital:a": 2}).needs_snapshot
    assert not hub.subscribe(["hospital:a"], since={"hospital:a": 3}).needs_snapshot
