"""A websockets connection as the hub's `Sink`: synchronous writes while the socket keeps up.

`ConnectionSink` lets `Hub.publish` frame a message straight into a `websockets.asyncio`
connection's Sans-I/O protocol, the way `websockets.broadcast()` does, and tells the hub when it
must queue instead: the connection is closing, the transport is above its high-water mark (asyncio
flow control paused it), or a fragmented message is being sent (a frame written then would land
between its fragments). Its `send` is the awaited path `pump` uses for queued frames.

The framed bytes reach the socket once per loop step, not once per frame: a call publishes four
or five frames to every console in one step, and a write to a socket is a system call, the
largest single cost of fan-out (a profile of the load test put it at a fifth of the loop's time).
`write` leaves the frame in the protocol's outgoing buffer and marks the sink; one callback at the
end of the step hands each marked connection's buffer to its transport in one `writelines`.
Order is kept: anything websockets itself sends meanwhile (a queued frame, a ping, a close)
flushes the same buffer first.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.connection import Connection
from websockets.protocol import OPEN

# Per event loop (tests run servers on loops in other threads): the sinks with frames framed
# but not yet written, and whose flush is scheduled on that loop.
_dirty: dict[asyncio.AbstractEventLoop, dict[ConnectionSink, None]] = {}


def _flush(loop: asyncio.AbstractEventLoop) -> None:
    """Hand every marked connection's framed bytes to its transport, one write each."""
    for sink in _dirty.pop(loop, ()):
        sink.flush()


class ConnectionSink:
    """Adapts one server-side websockets connection to `dispatch.live.hub.Sink`, sending text
    frames."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def writable(self) -> bool:
        """Open, not paused by flow control and no fragmented send under way (as broadcast())."""
        conn = self.connection
        return conn.protocol.state is OPEN and not conn.paused and conn.send_in_progress is None

    def write(self, frame: bytes) -> None:
        """Frame the UTF-8 JSON bytes as one text message; they reach the transport at the end
        of this loop step (`flush`), with the other frames written to this connection in it."""
        self.connection.protocol.send_text(frame)
        loop = asyncio.get_running_loop()
        marked = _dirty.get(loop)
        if marked is None:
            marked = _dirty[loop] = {}
            loop.call_soon(_flush, loop)
        marked[self] = None

    def flush(self) -> None:
        """Write what the protocol holds for the socket in one call; at its end-of-stream
        marker (a closing connection), half-close as websockets' `send_data` does."""
        conn = self.connection
        data = conn.protocol.data_to_send()
        if not data:
            return
        end = not data[-1]  # SEND_EOF (b""), only ever last: the connection is closing
        conn.transport.writelines([chunk for chunk in data if chunk])
        if end:  # as websockets' send_data: half-close when the transport can, else close
            if conn.transport.can_write_eof():
                conn.transport.write_eof()
            else:
                conn.transport.close()

    async def send(self, frame: bytes) -> None:
        """The awaited send for `pump`: waits while the transport is paused (flow control)."""
        await self.connection.send(frame, text=True)
