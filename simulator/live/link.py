"""One simulated client's websocket, kept open: frames in to a handler, replies matched in order.

The server answers a client's frames one at a time, in the order they came (`dispatch.ws.server`
reads a connection sequentially), with `accepted` or `error`; a position frame gets no answer.
So a FIFO of futures, one per frame that expects an answer, pairs each reply with its request.
A lock covers "append the future, write the frame" so the FIFO's order is the wire's order. A
request that times out stays in the FIFO (its reply, when it comes, is dropped), so the
pairing never slips.

Every `error` frame is counted by its reason in the run's tally: a correct simulation gets
none. A connection that drops is counted and reopened (`url()` may add `since`), at most
`max_reopen` times; pending requests then fail. Loopback only: the URL comes from the run's
endpoints.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from simulator.live.summary import Tally

Frame = dict[str, Any]
OPEN_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0
MAX_FRAME_BYTES = 16 * 2**20  # a console snapshot of a busy city is large


class Link:
    """A websocket to the server for one simulated client (console, tablet, hospital)."""

    def __init__(
        self,
        name: str,
        url: Callable[[], str],
        on_frame: Callable[[Frame], None],
        tally: Tally,
        max_reopen: int = 20,
    ) -> None:
        self.name = name
        self._url = url
        self._on_frame = on_frame
        self._tally = tally
        self._max_reopen = max_reopen
        self._ws: ClientConnection | None = None
        self._pending: deque[asyncio.Future[Frame]] = deque()
        self._lock = asyncio.Lock()
        self._closing = False
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Connect, read until `close()`, reopen after a drop; returns when closed or given up."""
        opened = 0
        while not self._closing:
            try:
                ws = await connect(
                    self._url(),
                    open_timeout=OPEN_TIMEOUT_S,
                    max_size=MAX_FRAME_BYTES,
                    close_timeout=1,
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                self._tally.error(f"{self.kind} could not connect ({type(exc).__name__})")
                ws = None
            if ws is not None:
                opened += 1
                await self._read(ws)
            if self._closing or opened > self._max_reopen:
                return
            await asyncio.sleep(0.5)

    @property
    def kind(self) -> str:
        return self.name.split()[0]

    async def _read(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.connected.set()
        try:
            async for raw in ws:
                try:
                    self._dispatch(json.loads(raw))
                except Exception as exc:  # a bug of ours, or a frame we misread: count it
                    self._tally.error(f"{self.kind} frame not handled ({type(exc).__name__})")
        except ConnectionClosed:
            pass
        finally:
            self._ws = None
            self.connected.clear()
            while self._pending:
                fut = self._pending.popleft()
                if not fut.done():
                    fut.set_exception(ConnectionError(f"{self.name}: connection closed"))
                    fut.exception()  # retrieved: a waiter may have given up already
        if not self._closing:
            code = ws.close_code
            self._tally.error(f"{self.kind} socket dropped (close code {code})")

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "error":
            self._tally.error(f"error frame {frame.get('reason')} ({self.kind})")
        if kind in ("accepted", "error") and self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_result(frame)
            return
        self._on_frame(frame)

    async def send(self, frame: Frame) -> bool:
        """Send a frame that gets no answer (a position); False when not connected."""
        return await self._write(frame, None)

    async def expect(self, frame: Frame | bytes) -> asyncio.Future[Frame] | None:
        """Send a frame (bytes: a binary one, a video picture) and return the future of its
        answer; None when not connected."""
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        return fut if await self._write(frame, fut) else None

    async def request(self, frame: Frame, timeout_s: float = 10.0) -> Frame | None:
        """Send a frame and wait for its answer; None (counted) if none came or it was refused."""
        fut = await self.expect(frame)
        if fut is None:
            self._tally.error(f"{self.kind} not connected for {frame.get('type')}")
            return None
        try:
            answer = await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            self._tally.error(f"no answer to {frame.get('type')} ({self.kind})")
            return None
        except ConnectionError:
            return None
        return answer if answer.get("type") == "accepted" else None

    async def _write(self, frame: Frame | bytes, fut: asyncio.Future[Frame] | None) -> bool:
        text = frame if isinstance(frame, bytes) else json.dumps(frame, separators=(",", ":"))
        async with self._lock:
            ws = self._ws
            if ws is None:
                return False
            if fut is not None:
                self._pending.append(fut)
            try:
                await asyncio.wait_for(ws.send(text), SEND_TIMEOUT_S)
            except (ConnectionClosed, TimeoutError, OSError):
                return False  # the reader fails the pending futures as the socket ends
        return True

    async def close(self) -> None:
        """Close for good (the run is over)."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
