"""The websockets' door against hostile input: which browser origins may open a socket, what a
`since` may be, and how deeply a client frame may nest.

Each refusal is a clear answer, never an internal error (1011): a foreign `Origin` gets 403 in
the handshake, a `since` that is not 1-18 ASCII digits a 4400 close ("²" is a digit to
`str.isdigit`, and 26 digits overflow the store), a frame nested past `MAX_FRAME_DEPTH` (or past
JSON's parser) a 1008 close (`dispatch.ws.server`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.http11 import Request

MAX_SEQ = 2**63 - 1  # SQLite's INTEGER: a larger `since` could never be a seq of ours
SINCE_DIGITS = 18  # at most 18 ASCII digits: always below MAX_SEQ
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_FRAME_DEPTH = 32  # no frame of ours nests deeper than 4; a deeper one is refused


class FrameRefused(Exception):
    """A client frame the socket will not read: the socket closes with 1008 and this text."""


def since_of(query: Mapping[str, str]) -> int | None:
    """The query's `since` (None: absent); ValueError unless 1-18 ASCII digits ("²" is a
    digit to `str.isdigit`, and a 26-digit one overflows the store)."""
    since = query.get("since")
    if since is None:
        return None
    if not (since.isascii() and since.isdigit() and len(since) <= SINCE_DIGITS):
        raise ValueError("since is a sequence number")
    return int(since)


def origin_allowed(request: Request, allowed: tuple[str, ...]) -> bool:
    """A browser's `Origin` is allowed when its host is the one it reached us by (the `Host`
    header), both are loopback, or it is listed (`*`: any); no `Origin` (not a browser) is."""
    origin = request.headers.get("Origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    origin_host = urlsplit(origin).hostname
    host = urlsplit("//" + request.headers.get("Host", "")).hostname
    if origin_host is None or host is None:
        return False
    return origin_host == host or (origin_host in LOOPBACK and host in LOOPBACK)


def too_deep(raw: str | bytes, frame: Any) -> bool:
    """True if a parsed frame nests lists and objects deeper than MAX_FRAME_DEPTH; only a
    frame holding more `[` and `{` than that (counted in C) pays for the walk."""
    return _brackets(raw) > MAX_FRAME_DEPTH and _too_deep(frame)


def _brackets(raw: str | bytes) -> int:
    """How many `[` and `{` a frame holds, counted in C: its depth is at most this, so only a
    frame with more pays for `_too_deep`'s walk."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def _too_deep(value: Any) -> bool:
    """True if a parsed frame nests lists and objects deeper than MAX_FRAME_DEPTH (a loop,
    not recursion: the check must not fail the way it guards against)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_FRAME_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False
