"""Live data over real loopback sockets: traffic jams, a caller's further fixes, the dispatcher's
location, and a console that stops reading.

The `TrafficBook` tests at the top are pure (no server). The rest start uvicorn in a thread the
way tests/dispatch/service/test_server.py does (Wulin network, SQLite log in tmp_path, four
units), with the helpers of tests/support/server.py. No test asserts on timing: waits are polls
with a hang guard.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from websockets.sync.client import connect

from dispatch.core.model import IncidentId, UnitId
from dispatch.core.traffic import MAX_ENTRIES, TooManyEntries, TrafficBook
from dispatch.errors import InvalidEvent
from dispatch.http.app import create_app
from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from tests.support.server import (
    ELSEWHERE,
    HERE,
    Running,
    auth,
    new_call,
    recv_until,
    start,
)

# The whole Wulin network (lon 120.143..120.185, lat 30.260..30.293) as a GeoJSON ring.
WULIN = [[120.14, 30.25], [120.19, 30.25], [120.19, 30.30], [120.14, 30.30], [120.14, 30.25]]


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# --- TrafficBook: pure ------------------------------------------------------------------------
def test_book_factor_is_the_newest_entry_covering_each_edge() -> None:
    """A (edges 1-3, x2) then B (edges 3-4, x5): edges 1,2 -> 2, 3,4 -> 5, 5 -> free flow."""
    book = TrafficBook()
    a = book.add("edges", ids(1, 2, 3), 2.0, now_s=0.0, expires_in_s=10.0)
    b = book.add("edges", ids(4, 3, 3), 5.0, now_s=1.0, expires_in_s=20.0)
    assert (a.entry_id, b.entry_id, list(b.edges)) == ("T1", "T2", [3, 4])
    assert list(book.factors(ids(1, 2, 3, 4, 5))) == [2.0, 2.0, 5.0, 5.0, 1.0]


def test_book_expiry_restores_exactly_the_edges_the_entry_set() -> None:
    """A expires at 10: its edges 1,2 go to free flow, 3 keeps B's x5; edge 4 is not touched."""
    book = TrafficBook()
    book.add("edges", ids(1, 2, 3), 2.0, 0.0, 10.0)
    book.add("edges", ids(3, 4), 5.0, 1.0, 20.0)
    assert book.expire(9.9) == []
    restores = {r.factor: list(r.edges) for r in book.expire(10.0)}
    assert restores == {1.0: [1, 2], 5.0: [3]}
    assert [e.entry_id for e in book.active()] == ["T2"]
    assert {r.factor: list(r.edges) for r in book.expire(21.0)} == {1.0: [3, 4]}
    assert len(book) == 0


def test_book_newer_entry_expiring_first_falls_back_to_the_older_one() -> None:
    """Old x3 until 100, newer x8 until 5 on edge 7: after 5 the edge is back to x3."""
    book = TrafficBook()
    book.add("street", ids(7), 3.0, 0.0, 100.0, street="文三路")
    book.add("edges", ids(7), 8.0, 1.0, 4.0)
    assert list(book.factors(ids(7))) == [8.0]
    assert [(list(r.edges), r.factor) for r in book.expire(5.0)] == [([7], 3.0)]


def test_book_refuses_bad_entries_and_too_many() -> None:
    """Factor 0 or NaN and a non-positive lifetime are refused; entry MAX_ENTRIES+1 is 429."""
    book = TrafficBook()
    for factor, life in ((0.0, 1.0), (math.nan, 1.0), (1001.0, 1.0), (2.0, 0.0)):
        with pytest.raises(InvalidEvent):
            book.add("edges", ids(1), factor, 0.0, life)
    for _ in range(MAX_ENTRIES):
        book.add("edges", ids(1), 2.0, 0.0, 1.0)
    with pytest.raises(TooManyEntries):
        book.add("edges", ids(1), 2.0, 0.0, 1.0)


# --- helpers for the server tests ---------------------------------------------------------------
class Captured:
    """Starts a server whose service the test can read (routes, the hub) between requests."""

    def __init__(self, hub_queue: int | None = None) -> None:
        self.svc: DispatchService | None = None
        self.hub_queue = hub_queue

    def __call__(self, config: Settings, hub: Hub) -> DispatchService:
        if self.hub_queue is not None:
            hub = Hub(queue_size=self.hub_queue)
        self.svc = DispatchService.open(config, hub)
        return self.svc


