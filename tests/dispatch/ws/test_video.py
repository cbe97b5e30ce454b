"""In-vehicle video over real sockets: relayed to dispatchers and the receiving hospital only,
stopped for a hospital the patient is re-routed away from, kept for nobody by default."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from dispatch.settings import Settings
from tests.support.server import Running, auth, recv_until, start
from tests.support.tablet import patient_on_the_way, picture, reply, send_picture


def test_dispatchers_and_the_receiving_hospital_watch_others_may_not(live: Running) -> None:
    """The picture reaches a dispatcher and the routed hospital byte for byte; another
    hospital, the unit itself or no token may not open the view; non-pictures and a too fast
    tablet are refused."""
    patient_on_the_way(live)  # ALS01 -> zjpph
    hospitals, dispatcher = live.tokens["hospitals"], live.tokens["dispatcher"]
    for token, code in (
        (hospitals["srrsh"], 4403),
        (live.tokens["units"]["ALS01"], 4403),
        ("nope", 4401),
    ):
        with live.ws("/ws/video/ALS01", token) as refused, pytest.raises(ConnectionClosed) as e:
            refused.recv(timeout=10)
        assert e.value.rcvd is not None and e.value.rcvd.code == code
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/video/ALS01", dispatcher) as cockpit,
        live.ws("/ws/video/ALS01", hospitals["zjpph"]) as zjpph,
    ):
        json.loads(tablet.recv(timeout=10))
        for viewer in (cockpit, zjpph):
            assert json.loads(viewer.recv(timeout=10))["latest"] is None  # nothing kept
        assert send_picture(tablet, 200)["type"] == "accepted"
        for viewer in (cockpit, zjpph):
            got = recv_until(viewer, lambda f: f["type"] == "video.frame")
            assert base64.b64decode(got["jpeg"]) == picture(200)
            assert got["unit_id"] == "ALS01" and abs(got["at_s"] - time.time()) < 60
        tablet.send(b"\x89PNG not a jpeg")
        assert reply(tablet)["reason"] == "malformed_frame"
        for shade in range(5):  # back to back: over 4 a second
            tablet.send(picture(shade))
        answers = [reply(tablet) for _ in range(5)]
        assert "too_fast" in {a.get("reason") for a in answers}


def test_a_re_route_closes_the_old_hospital_s_view(live: Running) -> None:
    """The old hospital's view ends at once and it may not reopen it; the new one may watch."""
    iid = patient_on_the_way(live)
    hospitals = live.tokens["hospitals"]
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/video/ALS01", hospitals["zjpph"]) as zjpph,
    ):
        json.loads(tablet.recv(timeout=10))
        json.loads(zjpph.recv(timeout=10))
        r = httpx.post(
            f"{live.http}/api/v1/incidents/{iid}/destination",
            json={"hospital_id": "srrsh"},
            headers=auth(live.tokens["dispatcher"]),
        )
        assert r.status_code == 200
        with pytest.raises(ConnectionClosed):
            while True:  # whatever was queued, then the end
                frame = json.loads(zjpph.recv(timeout=10))
                assert frame["type"] != "video.frame"
        with live.ws("/ws/video/ALS01", hospitals["srrsh"]) as srrsh:
            json.loads(srrsh.recv(timeout=10))
            assert send_picture(tablet, 90)["type"] == "accepted"
            assert recv_until(srrsh, lambda f: f["type"] == "video.frame")["unit_id"] == "ALS01"
        with (
            live.ws("/ws/video/ALS01", hospitals["zjpph"]) as again,
            pytest.raises(ConnectionClosed) as e,
        ):
            again.recv(timeout=10)
        assert e.value.rcvd is not None and e.value.rcvd.code == 4403


def test_kept_video_greets_a_new_viewer_with_the_newest_picture(settings: Settings) -> None:
    running = start(dataclasses.replace(settings, video_keep_s=60.0))
    try:
        patient_on_the_way(running)
        with running.ws("/ws/units/ALS01", running.tokens["units"]["ALS01"]) as tablet:
            json.loads(tablet.recv(timeout=10))
            assert send_picture(tablet, 120)["type"] == "accepted"
        with running.ws("/ws/video/ALS01", running.tokens["dispatcher"]) as late:
            latest = json.loads(late.recv(timeout=10))["latest"]
    finally:
        running.stop()
    assert base64.b64decode(latest["jpeg"]) == picture(120)
