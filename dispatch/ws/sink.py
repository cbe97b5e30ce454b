"""A websockets connection as the hub's `Sink`: synchronous writes while the socket keeps up.

`ConnectionSink` lets `Hub.publish` write a frame straight into a `websockets.asyncio`
connection's write buffer, the way `websockets.broadcast()` does, and tells the hub when it must
queue instead: the connection is closing, the transport is above its high-water mark (asyncio
flow control paused it), or a fragmented message is being sent (a frame written then would land
between its fragments). Its `send` is the awaited path `pump` uses for queued frames.
"""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.protocol import OPEN


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
        """Frame the UTF-8 JSON bytes as one text message and hand them to the transport now."""
        conn = self.connection
        conn.protocol.send_text(frame)
        conn.send_data()

    async def send(self, frame: bytes) -> None:
        """The awaited send for `pump`: waits while the transport is paused (flow control)."""
        await self.connection.send(frame, text=True)
