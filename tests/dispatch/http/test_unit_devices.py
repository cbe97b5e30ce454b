"""Per-device tokens of a unit (`POST /api/v1/units/{id}/devices`) and their acknowledgements,
over HTTP and the unit's socket, against a live server; and a resent crew status."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from dispatch.cli import main
from dispatch.settings import Settings
from dispatch.tokens import TokenBook
from tests.support.server import HERE, Running, auth, recv_until, start


def offer(live: Running, key: str = "dev-1") -> str:
    """A chest-pain call, ALS01 assigned (offered, not yet acknowledged); the incident id."""
    body = {"phone": "+8613800000091", "consent_location": True, "fix": HERE}
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    iid: str = r.json()["incident_id"]
    r = httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/assignment",
        json={"unit_id": "ALS01"},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 201, r.text
    return iid


def add_device(live: Running, unit_id: str, name: str) -> str:
    r = httpx.post(
        f"{live.http}/api/v1/units/{unit_id}/devices",
        json={"name": name},
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_a_device_token_is_shown_once_and_kept_hashed_in_a_private_file(
    live: Running, settings: Settings
) -> None:
    """The answer holds the token; the tokens file (0600) holds its SHA-256 under devices,
    never the token; a unit's own token may not create devices (403), nor a bad name (422)."""
    token = add_device(live, "ALS01", "doctor-pad")
    path = Path(settings.tokens_file)
    text = path.read_text()
    assert token not in text
    assert set(json.loads(text)["devices"]["ALS01"]) == {"doctor-pad"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    crew = auth(live.tokens["units"]["ALS01"])
    url = f"{live.http}/api/v1/units/ALS01/devices"
    assert httpx.post(url, json={"name": "x"}, headers=crew).status_code == 403
    dispatcher = auth(live.tokens["dispatcher"])
    assert httpx.post(url, json={"name": "default"}, headers=dispatcher).status_code == 422


def test_each_device_acknowledges_as_itself_and_the_console_sees_each(live: Running) -> None:
    """The doctor's pad acks over HTTP, the driver's phone over the socket: the console gets
    offer.acknowledged with [doctor-pad] then [doctor-pad, driver-phone], and the incident
    lists both; a device token claiming another device is refused (403)."""
    pad, phone = add_device(live, "ALS01", "doctor-pad"), add_device(live, "ALS01", "driver-phone")
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        recv_until(console, lambda f: f["type"] == "snapshot")
        iid = offer(live)
        url = f"{live.http}/api/v1/units/ALS01/ack"
        other = httpx.post(url, json={"incident_id": iid, "device": "tablet"}, headers=auth(pad))
        assert other.status_code == 403
        assert httpx.post(url, json={"incident_id": iid}, headers=auth(pad)).status_code == 200
        first = recv_until(console, lambda f: f["type"] == "offer.acknowledged")
        assert (first["device"], first["devices"]) == ("doctor-pad", ["doctor-pad"])
        with live.ws("/ws/units/ALS01", phone) as tablet:
            recv_until(tablet, lambda f: f["type"] == "snapshot")
            tablet.send(json.dumps({"type": "ack", "incident_id": iid}))
            assert recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))["type"] == (
                "accepted"
            )
        second = recv_until(console, lambda f: f["type"] == "offer.acknowledged")
        assert second["devices"] == ["doctor-pad", "driver-phone"]
    view = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    assert view.json()["acked_devices"] == ["doctor-pad", "driver-phone"]
    assert view.json()["call_crew"] is False


def test_the_unit_token_acks_as_default_and_a_device_token_is_no_other_units(
    live: Running,
) -> None:
    """ALS01's shared token acks with no device as "default"; ALS01's device token opens no
    other unit's socket or ack (403)."""
    iid = offer(live, "dev-2")
    url = f"{live.http}/api/v1/units/ALS01/ack"
    r = httpx.post(url, json={"incident_id": iid}, headers=auth(live.tokens["units"]["ALS01"]))
    assert r.status_code == 200
    view = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(live.tokens["dispatcher"]))
    assert view.json()["acked_devices"] == ["default"]
    pad = add_device(live, "ALS01", "doctor-pad")
    other = sorted(u for u in live.tokens["units"] if u != "ALS01")[0]
    r = httpx.post(
        f"{live.http}/api/v1/units/{other}/ack", json={"incident_id": iid}, headers=auth(pad)
    )
    assert r.status_code == 403


def test_a_resent_status_answers_200_and_the_route_is_the_units_own(live: Running) -> None:
    """en_route twice over HTTP (an offline queue resending): both 200, the unit en_route;
    GET /units/ALS01/route answers the route to the incident for ALS01's token only."""
    iid = offer(live, "dev-3")
    crew = auth(live.tokens["units"]["ALS01"])
    url = f"{live.http}/api/v1/units/ALS01/status"
    for _ in range(2):
        r = httpx.post(url, json={"status": "en_route"}, headers=crew)
        assert r.status_code == 200 and r.json()["status"] == "en_route"
    route = httpx.get(f"{live.http}/api/v1/units/ALS01/route", headers=crew)
    assert route.status_code == 200
    assert route.json()["incident_id"] == iid and route.json()["to"] == "incident"
    assert route.json()["route"]["eta_s"] > 0
    dispatcher = auth(live.tokens["dispatcher"])
    assert httpx.get(f"{live.http}/api/v1/units/ALS01/route", headers=dispatcher).status_code == 403


def test_the_cli_adds_a_device_that_the_server_takes_at_its_start(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jijiu units add-device ALS01 pad` prints a token (file keeps its hash); a server started
    after it lets that token open ALS01's socket; an unknown unit exits 2."""
    TokenBook.open(Path(settings.tokens_file)).ensure_units(["ALS01"])
    assert main(["units", "add-device", "ALS01", "pad", "--tokens", str(settings.tokens_file)]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 16 and token not in Path(settings.tokens_file).read_text()
    args = ["units", "add-device", "NOPE9", "pad", "--tokens", str(settings.tokens_file)]
    assert main(args) == 2
    live = start(settings)
    try:
        with live.ws("/ws/units/ALS01", token) as tablet:
            assert (
                recv_until(tablet, lambda f: f["type"] == "snapshot")["unit"]["unit_id"] == "ALS01"
            )
    finally:
        live.stop()