@pytest.fixture
def captured(settings: Settings) -> Iterator[tuple[Running, DispatchService]]:
    """A started server and its service object."""
    opener = Captured()
    running = start(settings, opener)
    assert opener.svc is not None
    yield running, opener.svc
    running.stop()


def etas(live: Running, iid: str) -> dict[str, float]:
    r = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/recommendations",
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    return {o["unit_id"]: o["eta_s"] for o in r.json()}


def post_traffic(live: Running, body: Any, token: str | None = None) -> httpx.Response:
    token = live.tokens["traffic"] if token is None else token
    return httpx.post(
        f"{live.http}/api/v1/traffic", json=body, headers=auth(token) if token else {}
    )


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll until `check()` holds; the deadline only guards against a hang."""
    deadline = time.monotonic() + 60
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def longest_street_on_route(svc: DispatchService, unit_id: str, iid: str) -> str:
    unit = svc.engine.units[UnitId(unit_id)]
    inc = svc.engine.incidents[IncidentId(iid)]
    route = svc.router.route(unit.position, inc.position)
    assert route is not None
    named = [leg for leg in route.legs if leg.name]
    return str(max(named, key=lambda leg: leg.length_m).name)


# --- traffic ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["edges", "area", "street"])
def test_traffic_slows_the_recommended_etas(
    captured: tuple[Running, DispatchService], kind: str
) -> None:
    """A x4 jam by edge ids, area or street on the best unit's route raises its ETA at once."""
    live, svc = captured
    iid = new_call(live, f"jam-{kind}").json()["incident_id"]
    before = etas(live, iid)
    best = min(before, key=lambda u: before[u])
    targets: dict[str, dict[str, Any]] = {
        "edges": {"edges": list(range(svc.router.net.n_edges))},
        "area": {"area": {"type": "Polygon", "coordinates": [WULIN]}},
        "street": {"street": longest_street_on_route(svc, best, iid)},
    }
    target = targets[kind]
    r = post_traffic(live, {"factor": 4.0, "expires_in_s": 3600, **target})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["id"] == "T1" and made["edges"] > 0 and made["kind"] == kind
    assert made["expires_at_s"] == pytest.approx(made["added_at_s"] + 3600)
    after = etas(live, iid)
    assert after[best] > before[best]
    listed = httpx.get(
        f"{live.http}/api/v1/traffic", headers=auth(live.tokens["dispatcher"])
    ).json()
    assert [e["id"] for e in listed] == ["T1"]


def test_traffic_expires_on_the_tick_back_to_the_older_jam(
    captured: tuple[Running, DispatchService],
) -> None:
    """x3 for an hour, then x9 for 0.3 s on all edges: after the tick ETAs are the x3 ones."""
    live, _ = captured
    iid = new_call(live, "expire-1").json()["incident_id"]
    free = etas(live, iid)
    every = {"area": {"type": "Polygon", "coordinates": [WULIN]}}
    assert post_traffic(live, {"factor": 3.0, "expires_in_s": 3600, **every}).status_code == 201
    slow = etas(live, iid)
    assert post_traffic(live, {"factor": 9.0, "expires_in_s": 0.3, **every}).status_code == 201
    assert all(slow[u] > free[u] for u in free)

    def only_the_hour_long_jam_left() -> bool:
        listed = httpx.get(f"{live.http}/api/v1/traffic", headers=auth(live.tokens["traffic"]))
        return [e["id"] for e in listed.json()] == ["T1"]

    wait_for(only_the_hour_long_jam_left, "the 0.3 s jam expired")
    assert etas(live, iid) == pytest.approx(slow)


def test_traffic_roles(captured: tuple[Running, DispatchService]) -> None:
    """Traffic feed and dispatcher may post and list; a caller or unit 403; no token 401."""
    live, _ = captured
    call = new_call(live, "roles-1").json()
    body = {"factor": 2.0, "expires_in_s": 60, "street": "文三路"}
    for token, status in (
        (live.tokens["traffic"], 201),
        (live.tokens["dispatcher"], 201),
        (call["caller_token"], 403),
        (live.tokens["units"]["ALS01"], 403),
        ("", 401),
        ("not-a-token-at-all", 401),
    ):
        r = post_traffic(live, body, token)
        assert r.status_code == status, (token[:4], r.text)
        r = httpx.get(f"{live.http}/api/v1/traffic", headers=auth(token) if token else {})
        assert r.status_code == (200 if status == 201 else status)


