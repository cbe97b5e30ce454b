"""Hostile websocket input (issue 22): a foreign `Origin`, a `since` that is no sequence number
and frames nested thousands deep are refused with 403, 4400 or 1008 and a reason, never 1011.

The pure checks (`since_of`, `origin_allowed`) are tested on their own; the rest against one
live server (Wulin, SQLite in a temporary folder) shared by the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from dispatch.settings import Settings
from dispatch.ws.guards import origin_allowed, since_of
from tests.support.server import Running, recv_until, small_server

NESTED = "[" * 5000 + "]" * 5000  # 10 kB, under the frame limit, far past json's recursion


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One small server for the module: the tests only open sockets and send bad frames."""
    yield from small_server(tmp_path_factory, "ws-hostile")


def close_of(ws: ClientConnection) -> tuple[int | None, str]:
    """The close code and reason the server sent, skipping the frames before it."""
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(50):
            ws.recv(timeout=10)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, "")


def request(origin: str | None, host: str = "127.0.0.1:8001") -> Request:
    headers = Headers({"Host": host})
    if origin is not None:
        headers["Origin"] = origin
    return Request("/ws/console", headers)


# --- pure checks ---------------------------------------------------------------------------------
def test_since_of_takes_1_to_18_ascii_digits_only() -> None:
    """ "42" is 42 and absence None; "²", "٣", "-1", "1e29", "" and 19 digits are refused."""
    assert since_of({"since": "42"}) == 42 and since_of({}) is None
    assert since_of({"since": "9" * 18}) == 10**18 - 1
    for bad in ("²", "٣", "-1", "1e29", "", " 1", "9" * 19, "1" * 26):
        with pytest.raises(ValueError):
            since_of({"since": bad})


def test_origin_allowed_same_host_loopback_or_listed() -> None:
    """No Origin, the same host on another port and loopback to loopback pass; another site,
    a garbled origin and another host under loopback do not, unless listed or "*"."""
    assert origin_allowed(request(None), ())
    assert origin_allowed(request("http://127.0.0.1:8000"), ())
    assert origin_allowed(request("http://localhost:8000"), ())
    assert origin_allowed(request("https://jijiu.example", "jijiu.example:8001"), ())
    assert not origin_allowed(request("https://evil.example"), ())
    assert not origin_allowed(request("null"), ())
    assert not origin_allowed(request("http://localhost:8000", "jijiu.example:8001"), ())
    assert origin_allowed(request("https://evil.example"), ("https://evil.example",))
    assert not origin_allowed(request("https://evil.example:8443"), ("https://evil.example",))
    assert origin_allowed(request("https://evil.example"), ("*",))


def test_ws_allowed_origins_is_read_from_the_environment() -> None:
    """JIJIU_WS_ALLOWED_ORIGINS sets the list; it is empty by default."""
    assert Settings().ws_allowed_origins == ""
    env = {"JIJIU_WS_ALLOWED_ORIGINS": "https://a.example,https://b.example"}
    assert Settings.from_env(env).ws_allowed_origins == "https://a.example,https://b.example"


# --- against the server --------------------------------------------------------------------------
def test_a_foreign_origin_is_refused_in_the_handshake(server: Running) -> None:
    """Origin https://evil.example gets 403 before any frame; the server's own page's origin
    (same host, the HTTP port) gets its snapshot."""
    url = f"ws://127.0.0.1:{server.ws_port}/ws/console?token={server.tokens['dispatcher']}"
    with pytest.raises(InvalidStatus) as info:
        connect(url, origin=Origin("https://evil.example"), open_timeout=10)
    assert info.value.response.status_code == 403
    own = Origin(f"http://127.0.0.1:{server.port}")
    with connect(url, origin=own, open_timeout=10) as ws:
        assert recv_until(ws, lambda f: True)["type"] == "snapshot"


def test_a_since_that_is_no_sequence_number_closes_with_4400(server: Running) -> None:
    """since=² (a Unicode digit) and a 26-digit since on the console's, a hospital's, a
    volunteer's and an agency's socket: 4400 and a reason, never 1011."""
    hospital_id, hospital_token = next(iter(server.tokens["hospitals"].items()))
    agency_id, agency_token = next(iter(server.tokens["agencies"].items()))
    volunteer = httpx.post(
        f"{server.http}/api/v1/volunteers",
        json={"phone": "+8613911119999"},
        headers={"Idempotency-Key": "since-1"},
    ).json()
    sockets = [
        ("/ws/console", server.tokens["dispatcher"]),
        (f"/ws/hospitals/{hospital_id}", hospital_token),
        (f"/ws/volunteers/{volunteer['volunteer_id']}", volunteer["token"]),
        (f"/ws/agencies/{agency_id}", agency_token),
    ]
    for path, token in sockets:
        for since in ("%C2%B2", "1" * 26):
            with server.ws(path, token, since=since) as ws:
                assert close_of(ws) == (4400, "since is a sequence number"), (path, since)


def test_deeply_nested_frames_close_with_1008(server: Running) -> None:
    """A 5,000-deep frame and a 40-deep one on a unit's and a hospital's socket: 1008 "frame
    nested too deeply", never 1011; a 30-deep one is an ordinary refused frame."""
    hospital_id, hospital_token = next(iter(server.tokens["hospitals"].items()))
    unit_id, unit_token = next(iter(server.tokens["units"].items()))
    sockets = [
        (f"/ws/units/{unit_id}", unit_token),
        (f"/ws/hospitals/{hospital_id}", hospital_token),
    ]
    for path, token in sockets:
        for frame in (NESTED, '{"type": ' + "[" * 40 + "]" * 40 + "}"):
            with server.ws(path, token) as ws:
                assert recv_until(ws, lambda f: f["type"] == "snapshot")
                ws.send(frame)
                assert close_of(ws) == (1008, "frame nested too deeply"), path
        with server.ws(path, token) as ws:
            assert recv_until(ws, lambda f: f["type"] == "snapshot")
            ws.send('{"type": ' + "[" * 30 + "]" * 30 + "}")
            assert recv_until(ws, lambda f: f["type"] == "error")["reason"] == "invalid_event"
