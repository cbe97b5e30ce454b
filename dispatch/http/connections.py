"""Slow and greedy HTTP clients: a request head and body read timeout, and a cap on open
connections per client address, as a subclass of uvicorn's HTTP protocol.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but waits for ever on a
client that sends half a request head and stalls (slowloris): 500 of those hold 500 sockets,
and a body that never ends holds a request. `guarded_protocol(settings)` returns the protocol
class `jijiu serve` hands to uvicorn (`http=`), which adds three rules on top of the one uvicorn
would pick (httptools, else h11):

- a request head not complete `header_timeout_s` after the connection opened, or after the
  first byte of a later request on it, is answered 408 `request_timeout` and closed;
- a body not received whole `body_timeout_s` after its head is cut the same way;
- an address holding `max_conn_per_ip` connections (loopback included; 0: no cap) gets 429
  `too_many_connections` with Retry-After on the next one, closed before it is read.

The rules act on the connection only: the ASGI app and its tests never see them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from dispatch.settings import Settings

logger = logging.getLogger("jijiu.http.connections")


@dataclass(frozen=True)
class ConnectionLimits:
    """The three rules' parameters: seconds for a head and a body, connections per address."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_per_ip: int = 64  # 0: no cap

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.max_per_ip < 0:
            raise ValueError("max_per_ip must be 0 (no cap) or more")

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.header_timeout_s, settings.body_timeout_s, settings.max_conn_per_ip)


def refusal(status: int, phrase: str, reason: str, detail: str, retry_after_s: int = 0) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection: `{"reason", "detail"}` as JSON."""
    body = json.dumps({"reason": reason, "detail": detail}).encode()
    retry = f"Retry-After: {retry_after_s}\r\n" if retry_after_s else ""
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n{retry}"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


HEAD_LATE = refusal(408, "Request Timeout", "request_timeout", "the request head came too slowly")
BODY_LATE = refusal(408, "Request Timeout", "request_timeout", "the request body came too slowly")
TOO_MANY = refusal(
    429, "Too Many Requests", "too_many_connections", "too many connections from here", 1
)


def _base_protocol() -> type[asyncio.Protocol]:
    """The HTTP protocol uvicorn's `http="auto"` would pick: httptools if installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with the head and body timeouts and the per-address cap; the
    open connections per address are counted in this class (one per server)."""
    base: Any = _base_protocol()
    open_by_ip: Counter[str] = Counter()

    class Guarded(base):  # type: ignore[misc]
        """One connection: uvicorn's protocol, a timer for the phase it waits in, its count."""

        open_by_ip: Counter[str]  # the open connections per address, shared by the class
        _refused = False
        _ip: str | None = None
        _timer: asyncio.TimerHandle | None = None
        _phase: str | None = None  # "head", "body" or None (a request running, or idle)
        _seen: Any = None  # the request cycle whose head we last saw complete

        def connection_made(self, transport: Any) -> None:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
            if limits.max_per_ip and open_by_ip[ip] >= limits.max_per_ip:
                self._refused = True
                transport.write(TOO_MANY)
                transport.close()
                return
            open_by_ip[ip] += 1
            self._ip = ip
            super().connection_made(transport)
            self._arm("head")

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and cycle is not self._seen:  # a new request's head is in
                self._seen = cycle
                self._arm("body" if cycle.more_body else None)
            elif self._phase == "body" and cycle is not None and not cycle.more_body:
                self._arm(None)
            elif self._phase is None and (cycle is None or cycle.response_complete):
                self._arm("head")  # the first bytes of the next request on this connection

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            self._arm(None)
            if self._ip is not None:
                open_by_ip[self._ip] -= 1
                if open_by_ip[self._ip] <= 0:
                    del open_by_ip[self._ip]
                self._ip = None
            super().connection_lost(exc)

        def _arm(self, phase: str | None) -> None:
            """Wait for `phase` ("head" or "body") to complete, or for nothing (None)."""
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._phase = phase
            if phase is not None:
                delay = limits.header_timeout_s if phase == "head" else limits.body_timeout_s
                self._timer = self.loop.call_later(delay, self._late)

        def _late(self) -> None:
            """The phase's time is up: 408 (unless an answer has begun), then close."""
            self._timer = None
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            cycle = self.cycle
            if self._phase == "head":
                transport.write(HEAD_LATE)
            elif cycle is None or not cycle.response_started:
                transport.write(BODY_LATE)
            logger.debug("closed a connection: request %s too slow", self._phase)
            self._phase = None
            transport.close()

    Guarded.open_by_ip = open_by_ip
    return Guarded
