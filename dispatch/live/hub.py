"""The websocket fan-out: per-topic sequence numbers, history for resumption, one queue per client.

`Hub.publish` encodes a message once, numbers it, keeps it in the topic's history and hands the
same bytes to every subscriber without awaiting, so a slow client never slows the publisher or
the other clients (STYLE §5; the relay-queue pattern of websockets' docs/topics/broadcast.rst).

Two ways a frame reaches a client:

- Direct. A subscription made with a `Sink` whose socket can take a frame now (open, below its
  write buffer's high-water mark) and that has nothing queued or in flight gets the frame
  written synchronously, as websockets' `broadcast()` does: no queue entry, no task wake-up.
  This is the common case, and what makes fan-out to thousands of sockets cheap.
- Queued. Otherwise (no sink, the socket pushes back, or frames are already waiting) the frame
  joins the subscriber's bounded queue and `pump` sends it with an awaited send, which respects
  flow control. Until the queue is empty again every later frame queues too, so a direct write
  never overtakes a queued frame or the one the pump is sending.

A queued frame with a `coalesce` key (a unit's position, "pos:A1") replaces the still-unsent
frame with the same key, which leaves the queue and the new frame joins its tail: positions drop
the oldest, every other frame is kept, and a client always receives one topic's frames in
increasing seq, so "the last seq I saw" is a safe point to resume from. A subscriber whose queue
is full is marked `lagging` and closed; it reconnects with `since` and gets the frames it missed
from history, or a snapshot when history no longer holds them all. A sink whose write raises
(the connection died) closes its subscription alone; the other subscribers still get the frame.

Snapshot first, then live frames: subscribe, build the snapshot and hand it to
`Subscription.send_first` in the same loop step (no await in between), then run `pump`::

    sub = hub.subscribe(["console"], since=since, sink=sink)
    if since is None or sub.needs_snapshot:
        sub.send_first(encode(snapshot()))  # stamped with hub.last_seq("console")
    await pump(sub, sink.send)

`send_first` writes through the sink when it can and otherwise puts the frame at the head of the
queue, so it precedes every live frame either way; without a sink it simply leads the queue.

Pure asyncio: the app hands `pump` the framework's send (`websocket.send_bytes`) and, where the
framework allows a synchronous write, a `Sink` (`dispatch.ws.sink` adapts a websockets
connection), so this module imports no web framework and runs single-threaded on the event loop
(publish from the loop's thread).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """A socket that can take one whole text frame synchronously, when it says it can.

    `write` must not call back into the hub, and must not wait: the hub calls it from inside
    `publish`, once per subscriber.
    """

    def writable(self) -> bool:
        """True when a frame written now goes straight into the socket's write buffer: the
        connection is open, not paused by flow control and not in a fragmented send."""
        ...

    def write(self, frame: bytes) -> None:
        """Write one whole text frame (UTF-8 JSON); raise when the connection is gone."""
        ...


class _Slot:
    """One queued frame; `frame` None marks a position superseded by a newer one."""

    __slots__ = ("frame", "key")

    def __init__(self, frame: bytes, key: str | None) -> None:
        self.frame: bytes | None = frame
        self.key = key


class Subscription:
    """One client's view of one or more topics: direct writes to its sink, else a bounded queue
    read with `next()`."""

    def __init__(
        self, hub: Hub, topics: tuple[str, ...], queue_size: int, sink: Sink | None = None
    ) -> None:
        self.topics = topics
        self.queue_size = queue_size
        self.lagging = False
        self.ended = False  # `finish` was called: the topic is over
        self.closed = False
        self.needs_snapshot = False
        self.failure: Exception | None = None  # what the sink raised, when that closed us
        self._hub = hub
        self._sink = sink
        self._queue: deque[_Slot] = deque()
        self._keyed: dict[str, _Slot] = {}  # coalesce key -> its unsent slot in _queue
        self._live = 0  # frames in _queue not superseded: what queue_size bounds
        # A frame handed out by next() and maybe not sent yet: it holds direct writes back until
        # the reader asks for the next one (pump does so only once its send has returned).
        self._in_flight = False
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[Any] | None = None  # the task pumping us, while in a send
        self._interrupted = False

    @property
    def pending(self) -> int:
        """Frames queued and not yet taken by `next()` (direct writes are never pending)."""
        return self._live

    def _direct(self) -> Sink | None:
        """Our sink when a frame may be written to it now: nothing queued or in flight (so it
        overtakes nothing) and the socket takes it without pushing back. `publish` inlines it."""
        sink = self._sink
        if sink is not None and not self._live and not self._in_flight and sink.writable():
            return sink
        return None

    def _offer(self, frame: bytes, key: str | None) -> bool:
        """Queue a frame; False when the queue is full (a superseded position frees no room)."""
        old = self._keyed.get(key) if key is not None else None
        if old is not None:
            old.frame = None
            self._live -= 1
        elif self._live >= self.queue_size:
            return False
        slot = _Slot(frame, key)
        self._queue.append(slot)
        if key is not None:
            self._keyed[key] = slot
        self._live += 1
        if len(self._queue) > 2 * self.queue_size:  # drop superseded slots, amortised O(1)
            self._queue = deque(s for s in self._queue if s.frame is not None)
        self._ready.set()
        return True

    def send_first(self, frame: bytes) -> None:
        """Deliver `frame` ahead of every frame not yet delivered (a snapshot, a greeting).

        Call it right after `Hub.subscribe`, in the same loop step, so nothing live has gone
        out yet. Written through the sink when it can take it now and nothing waits, otherwise
        put at the head of the queue (not coalesced, and let in even when the queue is full).
        A failed write closes the subscription, as in `publish`.
        """
        if self.closed:
            return
        sink = self._direct()
        if sink is not None:
            try:
                sink.write(frame)
            except Exception as exc:  # the connection died: as in publish, only we stop
                self.failure = exc
                logger.info("subscriber of %s gone: %s", ",".join(self.topics), exc)
                self.close()
            return
        self._queue.appendleft(_Slot(frame, None))
        self._live += 1
        self._ready.set()

    def finish(self) -> None:
        """The topic ended: deliver what is queued, then `next()` returns None (not lagging)."""
        self.ended = True
        self._ready.set()

    async def next(self) -> bytes | None:
        """The next queued frame, waiting for one; None once closed (lagging or unsubscribed)
        or, after `finish`, once the queue is empty.

        With a sink, the frame returned is taken to be in flight until `next()` is called again:
        no frame is written directly meanwhile, so send it before asking for another.
        """
        self._in_flight = False
        while not self.closed:
            while self._queue:
                slot = self._queue.popleft()
                if slot.frame is None:
                    continue
                if slot.key is not None:
                    del self._keyed[slot.key]
                self._live -= 1
                self._in_flight = True
                return slot.frame
            if self.ended:
                self.close()
                break
            self._ready.clear()
            await self._ready.wait()
        return None

    def close(self) -> None:
        """Stop delivery, drop what is queued and wake `next()` (and a `pump` stuck in a send)."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._keyed.clear()
        self._live = 0
        self._ready.set()
        self._hub._detach(self)
        # A client that stopped reading leaves its pump waiting for socket buffer space that may
        # never come: cancel that wait (pump absorbs it) so the endpoint can drop the connection.
        pumping = self._pump
        if pumping is not None and pumping is not asyncio.current_task():
            self._interrupted = True
            pumping.cancel()


