"""A websockets connection as the hub's `Sink`: synchronous writes while the socket keeps up.

`ConnectionSink` lets `Hub.publish` put a frame straight into a `websockets.asyncio` connection's
outgoing bytes, the way `websockets.broadcast()` does, and tells the hub when it must queue
instead: the connection is closing, the transport is above its high-water mark (asyncio flow
control paused it), or a fragmented message is being sent (a frame written then would land
between its fragments). Its `send` is the awaited path `pump` uses for queued frames.

Two things make fan-out to many consoles cheap (a profile of the load test at 150-200 calls/s
with 50 consoles put the per-frame, per-connection work at a third of the event loop's time):

- A frame is serialised once for every connection. The server sends text frames unmasked and
  with no extension (compression is off, `dispatch.ws.server`), so the bytes on the wire are the
  same for every client: `write` builds them on the first connection that gets a given message
  and the others reuse them.
- A connection's frames reach the socket once per loop step, not once per frame: a call
  publishes four or five frames to every console in one step, and a write to a socket is a
  system call. `write` keeps the bytes and marks the sink; one callback at the end of the step
  hands each marked connection its bytes in one `writelines`.

Order is kept: the awaited `send` (queued frames) flushes what is kept first, and a connection
that left OPEN before the flush (closing) gets nothing more, as websockets itself would refuse
to send on it. Control frames websockets sends meanwhile (a pong) may go first: that is allowed
between whole messages.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.connection import Connection
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

# Per event loop (tests run servers on loops in other threads): the sinks with bytes kept for
# the end of the step, whose flush is scheduled on that loop.
_dirty: dict[asyncio.AbstractEventLoop, dict[ConnectionSink, None]] = {}
_last: tuple[bytes, bytes] = (b"", b"")  # the last message written and its wire bytes


def _wire(message: bytes) -> bytes:
    """The unmasked text frame of `message`, built once for all the connections it goes to
    (the hub hands every subscriber the same bytes object)."""
    global _last
    if _last[0] is message:
        return _last[1]
    wire = Frame(Opcode.TEXT, message).serialize(mask=False)
    _last = (message, wire)
    return wire


def _flush(loop: asyncio.AbstractEventLoop) -> None:
    """Hand every marked connection its kept bytes, one write each."""
    for sink in _dirty.pop(loop, ()):
        sink.flush()


class ConnectionSink:
    """Adapts one server-side websockets connection to `dispatch.live.hub.Sink`, sending text
    frames."""

    __slots__ = ("_kept", "_shared", "connection")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._kept: list[bytes] = []  # wire bytes waiting for the end of the loop step
        # Shared wire bytes only when nothing rewrites a frame per connection (an extension).
        self._shared = not connection.protocol.extensions

    def writable(self) -> bool:
        """Open, not paused by flow control and no fragmented send under way (as broadcast())."""
        conn = self.connection
        return conn.protocol.state is OPEN and not conn.paused and conn.send_in_progress is None

    def write(self, frame: bytes) -> None:
        """Keep the UTF-8 JSON bytes as one text message; they reach the transport at the end
        of this loop step (`flush`), with the other frames written to this connection in it."""
        if not self._shared:  # framed by the protocol, which applies the extensions
            conn = self.connection
            conn.protocol.send_text(frame)
            conn.send_data()
            return
        self._kept.append(_wire(frame))
        loop = asyncio.get_running_loop()
        marked = _dirty.get(loop)
        if marked is None:
            marked = _dirty[loop] = {}
            loop.call_soon(_flush, loop)
        marked[self] = None

    def flush(self) -> None:
        """Write the kept frames in one call, if the connection is still open."""
        kept, self._kept = self._kept, []
        if kept and self.connection.protocol.state is OPEN:
            self.connection.transport.writelines(kept)

    async def send(self, frame: bytes) -> None:
        """The awaited send for `pump`: waits while the transport is paused (flow control).
        Frames kept for the end of the step go first."""
        self.flush()
        await self.connection.send(frame, text=True)