def test_bad_traffic_bodies_are_4xx_never_500(captured: tuple[Running, DispatchService]) -> None:
    """Factor 0/NaN/1001, two targets, none, 200k edges, lat 95, bow-tie, unknown ids: 4xx."""
    live, svc = captured
    ok = {"factor": 2.0, "expires_in_s": 60}
    square = {"type": "Polygon", "coordinates": [WULIN]}
    bowtie = [[120.15, 30.27], [120.17, 30.28], [120.17, 30.27], [120.15, 30.28], [120.15, 30.27]]
    ring_2001 = [
        [round(120.15 + 0.01 * math.cos(t / 400), 5), round(30.27 + 0.01 * math.sin(t / 400), 5)]
        for t in range(2001)
    ]
    cases: list[tuple[Any, int, str]] = [
        ({**ok, "factor": 0, "street": "文三路"}, 422, "invalid_request"),
        ({**ok, "factor": 1001, "street": "文三路"}, 422, "invalid_request"),
        ({**ok, "expires_in_s": 0, "street": "文三路"}, 422, "invalid_request"),
        ({**ok, "expires_in_s": 86_401, "street": "文三路"}, 422, "invalid_request"),
        ({**ok, "street": "文三路", "edges": [1]}, 422, "invalid_request"),
        ({**ok, "street": "文三路", "area": square}, 422, "invalid_request"),
        (ok, 422, "invalid_request"),
        ({**ok, "edges": []}, 422, "invalid_request"),
        ({**ok, "edges": [-1]}, 422, "invalid_request"),
        ({**ok, "edges": list(range(200_000))}, 413, "body_too_large"),
        ({**ok, "street": "x" * 65}, 422, "invalid_request"),
        ({**ok, "street": "文三路", "lanes": 2}, 422, "invalid_request"),
        (
            {**ok, "area": {**square, "coordinates": [[[120.15, 95], *WULIN]]}},
            422,
            "invalid_request",
        ),
        ({**ok, "area": {"type": "Point", "coordinates": [120.15, 30.27]}}, 422, "invalid_request"),
        ({**ok, "area": {**square, "coordinates": [WULIN[:3]]}}, 422, "invalid_request"),
        ({**ok, "area": {**square, "coordinates": [ring_2001]}}, 422, "invalid_request"),
        ({**ok, "area": {**square, "coordinates": [bowtie]}}, 422, "invalid_area"),
        ({**ok, "edges": [svc.router.net.n_edges]}, 404, "unknown_edge"),
        ({**ok, "street": "不存在路"}, 404, "unknown_street"),
    ]
    for body, status, reason in cases:
        r = post_traffic(live, body)
        assert (r.status_code, r.json()["reason"]) == (status, reason), (str(body)[:80], r.text)
    nan = json.dumps({**ok, "street": "文三路"}).replace("2.0", "NaN")
    r = httpx.post(
        f"{live.http}/api/v1/traffic",
        content=nan,
        headers={**auth(live.tokens["traffic"]), "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["reason"]) == (422, "invalid_request")
    assert (
        httpx.get(f"{live.http}/api/v1/traffic", headers=auth(live.tokens["traffic"])).json() == []
    )


# --- a caller's further fixes -------------------------------------------------------------------
def post_fix(live: Running, iid: str, token: str, fix: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{live.http}/api/v1/calls/{iid}/fixes", json={"fix": fix}, headers=auth(token)
    )


def test_another_fix_moves_the_estimate_and_the_console_hears(
    captured: tuple[Running, DispatchService],
) -> None:
    """A 5 m fix 700 m away: 200 located, the incident moves, console gets incident.located."""
    live, _ = captured
    call = new_call(live, "fix-1").json()
    iid = call["incident_id"]
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
        r = post_fix(live, iid, call["caller_token"], {**ELSEWHERE, "accuracy_m": 5})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["located"] is True
        assert abs(answer["estimate"]["lat"] - ELSEWHERE["lat"]) < 0.002
        heard = recv_until(console, lambda f: f["type"] == "incident.located")
        assert heard["incident_id"] == iid and heard["by"] == "caller"
        assert heard["estimate"]["lat"] == answer["estimate"]["lat"]
        assert "conflict" in heard["estimate"] and heard["estimate"]["description"]
        again = recv_until(console, lambda f: f["type"] == "incident.recommended")
        assert again["incident_id"] == iid and again["seq"] > heard["seq"]
    seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(call["caller_token"]))
    assert seen.json()["place"]["lat"] == answer["estimate"]["lat"]


def test_a_tighter_fix_at_the_same_spot_relocates(
    captured: tuple[Running, DispatchService],
) -> None:
    """The same spot at 3 m instead of 12 m: located, and the 95 % radius shrinks."""
    live, _ = captured
    call = new_call(live, "fix-2").json()
    r = post_fix(live, call["incident_id"], call["caller_token"], {**HERE, "accuracy_m": 3})
    assert r.status_code == 200, r.text
    assert r.json()["located"] is True
    assert r.json()["estimate"]["radius95_m"] < call["estimate"]["radius95_m"]


def test_fixes_only_from_that_incidents_caller(captured: tuple[Running, DispatchService]) -> None:
    """Another caller, the dispatcher or a unit: the same 404 as a missing incident; none: 401."""
    live, _ = captured
    a = new_call(live, "fixacc-a").json()
    b = new_call(live, "fixacc-b", fix=ELSEWHERE).json()
    for token in (b["caller_token"], live.tokens["dispatcher"], live.tokens["units"]["ALS01"]):
        r = post_fix(live, a["incident_id"], token, HERE)
        assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    r = post_fix(live, "Inope", a["caller_token"], HERE)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    r = httpx.post(f"{live.http}/api/v1/calls/{a['incident_id']}/fixes", json={"fix": HERE})
    assert r.status_code == 401
    for fix in (
        {**HERE, "lat": 95},
        {**HERE, "accuracy_m": 0},
        {**HERE, "lat": 39.9, "lon": 116.4},
    ):
        r = post_fix(live, a["incident_id"], a["caller_token"], fix)
        assert r.status_code == 422, r.text
        assert r.json()["reason"] in ("invalid_request", "invalid_event")


# --- the dispatcher's location --------------------------------------------------------------------
def place(live: Running, iid: str, body: Any, token: str | None = None) -> httpx.Response:
    token = live.tokens["dispatcher"] if token is None else token
    return httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/location", json=body, headers=auth(token)
    )


