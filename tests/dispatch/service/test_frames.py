"""The declared wire frames: the checked-in JSON Schemas, the validator the tests run every
received frame through, and the schemas as the server publishes them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

from dispatch.service.frames.__main__ import main as frames_cli
from dispatch.service.frames.schemas import SOCKETS, render, socket_for_path, stale
from tests.support import frames as plugin
from tests.support.server import Running

SCHEMAS = plugin.SCHEMAS

#: A well-formed console frame, as the hub publishes it.
UNIT_CHANGED = {
    "seq": 7,
    "topic": "console",
    "type": "unit.changed",
    "unit_id": "ALS01",
    "status": "en_route",
    "incident_id": "I0123456789",
}


def test_checked_in_schemas_are_what_the_models_generate() -> None:
    """docs/schemas/ holds one file per socket, each exactly what the declarations give."""
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(SOCKETS)
    assert stale(SCHEMAS) == [], "run: python -m dispatch.service.frames --write docs/schemas"


@pytest.mark.parametrize("socket", sorted(SOCKETS))
def test_each_schema_is_valid_json_schema_with_both_directions(socket: str) -> None:
    """Each document is valid Draft 2020-12 and both of its parts are too."""
    doc = json.loads((SCHEMAS / f"{socket}.json").read_text(encoding="utf-8"))
    assert doc["path"] == SOCKETS[socket].path
    for direction in ("server_to_client", "client_to_server"):
        Draft202012Validator.check_schema({**doc, **doc[direction]})


def test_a_good_frame_passes() -> None:
    """A unit.changed frame with its envelope is a valid console frame."""
    assert plugin.problem("console", UNIT_CHANGED) is None


def test_a_frame_missing_a_required_field_is_rejected() -> None:
    """unit.changed without unit_id is rejected, and the message names the missing field."""
    frame = {k: v for k, v in UNIT_CHANGED.items() if k != "unit_id"}
    found = plugin.problem("console", frame)
    assert found is not None and "unit_id" in found


def test_a_frame_type_unknown_to_the_schema_is_rejected() -> None:
    """ "unit.assigned" is no console frame type: rejected, naming the type."""
    found = plugin.problem("console", {**UNIT_CHANGED, "type": "unit.assigned"})
    assert found is not None and "type 'unit.assigned' is not in the schema" in found


def test_an_undeclared_field_and_a_missing_envelope_are_rejected() -> None:
    """A field the schema does not declare fails, and so does a live frame without its seq."""
    assert plugin.problem("console", {**UNIT_CHANGED, "crew": "Zhang"}) is not None
    no_seq = {k: v for k, v in UNIT_CHANGED.items() if k != "seq"}
    assert plugin.problem("console", no_seq) is not None


def test_replies_carry_no_envelope_and_are_told_apart_by_frame() -> None:
    """A tablet's `accepted` reply for a status is valid; the same reply for vitals lacks seq."""
    status = {"type": "accepted", "frame": "status", "status": "on_scene"}
    assert plugin.problem("unit", status) is None
    assert plugin.problem("unit", {"type": "accepted", "frame": "vitals"}) is not None


def test_client_frames_are_declared_too() -> None:
    """A tablet's ack is a valid unit frame to the server; a console may send nothing."""
    ack = {"type": "ack", "incident_id": "I0123456789", "device": "tablet"}
    assert plugin.problem("unit", ack, "client_to_server") is None
    assert plugin.problem("console", {"type": "ack"}, "client_to_server") is not None


def test_socket_for_path_names_the_socket_of_a_url_path() -> None:
    """Each socket's path pattern maps to its name; anything else to None."""
    assert socket_for_path("/ws/console?token=x&since=3") == "console"
    assert socket_for_path("/ws/units/ALS01") == "unit"
    assert socket_for_path("/ws/calls/I0123456789") == "caller"
    assert socket_for_path("/ws/hospitals/zjpph") == "hospital"
    assert socket_for_path("/ws/volunteers/V1") == "volunteer"
    assert socket_for_path("/ws/agencies/police") == "agency"
    assert socket_for_path("/ws/video/ALS01") == "video"
    assert socket_for_path("/ws/units/ALS01/extra") is None
    assert socket_for_path("/ws/nope") is None


def test_the_cli_writes_and_checks_the_files(tmp_path: Path) -> None:
    """--write writes every socket's file; --check passes, then fails once one is edited."""
    assert frames_cli(["--write", str(tmp_path)]) == 0
    assert frames_cli(["--check", str(tmp_path)]) == 0
    (tmp_path / "unit.json").write_text(
        render("unit").replace("deadline_s", "deadline"), encoding="utf-8"
    )
    assert frames_cli(["--check", str(tmp_path)]) == 1


@pytest.fixture
def bad_console() -> Iterator[str]:
    """A websocket server on loopback that answers `/ws/console` with one planted bad frame
    (unit.changed without unit_id); yields its ws:// URL."""

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({k: v for k, v in UNIT_CHANGED.items() if k != "unit_id"}))
        conn.recv()  # hold the connection until the client closes it

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/ws/console?token=x"
        server.shutdown()
        thread.join(timeout=10)


def test_a_bad_frame_fails_the_test_that_receives_it(bad_console: str) -> None:
    """The wrapped recv raises FrameDrift in the receiving test and records it for teardown."""
    with connect(bad_console, open_timeout=10) as ws, pytest.raises(plugin.FrameDrift) as drift:
        ws.recv(timeout=10)
    assert "unit_id" in str(drift.value)
    assert len(plugin.DRIFTS.take()) == 1  # taken here, so this test's teardown stays green


def test_the_server_publishes_the_schemas(live: Running) -> None:
    """GET /api/v1/schemas lists every socket with no token; each document is the file's
    text; an unknown socket is a 404 with reason unknown_socket."""
    index = httpx.get(f"{live.http}/api/v1/schemas", timeout=10)
    assert index.status_code == 200
    assert [e["socket"] for e in index.json()["schemas"]] == list(SOCKETS)
    for entry in index.json()["schemas"]:
        got = httpx.get(f"{live.http}{entry['url']}", timeout=10)
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/schema+json")
        assert got.text == (SCHEMAS / f"{entry['socket']}.json").read_text(encoding="utf-8")
    missing = httpx.get(f"{live.http}/api/v1/schemas/pager.json", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["reason"] == "unknown_socket"