class Hub:
    """Publish/subscribe by topic ("console", "unit:A1", "call:I1"), in memory, one process."""

    def __init__(
        self, queue_size: int = 256, history: int = 1024, unkept: tuple[str, ...] = ("video:",)
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if history < 0:
            raise ValueError(f"history must not be negative, got {history}")
        self.queue_size = queue_size
        self.history = history
        self.unkept = unkept  # topic prefixes with no history (pictures: too big to keep)
        self._seq: dict[str, int] = {}
        self._frames: dict[str, deque[tuple[bytes, str | None]]] = {}  # last `history` frames
        self._subs: dict[str, dict[Subscription, None]] = {}  # insertion-ordered sets

    def publish(
        self,
        topic: str,
        message: Mapping[str, Any],
        coalesce: str | None = None,
        seq: int | None = None,
    ) -> int:
        """Number, encode once and deliver a message to every subscriber of `topic`; its seq.

        A topic backed by a durable feed passes the `seq` its record was logged with, which
        must be the next one: the feed and the hub number the same frames the same way.
        """
        if "seq" in message or "topic" in message:
            raise ValueError("message must not carry its own 'seq' or 'topic'")
        nxt = self._seq.get(topic, 0) + 1
        if seq is not None and seq != nxt:
            raise ValueError(f"{topic}: the next seq is {nxt}, not {seq}")
        seq = self._seq[topic] = nxt
        frame = json.dumps(
            {"seq": seq, "topic": topic, **message}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        if self.history and not topic.startswith(self.unkept):
            kept = self._frames.get(topic)
            if kept is None:
                kept = self._frames[topic] = deque(maxlen=self.history)
            kept.append((frame, coalesce))
        subs = self._subs.get(topic)
        if not subs:
            return seq
        dead: list[Subscription] = []  # closing detaches from `subs`: close after the loop
        for sub in subs:
            # Subscription._direct, inlined: this loop runs once per subscriber per frame.
            sink = sub._sink
            if sink is not None and not sub._live and not sub._in_flight and sink.writable():
                try:
                    sink.write(frame)
                except Exception as exc:  # the connection died under it: only it stops
                    sub.failure = exc
                    dead.append(sub)
            elif not sub._offer(frame, coalesce):
                sub.lagging = True
                dead.append(sub)
        for sub in dead:
            self._drop(sub, topic, seq)
        return seq

    def _drop(self, sub: Subscription, topic: str, seq: int) -> None:
        """Close a subscriber that fell behind or whose connection died; log it once, here."""
        if sub.lagging:
            logger.warning(
                "subscriber of %s fell %d frames behind on %s (seq %d); disconnected",
                ",".join(sub.topics),
                sub.queue_size,
                topic,
                seq,
            )
        else:
            logger.info(
                "subscriber of %s gone at %s seq %d: %s",
                ",".join(sub.topics),
                topic,
                seq,
                sub.failure,
            )
        sub.close()

    def subscribe(
        self,
        topics: Iterable[str],
        since: Mapping[str, int] | None = None,
        queue_size: int | None = None,
        sink: Sink | None = None,
    ) -> Subscription:
        """Subscribe to topics; with `since` (topic -> last seq seen) replay what was missed.

        The replay is all or nothing: when history no longer holds every missed frame of every
        topic in `since` (or they would not fit in the queue, or a seq is from before a restart),
        nothing is replayed and `needs_snapshot` is True. The caller then hands a snapshot to
        `send_first`, built in the same loop step (no await in between) and stamped with
        `last_seq(topic)`, so it lines up with the live frames that follow.

        With a `sink`, live frames are written straight to it whenever nothing is queued and it
        is writable; the replay is always queued (it may still turn into a snapshot) and `pump`
        sends it.
        """
        names = tuple(dict.fromkeys(topics))
        if not names:
            raise ValueError("subscribe needs at least one topic")
        size = self.queue_size if queue_size is None else queue_size
        if size < 1:
            raise ValueError(f"queue_size must be at least 1, got {size}")
        sub = Subscription(self, names, size, sink)  # the replay below is queued all the same
        for topic, seen in (since or {}).items():
            if topic not in names:
                raise ValueError(f"since names {topic!r}, which is not subscribed")
            missed = self.last_seq(topic) - seen
            kept = self._frames.get(topic, ())
            if missed < 0 or missed > len(kept):
                sub.needs_snapshot = True
                break
            for i in range(len(kept) - missed, len(kept)):
                if not sub._offer(*kept[i]):
                    sub.needs_snapshot = True
                    break
        if sub.needs_snapshot:
            sub._queue.clear()
            sub._keyed.clear()
            sub._live = 0
        for topic in names:
            self._subs.setdefault(topic, {})[sub] = None
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to `sub`; its `next()` returns None. Idempotent."""
        sub.close()

    def subscribers(self, topic: str) -> int:
        """How many subscriptions receive `topic`."""
        return len(self._subs.get(topic, ()))

    def last_seq(self, topic: str) -> int:
        """The seq of the last frame published on `topic`, 0 before the first."""
        return self._seq.get(topic, 0)

    def start_at(self, topic: str, seq: int) -> None:
        """Continue `topic`'s numbering after `seq` (its durable feed's last, after a restart);
        history starts empty, so a client resuming from before it needs the feed or a snapshot."""
        if seq < self._seq.get(topic, 0):
            raise ValueError(f"{topic} is at seq {self._seq[topic]}; cannot go back to {seq}")
        self._seq[topic] = seq
        self._frames.pop(topic, None)

    def covers(self, topic: str, since: int) -> bool:
        """True when `subscribe(since=...)` replays every frame of `topic` after `since` with
        no snapshot: history holds them and they fit in a subscriber's queue. False for a gap
        older than history or longer than a queue, or a seq from the future."""
        missed = self.last_seq(topic) - since
        return 0 <= missed <= min(len(self._frames.get(topic, ())), self.queue_size)

    def end(self, topic: str) -> None:
        """A topic is over (a caller's incident reached the scene): every subscriber gets what
        it has queued, then its `next()` returns None, so its endpoint closes normally; then
        the topic is forgotten. Frames published after this go to new subscribers only."""
        for sub in list(self._subs.get(topic, ())):
            sub.finish()
        self.forget(topic)

    def forget(self, topic: str) -> None:
        """Drop a finished topic's seq and history (say a closed incident's "call:I1")."""
        self._seq.pop(topic, None)
        self._frames.pop(topic, None)

    def _detach(self, sub: Subscription) -> None:
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.pop(sub, None)
                if not subs:
                    del self._subs[topic]


async def pump(sub: Subscription, send: Callable[[bytes], Awaitable[None]]) -> None:
    """Send every queued frame of `sub` with `send` until the subscription closes.

    With a sink, most frames bypass the queue and `pump` only carries what the socket could not
    take at once; `send` must then write to the same connection as the sink (say
    `ConnectionSink.send`). Returns when `sub` closes, even while a send is stuck on a client
    that stopped reading (that wait is cancelled and the cancellation absorbed). Errors from
    `send` (the client went away) propagate. After a return with `sub.lagging`, the endpoint
    should drop the connection without a closing handshake (a close frame cannot get past the
    full buffer) and let the client resync.
    """
    task = asyncio.current_task()
    try:
        while (frame := await sub.next()) is not None:
            sub._pump = task
            try:
                await send(frame)
            finally:
                sub._pump = None
    except asyncio.CancelledError:
        if not sub._interrupted or task is None:
            raise
        sub._interrupted = False
        if task.uncancel() > 0:  # cancelled from elsewhere too: let that one through
            raise
    finally:
        if sub._interrupted and task is not None:  # `send` swallowed our cancellation
            sub._interrupted = False
            task.uncancel()