def test_dispatcher_places_by_words_then_by_pin(captured: tuple[Running, DispatchService]) -> None:
    """Words geocode near 文三路; a pin lands exactly; then a caller fix no longer moves it."""
    live, _ = captured
    call = new_call(live, "place-1", fix=ELSEWHERE).json()
    iid = call["incident_id"]
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
        r = place(live, iid, {"spoken": "文三路学院路口"})
        assert r.status_code == 200, r.text
        assert abs(r.json()["place"]["lat"] - 30.2802) < 0.003
        heard = recv_until(console, lambda f: f["type"] == "incident.located")
        assert heard["by"] == "dispatcher" and heard["incident_id"] == iid
    r = place(live, iid, {"pin": {"lat": 30.2750, "lon": 120.1600}})
    assert r.status_code == 200, r.text
    got = r.json()["place"]
    assert (got["lat"], got["lon"], got["radius95_m"]) == (30.2750, 120.1600, 25.0)
    r = post_fix(live, iid, call["caller_token"], {**HERE, "accuracy_m": 3})
    assert r.status_code == 200 and r.json()["located"] is False
    seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    assert seen.json()["place"]["lat"] == 30.2750


def test_bad_dispatcher_locations(captured: tuple[Running, DispatchService]) -> None:
    """No match 422, off the map 422, both or neither 422, unknown 404, a caller 403."""
    live, _ = captured
    call = new_call(live, "place-2").json()
    iid = call["incident_id"]
    pin = {"lat": 30.2750, "lon": 120.1600}
    for body, status, reason in (
        ({"spoken": "xyzzy"}, 422, "no_match"),
        ({"pin": {"lat": 39.9, "lon": 116.4}}, 422, "invalid_event"),
        ({"pin": {"lat": 95, "lon": 120.1}}, 422, "invalid_request"),
        ({"spoken": "文三路", "pin": pin}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"spoken": "x" * 201}, 422, "invalid_request"),
    ):
        r = place(live, iid, body)
        assert (r.status_code, r.json()["reason"]) == (status, reason), (body, r.text)
    assert place(live, "Inope", {"pin": pin}).status_code == 404
    assert place(live, iid, {"pin": pin}, call["caller_token"]).status_code == 403
    assert place(live, iid, {"pin": pin}, live.tokens["traffic"]).status_code == 403


