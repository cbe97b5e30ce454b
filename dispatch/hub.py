"""The websocket fan-out: per-topic sequence numbers, history for resumption, one queue per client.

`Hub.publish` encodes a message once, numbers it, keeps it in the topic's history and puts the
same bytes on every subscriber's bounded queue without awaiting, so a slow client never slows the
publisher or the other clients (STYLE §5; the relay-queue pattern of websockets'
docs/topics/broadcast.rst). A frame with a `coalesce` key (a unit's position, "pos:A1") replaces
the still-unsent frame with the same key, which leaves the queue and the new frame joins its tail:
positions drop the oldest, every other frame is kept, and a client always receives one topic's
frames in increasing seq, so "the last seq I saw" is a safe point to resume from. A subscriber
whose queue is full is marked `lagging` and closed; it reconnects with `since` and gets the frames
it missed from history, or a snapshot when history no longer holds them all.

`pump` forwards one subscription to one socket. Pure asyncio: the app hands it the framework's
send (`websocket.send_bytes`), so this module imports no web framework and runs single-threaded
on the event loop (publish from the loop's thread).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

logger = logging.getLogger(__name__)


class _Slot:
    """One queued frame; `frame` None marks a position superseded by a newer one."""

    __slots__ = ("frame", "key")

    def __init__(self, frame: bytes, key: str | None) -> None:
        self.frame: bytes | None = frame
        self.key = key


class Subscription:
    """One client's view of one or more topics: a bounded queue read with `next()`."""

    def __init__(self, hub: Hub, topics: tuple[str, ...], queue_size: int) -> None:
        self.topics = topics
        self.queue_size = queue_size
        self.lagging = False
        self.closed = False
        self.needs_snapshot = False
        self._hub = hub
        self._queue: deque[_Slot] = deque()
        self._keyed: dict[str, _Slot] = {}  # coalesce key -> its unsent slot in _queue
        self._live = 0  # frames in _queue not superseded: what queue_size bounds
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[Any] | None = None  # the task pumping us, while in a send
        self._interrupted = False

    @property
    def pending(self) -> int:
        """Frames queued and not yet taken by `next()`."""
        return self._live

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

    async def next(self) -> bytes | None:
        """The next frame, waiting for one; None once closed (lagging or unsubscribed)."""
        while not self.closed:
            while self._queue:
                slot = self._queue.popleft()
                if slot.frame is None:
                    continue
                if slot.key is not None:
                    del self._keyed[slot.key]
                self._live -= 1
                return slot.frame
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

    def __init__(self, queue_size: int = 256, history: int = 1024) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if history < 0:
            raise ValueError(f"history must not be negative, got {history}")
        self.queue_size = queue_size
        self.history = history
        self._seq: dict[str, int] = {}
        self._frames: dict[str, deque[tuple[bytes, str | None]]] = {}  # last `history` frames
        self._subs: dict[str, dict[Subscription, None]] = {}  # insertion-ordered sets

    def publish(self, topic: str, message: Mapping[str, Any], coalesce: str | None = None) -> int:
        """Number, encode once and queue a message for every subscriber of `topic`; its seq."""
        if "seq" in message or "topic" in message:
            raise ValueError("message must not carry its own 'seq' or 'topic'")
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        frame = json.dumps(
            {"seq": seq, "topic": topic, **message}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        if self.history:
            kept = self._frames.get(topic)
            if kept is None:
                kept = self._frames[topic] = deque(maxlen=self.history)
            kept.append((frame, coalesce))
        subs = self._subs.get(topic)
        if subs:
            lagging = [sub for sub in subs if not sub._offer(frame, coalesce)]
            for sub in lagging:
                sub.lagging = True
                logger.warning(
                    "subscriber of %s fell %d frames behind on %s (seq %d); disconnected",
                    ",".join(sub.topics), sub.queue_size, topic, seq,
                )  # fmt: skip
                sub.close()
        return seq

    def subscribe(
        self,
        topics: Iterable[str],
        since: Mapping[str, int] | None = None,
        queue_size: int | None = None,
    ) -> Subscription:
        """Subscribe to topics; with `since` (topic -> last seq seen) replay what was missed.

        The replay is all or nothing: when history no longer holds every missed frame of every
        topic in `since` (or they would not fit in the queue, or a seq is from before a restart),
        nothing is replayed and `needs_snapshot` is True. The caller then sends a snapshot first,
        built in the same loop step (no await in between) and stamped with `last_seq(topic)`, so
        it lines up with the live frames that follow.
        """
        names = tuple(dict.fromkeys(topics))
        if not names:
            raise ValueError("subscribe needs at least one topic")
        size = self.queue_size if queue_size is None else queue_size
        if size < 1:
            raise ValueError(f"queue_size must be at least 1, got {size}")
        sub = Subscription(self, names, size)
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
    """Send every frame of `sub` with `send` until the subscription closes.

    Returns when `sub` closes, even while a send is stuck on a client that stopped reading (that
    wait is cancelled and the cancellation absorbed). Errors from `send` (the client went away)
    propagate. After a return with `sub.lagging`, the endpoint should drop the connection without
    a closing handshake (a close frame cannot get past the full buffer) and let the client resync.
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
