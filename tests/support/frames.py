"""Every websocket frame a test receives is checked against the socket's JSON Schema.

A pytest plugin (registered in tests/conftest.py). It wraps the receive paths the tests and
the simulator's clients use — `websockets.sync.client.ClientConnection.recv`,
`websockets.asyncio.client.ClientConnection.recv` (iteration goes through both) and the load
generator's `RawClient` — and validates each text frame from a jijiu socket against the
checked-in file of that socket under docs/schemas/, chosen by the URL path (`/ws/console`,
`/ws/units/...`, ...). A frame the schema rejects raises `FrameDrift` where it was received,
in the test's own flow; since a client running in a background task or a protocol callback
may swallow that, every rejection is also kept and fails the test at teardown.

The browser pages' own sockets are checked too: `watch_pages(browser)` (called by the
`browser` fixture in tests/support/browser.py) hooks every page of every context the tests
open and checks each frame Playwright reports the page received; a rejection there fails the
test at teardown.

Frames from paths that are no jijiu socket, and binary frames, pass unchecked.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from dispatch.service.frames.schemas import socket_for_path

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


class FrameDrift(AssertionError):
    """A frame received from a jijiu socket that its schema rejects."""


@cache
def _document(socket: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / f"{socket}.json").read_text(encoding="utf-8"))
    doc.pop("$id", None)  # resolve "#/$defs/..." within this document, wherever it is served
    return doc


@cache
def validator(socket: str, direction: str = "server_to_client") -> Draft202012Validator:
    """The validator of one socket's frames in one direction, from its checked-in file."""
    doc = _document(socket)
    return Draft202012Validator({**doc, **doc[direction]})


def problem(socket: str, frame: Any, direction: str = "server_to_client") -> str | None:
    """Why `frame` is not a valid frame of `socket`; None when it is."""
    if validator(socket, direction).is_valid(frame):
        return None
    doc = _document(socket)
    union, target, named = doc[direction], None, "frame"
    while "discriminator" in union:  # follow `type`, then `frame` for a reply, to one branch
        key = union["discriminator"]["propertyName"]
        value = frame.get(key) if isinstance(frame, dict) else None
        mapping = union["discriminator"]["mapping"]
        if value not in mapping:
            known = ", ".join(mapping)
            return f"{socket}: {named} {key} {value!r} is not in the schema (known: {known})"
        target, named = mapping[value], f"{value!r} frame"
        union = doc["$defs"][target.rsplit("/", 1)[-1]]
    branch = Draft202012Validator({**doc, "$ref": target} if target else {**doc, **union})
    error = best_match(branch.iter_errors(frame))
    where = "/".join(str(p) for p in error.absolute_path) if error is not None else ""
    what = error.message if error is not None else "invalid"
    return f"{socket}: {named} invalid at {where or '(top)'}: {what}"


class Drifts:
    """The frames rejected during the current test (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[str] = []

    def add(self, message: str) -> None:
        with self._lock:
            self._seen.append(message)

    def take(self) -> list[str]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


DRIFTS = Drifts()


def check_text(path: str, data: Any) -> None:
    """Validate one received message from a socket at URL `path`; raise `FrameDrift`."""
    socket = socket_for_path(path)
    if socket is None or not isinstance(data, str | bytes | bytearray):
        return
    try:
        frame = json.loads(data)
    except (ValueError, UnicodeDecodeError):  # a binary frame or not JSON: nothing declared
        return
    found = problem(socket, frame)
    if found is not None:
        message = f"{found}\n  frame: {str(data)[:400]}"
        DRIFTS.add(message)
        raise FrameDrift(message)


def watch_pages(browser: Any) -> None:
    """Check the frames every page of `browser` (a Playwright Browser) receives from a jijiu
    socket: each context it opens from now on hooks its pages' websockets."""
    new_context = browser.new_context

    def opened(*args: Any, **kwargs: Any) -> Any:
        context = new_context(*args, **kwargs)
        context.on("page", lambda page: page.on("websocket", _watch_socket))
        return context

    browser.new_context = opened


def _watch_socket(ws: Any) -> None:
    path = urlsplit(ws.url).path

    def received(payload: str | bytes) -> None:
        with contextlib.suppress(FrameDrift):  # kept in DRIFTS: the test fails at teardown
            check_text(path, payload)

    ws.on("framereceived", received)


def _path_of(conn: Any) -> str:
    request = getattr(conn, "request", None)
    return str(getattr(request, "path", "") or "")


def _wrap_websockets() -> list[tuple[Any, str, Any]]:
    from websockets.asyncio.client import ClientConnection as AsyncClient
    from websockets.sync.client import ClientConnection as SyncClient

    sync_recv, async_recv = SyncClient.recv, AsyncClient.recv

    def recv(self: Any, *args: Any, **kwargs: Any) -> Any:
        data = sync_recv(self, *args, **kwargs)
        check_text(_path_of(self), data)
        return data

    async def arecv(self: Any, *args: Any, **kwargs: Any) -> Any:
        data = await async_recv(self, *args, **kwargs)
        check_text(_path_of(self), data)
        return data

    SyncClient.recv = recv  # type: ignore[method-assign,assignment]
    AsyncClient.recv = arecv  # type: ignore[method-assign,assignment]
    return [(SyncClient, "recv", sync_recv), (AsyncClient, "recv", async_recv)]


def _wrap_raw_client() -> list[tuple[Any, str, Any]]:
    try:
        from simulator.load.loadgen import RawClient
    except ImportError:  # pragma: no cover - the simulator is part of the repository
        return []
    init = RawClient.__init__

    def wrapped(self: Any, request: bytes, on_message: Any) -> None:
        line = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = line[1] if len(line) > 1 else ""

        def checked(payload: bytes, now: float) -> None:
            check_text(path, payload)
            on_message(payload, now)

        init(self, request, checked)

    RawClient.__init__ = wrapped  # type: ignore[method-assign]
    return [(RawClient, "__init__", init)]


_UNDO: list[tuple[Any, str, Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    _UNDO.extend(_wrap_websockets())
    _UNDO.extend(_wrap_raw_client())


def pytest_unconfigure(config: pytest.Config) -> None:
    while _UNDO:
        owner, name, original = _UNDO.pop()
        setattr(owner, name, original)


@pytest.fixture(autouse=True)
def _frames_match_schemas() -> Iterator[None]:
    """Fail the test when any frame it received (in any thread) broke its socket's schema."""
    DRIFTS.take()
    yield
    drifts = DRIFTS.take()
    if drifts:
        shown = "\n".join(drifts[:5])
        pytest.fail(f"{len(drifts)} frame(s) broke docs/schemas:\n{shown}", pytrace=False)