# --- a console that stops reading ----------------------------------------------------------------
def stalled_console(port: int, token: str) -> socket.socket:
    """A websocket client that completes the handshake with a 4 KB receive buffer, then never
    reads: the server's sends to it block once the kernel buffers fill."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/console?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: leave any frame after the headers unread
    assert head.startswith(b"HTTP/1.1 101"), head[:40]
    return sock


def drain_frames(sock: socket.socket) -> tuple[list[dict[str, Any]], int | None]:
    """Read what the server sent until its close frame or EOF: the text frames, the close code."""
    data, frames, i = b"", [], 0
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        data += chunk
        while True:  # parse every complete frame (server frames are unmasked)
            if i + 2 > len(data):
                break
            opcode, size, at = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
            if size == 126:
                size, at = int.from_bytes(data[at : at + 2]), at + 2
            elif size == 127:
                size, at = int.from_bytes(data[at : at + 8]), at + 8
            if at + size > len(data):
                break
            payload, i = data[at : at + size], at + size
            if opcode == 0x1:
                frames.append(json.loads(payload))
            elif opcode == 0x8:
                return frames, int.from_bytes(payload[:2]) if len(payload) >= 2 else None
        if not chunk:
            return frames, None


def start_with_small_send_buffers(config: Settings, opener: Captured) -> Running:
    """Like `start`, with 16 KB kernel send buffers on the websockets, so a client that
    stops reading backs up into the hub queue after a few frames rather than after the kernel's
    4 MB of autotuned buffer."""
    config = dataclasses.replace(config, ws_send_buffer_bytes=16 * 1024)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    app = create_app(config, opener)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            ws_max_size=config.max_body_bytes,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), "the server started")
    assert server.started, "the server did not start"
    tokens = json.loads(config.tokens_file.read_text())
    return Running(server, thread, sock.getsockname()[1], tokens, app.state.ws_port)


def test_a_stalled_console_is_dropped_and_delays_no_one(settings: Settings) -> None:
    """With a 32-frame queue, a console that never reads is dropped; the other gets every frame."""
    opener = Captured(hub_queue=32)
    live = start_with_small_send_buffers(settings, opener)
    svc = opener.svc
    assert svc is not None
    try:
        slow = stalled_console(live.ws_port, live.tokens["dispatcher"])
        with connect(
            f"ws://127.0.0.1:{live.ws_port}/ws/console?token={live.tokens['dispatcher']}",
            max_queue=None,  # this client buffers everything: it is the reader that keeps up
        ) as normal:
            snap = json.loads(normal.recv(timeout=10))
            wait_for(lambda: svc.hub.subscribers("console") == 2, "both consoles subscribed")
            calls = 0
            while svc.hub.subscribers("console") == 2:  # until the stalled one is dropped
                assert calls < 2000, "the stalled console was never dropped"
                fix = {**HERE, "lat": HERE["lat"] + 0.0001 * (calls % 50)}
                assert new_call(live, f"slow-{calls}", fix=fix).status_code == 201
                calls += 1
            for extra in range(5):  # and the server goes on serving the one that reads
                assert new_call(live, f"after-{extra}").status_code == 201
            last = svc.hub.last_seq("console")
            seqs = [snap["last_seq"]]
            while seqs[-1] < last:
                seqs.append(json.loads(normal.recv(timeout=10))["seq"])
            assert seqs == list(range(snap["last_seq"], last + 1))  # every frame, in order
        got, code = drain_frames(slow)
        slow.close()
        assert got and got[0]["type"] == "snapshot"
        behind = [f["seq"] for f in got[1:]]
        assert behind == list(range(got[0]["last_seq"] + 1, got[0]["last_seq"] + 1 + len(behind)))
        assert len(behind) < last - got[0]["last_seq"]  # it never caught up
        assert code in (None, 1013)  # 1013, or a bare EOF if even the close frame could not pass
    finally:
        live.stop()
