"""The dispatch server over real loopback sockets: journey, idempotency, races, access, restart.

Each test starts uvicorn in a thread on a free port with the Wulin network, a SQLite event log
in tmp_path and four seeded units (ALS01, BLS02, BLS03, ALS04), and talks to it with httpx and
the `websockets` sync client. No test asserts on timing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from dispatch.errors import StoreError
from dispatch.http.common import RedactTokens
from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from dispatch.tokens import Role, TokenBook
from tests.support.server import (
    ELSEWHERE,
    HERE,
    Running,
    auth,
    closed_with,
    new_call,
    recv_until,
    start,
)


# --- the journey ----------------------------------------------------------------------------
def test_journey_from_tap_to_back_in_service(live: Running) -> None:
    """Tap, console sees call and recommendation, assign, offer on the tablet, ack, statuses."""
    dispatcher = live.tokens["dispatcher"]
    with live.ws("/ws/console", dispatcher) as console:
        snap = json.loads(console.recv(timeout=10))
        assert snap["type"] == "snapshot" and len(snap["units"]) == 4
        r = new_call(live, "journey-1")
        assert r.status_code == 201, r.text
        call = r.json()
        iid, caller = call["incident_id"], call["caller_token"]
        assert abs(call["estimate"]["lat"] - HERE["lat"]) < 0.01 and call["estimate"]["description"]
        assert len(caller) >= 22  # 128 bits in url-safe base64
        got = recv_until(console, lambda f: f["type"] == "call.received")
        assert got["incident_id"] == iid and got["flood_suspected"] is False
        rec = recv_until(console, lambda f: f["type"] == "incident.recommended")
        assert rec["incident_id"] == iid and rec["options"]
        unit_id = rec["options"][0]["unit_id"]

    unit_token = live.tokens["units"][unit_id]
    with (
        live.ws(f"/ws/units/{unit_id}", unit_token) as tablet,
        live.ws(f"/ws/calls/{iid}", caller) as app,
    ):
        assert json.loads(tablet.recv(timeout=10))["job"] is None  # the snapshot: no job yet
        assert json.loads(app.recv(timeout=10))["incident"]["incident_id"] == iid
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/assignment",
            json={"unit_id": unit_id},
            headers=auth(dispatcher),
        )
        assert r.status_code == 201, r.text
        offer = recv_until(tablet, lambda f: f["type"] == "offer.sent")
        assert offer["incident_id"] == iid and offer["place"]["description"]
        assert offer["devices"] == ["tablet", "doctor", "driver"]
        tablet.send(json.dumps({"type": "ack", "incident_id": iid, "device": "tablet"}))
        assert recv_until(tablet, lambda f: f["type"] == "accepted")["frame"] == "ack"
        coming = recv_until(app, lambda f: f["type"] == "unit.approaching")
        assert "unit_id" not in coming and coming["eta_s"] is not None
        stepped = recv_until(app, lambda f: f.get("name") == "unit_acknowledged")
        assert stepped["type"] == "incident.stepped"
        seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(caller)).json()
        assert seen["step"] == "eTimes.04" and seen["unit"]["eta_s"] is not None
        assert "unit_id" not in seen and "complaint" not in seen  # the caller never sees the crew

        # The crew drives: a position from the tablet reaches the caller (and the consoles).
        near = {"type": "position", "lat": HERE["lat"] + 0.001, "lon": HERE["lon"]}
        tablet.send(json.dumps(near))
        moved = recv_until(
            app, lambda f: f["type"] == "unit.approaching" and f["lat"] == near["lat"]
        )
        assert moved["eta_s"] is not None and "unit_id" not in moved
        for status in ("en_route", "on_scene"):
            tablet.send(json.dumps({"type": "status", "status": status}))
            assert recv_until(tablet, lambda f: f["type"] == "accepted")["status"] == status
        assert recv_until(app, lambda f: f.get("name") == "on_scene")["step"] == "eTimes.06"
        with pytest.raises(ConnectionClosed) as ended:  # help is there: the caller's socket ends
            while True:
                app.recv(timeout=10)
        assert ended.value.rcvd is not None and ended.value.rcvd.code == 1000

    with live.ws(f"/ws/calls/{iid}", caller) as late:  # a late reconnect: last state, then end
        assert json.loads(late.recv(timeout=10))["incident"]["step"] == "eTimes.06"
        with pytest.raises(ConnectionClosed):
            late.recv(timeout=10)
    for status in ("available_at_station",):
        r = httpx.post(
            f"{live.http}/api/v1/units/{unit_id}/status",
            json={"status": status},
            headers=auth(unit_token),
        )
        assert r.status_code == 200, r.text
    seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(caller)).json()
    names = [s["name"] for s in seen["timeline"]]
    assert names[-2:] == ["back_in_service", "closed"] and "on_scene" in names
    assert seen["open"] is False


def test_flooding_phone_is_flagged_never_dropped(live: Running) -> None:
    """Six calls in a minute from one phone: all answered (201, then 200 as calls again on its
    incident), the console is told of a flood."""
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        codes = [new_call(live, f"flood-{i}", phone="+8613900000000").status_code for i in range(6)]
        assert codes == [201] + [200] * 5
        flagged = recv_until(console, lambda f: f["type"] == "call.flood_suspected")
        assert flagged["incident_id"]


def test_unacknowledged_offer_escalates_to_the_next_unit(settings: Settings) -> None:
    """With a 1 s ack timeout and no ack, the console hears of the escalation and the re-offer."""
    running = start(dataclasses.replace(settings, ack_timeout_s=1.0))
    try:
        with running.ws("/ws/console", running.tokens["dispatcher"]) as console:
            iid = new_call(running, "esc-1").json()["incident_id"]
            r = httpx.post(
                f"{running.http}/api/v1/incidents/{iid}/assignment",
                json={"unit_id": "ALS01"},
                headers=auth(running.tokens["dispatcher"]),
            )
            assert r.status_code == 201
            esc = recv_until(console, lambda f: f["type"] == "offer.escalated")
            assert esc["incident_id"] == iid and esc["unit_id"] == "ALS01"
            assert esc["next_unit_id"] not in (None, "ALS01")
    finally:
        running.stop()


def test_console_resumes_from_its_last_seq_without_a_snapshot(live: Running) -> None:
    """A console reconnecting with since=N gets the frames after N, and no snapshot."""
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        snap = json.loads(console.recv(timeout=10))
        iid = new_call(live, "resume-1").json()["incident_id"]
        seen = recv_until(console, lambda f: f["type"] == "call.received")
    assert seen["seq"] > snap["last_seq"]
    with live.ws("/ws/console", live.tokens["dispatcher"], since=str(seen["seq"])) as again:
        frame = json.loads(again.recv(timeout=10))
        assert frame["type"] != "snapshot" and frame["seq"] == seen["seq"] + 1
        assert frame.get("incident_id") == iid


# --- idempotency and races --------------------------------------------------------------------
def test_retry_with_same_key_returns_the_same_incident_and_token(live: Running) -> None:
    """Same Idempotency-Key twice: 201 then 200 with the same body; one incident exists."""
    first = new_call(live, "retry-1")
    again = new_call(live, "retry-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["incident_id"] == first.json()["incident_id"]
    assert again.json()["caller_token"] == first.json()["caller_token"]
    listed = httpx.get(
        f"{live.http}/api/v1/incidents",
        params={"open_only": "false"},
        headers=auth(live.tokens["dispatcher"]),
    ).json()
    assert [i["incident_id"] for i in listed] == [first.json()["incident_id"]]


def test_same_key_from_another_phone_is_another_call(live: Running) -> None:
    """A key is scoped to its phone: another phone's key never returns someone else's token."""
    a = new_call(live, "shared-key", phone="+8613800000001").json()
    b = new_call(live, "shared-key", phone="+8613800000002").json()
    assert a["incident_id"] != b["incident_id"] and a["caller_token"] != b["caller_token"]


def test_two_dispatchers_race_for_one_unit(live: Running) -> None:
    """Two simultaneous assignments of one unit to two incidents: one 201, one 409."""
    one = new_call(live, "race-1").json()["incident_id"]
    two = new_call(live, "race-2", fix=ELSEWHERE).json()["incident_id"]
    barrier = threading.Barrier(2)

    def assign(iid: str) -> httpx.Response:
        with httpx.Client() as client:
            barrier.wait()
            return client.post(
                f"{live.http}/api/v1/incidents/{iid}/assignment",
                json={"unit_id": "ALS01"},
                headers=auth(live.tokens["dispatcher"]),
            )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(assign, [one, two]))
    assert sorted(r.status_code for r in results) == [201, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["reason"] == "unit_unavailable"


# --- access -------------------------------------------------------------------------------------
def test_http_access_matrix(live: Running) -> None:
    """Every deny cell: 401 without/with unknown token, 403 wrong role or unit, 404 other call."""
    a = new_call(live, "acc-a").json()
    b = new_call(live, "acc-b", fix=ELSEWHERE).json()
    base, units = f"{live.http}/api/v1", live.tokens["units"]
    r = httpx.get(f"{base}/incidents/{b['incident_id']}", headers=auth(a["caller_token"]))
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    r = httpx.get(f"{base}/incidents/{a['incident_id']}", headers=auth(a["caller_token"]))
    assert r.status_code == 200
    cases = [
        ("get", "/incidents", None, 401),
        ("get", "/incidents", "not-a-token-at-all", 401),
        ("get", "/incidents", units["ALS01"], 403),
        ("get", "/incidents", a["caller_token"], 403),
        ("get", f"/incidents/{a['incident_id']}", units["ALS01"], 403),
        ("get", f"/incidents/{a['incident_id']}/recommendations", a["caller_token"], 403),
        ("post", f"/incidents/{a['incident_id']}/cancel", units["BLS02"], 403),
        ("post", "/units/BLS02/status", units["ALS01"], 403),
        ("post", "/units/BLS02/status", live.tokens["dispatcher"], 403),
        ("post", "/units/BLS02/status", a["caller_token"], 403),
        ("post", "/units/BLS02/status", None, 401),
    ]
    for method, path, token, expected in cases:
        body = {"status": "out_of_service"} if path.endswith("status") else {}
        r = httpx.request(
            method,
            base + path,
            json=body if method == "post" else None,
            headers=auth(token) if token else {},
        )
        assert r.status_code == expected, (method, path, r.text)
        assert r.json()["reason"] in ("unauthenticated", "forbidden")


def test_websocket_access_codes(live: Running) -> None:
    """4401 bad token, 4403 wrong role or unit, 4404 a caller on another incident."""
    a = new_call(live, "wacc-a").json()
    b = new_call(live, "wacc-b", fix=ELSEWHERE).json()
    units = live.tokens["units"]
    with live.ws("/ws/console", "bogus") as ws:
        assert closed_with(ws) == 4401
    with live.ws("/ws/console", units["ALS01"]) as ws:
        assert closed_with(ws) == 4403
    with live.ws("/ws/units/BLS02", units["ALS01"]) as ws:
        assert closed_with(ws) == 4403
    with live.ws(f"/ws/calls/{b['incident_id']}", a["caller_token"]) as ws:
        assert closed_with(ws) == 4404
    with live.ws(f"/ws/calls/{a['incident_id']}", units["ALS01"]) as ws:
        assert closed_with(ws) == 4403
    with live.ws(f"/ws/calls/{a['incident_id']}", a["caller_token"]) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


# --- bad input --------------------------------------------------------------------------------
def test_bad_input_is_4xx_never_500(live: Running) -> None:
    """lat 95, NaN, unknown enum, bad JSON, no key, 70 KB: each its 4xx and reason (a call we
    cannot place is no longer refused: tests/dispatch/service/test_unplaced_calls.py)."""
    url = f"{live.http}/api/v1/calls"
    key = {"Idempotency-Key": "bad-1", "Content-Type": "application/json"}
    ok = {"phone": "+8613800000001", "consent_location": True, "fix": HERE}

    def post(content: str, headers: dict[str, str] = key) -> httpx.Response:
        return httpx.post(url, content=content, headers=headers)

    cases = [
        (json.dumps({**ok, "fix": {**HERE, "lat": 95}}), key, 422, "invalid_request"),
        (json.dumps(ok).replace("30.2803", "NaN"), key, 422, "invalid_request"),
        (json.dumps({**ok, "complaint": "hiccups"}), key, 422, "invalid_request"),
        (json.dumps({**ok, "phone": "call me"}), key, 422, "invalid_request"),
        ('{"phone": ', key, 422, "invalid_request"),
        (json.dumps(ok), {"Content-Type": "application/json"}, 400, "idempotency_key_required"),
        (json.dumps({**ok, "spoken": "x" * 70_000}), key, 413, "body_too_large"),
    ]
    for content, headers, status, reason in cases:
        r = post(content, headers)
        assert (r.status_code, r.json()["reason"]) == (status, reason), (content[:80], r.text)
        assert "Traceback" not in r.text and "+8613800000001" not in r.text
    d = auth(live.tokens["dispatcher"])
    r = httpx.post(
        f"{live.http}/api/v1/incidents/nope/assignment", json={"unit_id": "ALS01"}, headers=d
    )
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    iid = new_call(live, "bad-2").json()["incident_id"]
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "X9"}, headers=d
    )
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_unit")
    r = httpx.post(
        f"{live.http}/api/v1/units/ALS01/status",
        json={"status": "on_scene"},
        headers=auth(live.tokens["units"]["ALS01"]),
    )
    assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")


def test_malformed_websocket_frame_gets_an_error_frame_and_the_socket_stays(live: Running) -> None:
    """Garbage, an unknown type and a bad status get error frames; a good frame then works."""
    with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet:
        assert json.loads(tablet.recv(timeout=10))["type"] == "snapshot"
        for frame, reason in (
            ("{nope", "malformed_frame"),
            ("[1]", "malformed_frame"),
            ('{"type": "fly"}', "invalid_event"),
            ('{"type": "status", "status": "asleep"}', "invalid_event"),
            ('{"type": "position", "lat": 95, "lon": 0}', "invalid_event"),
        ):
            tablet.send(frame)
            got = recv_until(tablet, lambda f: f["type"] in ("error", "accepted"))
            assert (got["type"], got["reason"]) == ("error", reason)
        tablet.send(json.dumps({"type": "status", "status": "out_of_service"}))
        assert recv_until(tablet, lambda f: f["type"] == "accepted")["status"] == "out_of_service"


def test_health_readiness_openapi_and_tokens_file(live: Running, settings: Settings) -> None:
    """healthz and readyz answer 200, OpenAPI shows call examples, the tokens file is 0600."""
    assert httpx.get(f"{live.http}/healthz").status_code == 200
    assert httpx.get(f"{live.http}/readyz").json() == {"status": "ready"}
    spec = httpx.get(f"{live.http}/openapi.json").json()
    assert (
        "/api/v1/calls" in spec["paths"] and "examples" in spec["components"]["schemas"]["CallIn"]
    )
    assert stat.S_IMODE(settings.tokens_file.stat().st_mode) == 0o600


# --- restart ----------------------------------------------------------------------------------
def test_restart_replays_the_log(settings: Settings) -> None:
    """Stop and start on the same store: incident, timeline, caller token and retries survive."""
    first = start(settings)
    try:
        call = new_call(first, "restart-1").json()
        iid = call["incident_id"]
        d = auth(first.tokens["dispatcher"])
        r = httpx.post(
            f"{first.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "ALS01"}, headers=d
        )
        assert r.status_code == 201
        r = httpx.post(
            f"{first.http}/api/v1/units/ALS01/ack",
            json={"incident_id": iid, "device": "doctor"},
            headers=auth(first.tokens["units"]["ALS01"]),
        )
        assert r.status_code == 200, r.text
        before = httpx.get(f"{first.http}/api/v1/incidents/{iid}", headers=d).json()
    finally:
        first.stop()
    second = start(settings)
    try:
        assert second.tokens == first.tokens  # the file is reused, not regenerated
        d = auth(second.tokens["dispatcher"])
        after = httpx.get(f"{second.http}/api/v1/incidents/{iid}", headers=d).json()
        assert after["timeline"] == before["timeline"] and after["unit_id"] == "ALS01"
        assert after["acked_devices"] == ["doctor"]
        mine = httpx.get(
            f"{second.http}/api/v1/incidents/{iid}", headers=auth(call["caller_token"])
        )
        assert mine.status_code == 200 and mine.json()["step"] == "eTimes.04"
        retry = new_call(second, "restart-1")
        assert retry.status_code == 200
        # The same answer; only the websocket's port is new (ws_port=0 picks a free one).
        again, first_answer = retry.json(), dict(call)
        assert again.pop("stream_url").endswith(first_answer.pop("stream_url").split(":")[-1][5:])
        assert again == first_answer
        r = httpx.post(
            f"{second.http}/api/v1/units/ALS01/status",
            json={"status": "en_route"},
            headers=auth(second.tokens["units"]["ALS01"]),
        )
        assert r.status_code == 200  # engine time continued from the log: no "time goes back"
        units = httpx.get(f"{second.http}/api/v1/incidents", headers=d).json()
        assert len(units) == 1  # the fleet was not seeded twice and no call was duplicated
    finally:
        second.stop()


def test_a_failed_append_answers_503_and_keeps_readyz_failing(settings: Settings) -> None:
    """A store that keeps refusing appends: 503, readyz fails while it does (recovery cannot
    prove a write); the call is not logged, and a restart on a healthy store does not show it."""

    def broken_store(s: Settings, hub: Hub) -> DispatchService:
        svc = DispatchService.open(s, hub)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise StoreError("disk gone")

        svc.log.append = svc.log.append_batch = refuse  # type: ignore[method-assign]
        return svc

    broken = start(settings, broken_store)
    try:
        r = new_call(broken, "lost-1")
        assert (r.status_code, r.json()["reason"]) == (503, "store_unavailable")
        assert httpx.get(f"{broken.http}/readyz").status_code == 503
        assert new_call(broken, "lost-2").status_code == 503  # still refusing: no write proven
        assert httpx.get(f"{broken.http}/healthz").status_code == 200
    finally:
        broken.stop()
    healthy = start(settings)
    try:
        assert httpx.get(f"{healthy.http}/readyz").status_code == 200
        listed = httpx.get(
            f"{healthy.http}/api/v1/incidents",
            params={"open_only": "false"},
            headers=auth(healthy.tokens["dispatcher"]),
        ).json()
        assert listed == []  # never acknowledged, never there
    finally:
        healthy.stop()


def test_tokens_in_websocket_urls_are_redacted_from_server_logs() -> None:
    """uvicorn logs a websocket path with its query: the filter masks the token."""
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws/console?token=s3cr3t&since=4"),
        None,
    )
    RedactTokens().filter(record)
    assert "s3cr3t" not in record.getMessage() and "since=4" in record.getMessage()


def test_settings_from_env_and_validation(tmp_path: Path) -> None:
    """JIJIU_* variables are parsed to their types; a malformed or out-of-range one is refused."""
    s = Settings.from_env(
        {
            "JIJIU_PORT": "9001",
            "JIJIU_AUTO_DISPATCH_P1": "true",
            "JIJIU_TOKENS": str(tmp_path / "t.json"),
            "JIJIU_SEED_FLEET": "0",
        }
    )
    assert (s.port, s.auto_dispatch_p1, s.tokens_file, s.seed_fleet) == (
        9001,
        True,
        tmp_path / "t.json",
        0,
    )
    for bad in (
        {"JIJIU_PORT": "http"},
        {"JIJIU_PORT": "70000"},
        {"JIJIU_ACK_TIMEOUT_S": "nan"},
        {"JIJIU_AUTO_DISPATCH_P1": "maybe"},
        {"JIJIU_STORE": "events.db"},
    ):
        with pytest.raises(ValueError):
            Settings.from_env(bad)


def test_token_book_roles_and_caller_tokens(tmp_path: Path) -> None:
    """Roles by token, unknown is None, caller tokens stable per incident and differ between."""
    book = TokenBook.open(tmp_path / "t.json")
    book.ensure_units(["ALS01"])
    again = TokenBook.open(tmp_path / "t.json")
    assert again.role_of(book.dispatcher) == (Role.DISPATCHER, "")
    assert again.role_of(book.units["ALS01"]) == (Role.UNIT, "ALS01")
    assert again.role_of("x" * 22) is None
    assert again.caller_token("I1") == book.caller_token("I1") != book.caller_token("I2")
