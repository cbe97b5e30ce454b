"""Position floods over real loopback sockets: a unit's tablet or a volunteer's phone sending
positions far above `positions_per_source_per_s` costs the consoles at most the limit's worth
of frames, the last position sent is the one that lands, the drops are counted on the cockpit
and the consoles hear one `positions.throttled`.

Servers run as in tests/support/server.py (Wulin, SQLite log in tmp_path, four units), with
`position_flush_s` cut to 0.02 s: without the gate a console would see a units.moved frame
for the unit every 20 ms. Bounds on frame counts are read against the time the test took (the
token bucket's own bound), never a latency.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from dispatch.settings import Settings
from tests.support.server import HERE, Running, auth, start

UNIT = "ALS01"
LIMIT_PER_S = 5.0
HZ = 100  # positions a second the flooding source sends


@pytest.fixture
def fast_flush(settings: Settings) -> Settings:
    """Positions published every 20 ms (so a flood would show), the default 5/s limit."""
    assert settings.positions_per_source_per_s == LIMIT_PER_S
    return dataclasses.replace(settings, position_flush_s=0.02)


def track(i: int) -> tuple[float, float]:
    """The i-th position of the flood: ~1 m further north each time, from HERE."""
    return round(HERE["lat"] + i * 1e-5, 6), HERE["lon"]


def cockpit_positions(live: Running) -> dict[str, Any]:
    r = httpx.get(f"{live.http}/api/v1/cockpit", headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200
    positions: dict[str, Any] = r.json()["positions"]
    return positions


def read_until(
    console: ClientConnection, done: Any, frames: list[dict[str, Any]], deadline_s: float = 10.0
) -> None:
    """Append console frames to `frames` until `done(frame)` (at most `deadline_s`)."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        frame = json.loads(console.recv(timeout=max(0.01, until - time.monotonic())))
        frames.append(frame)
        if done(frame):
            return
    raise AssertionError("the awaited console frame never came")


def test_a_unit_sending_100_positions_a_second_reaches_consoles_at_the_limit(
    fast_flush: Settings,
) -> None:
    """ALS01 sends 300 positions at 100 Hz: the console gets at most 5 + 5 per second elapsed
    (+1, the held last one) units.moved rows for it, the last row is the last position sent,
    one positions.throttled frame names it, and the cockpit counts the rest as dropped."""
    live = start(fast_flush)
    try:
        with (
            live.ws("/ws/console", live.tokens["dispatcher"]) as console,
            live.ws(f"/ws/units/{UNIT}", live.tokens["units"][UNIT]) as tablet,
        ):
            assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
            tablet.recv(timeout=10)  # the tablet's snapshot
            n = 3 * HZ
            t0 = time.monotonic()
            for i in range(n):
                lat, lon = track(i)
                tablet.send(json.dumps({"type": "position", "lat": lat, "lon": lon}))
                time.sleep(max(0.0, t0 + (i + 1) / HZ - time.monotonic()))
            last = [UNIT, *track(n - 1)]
            frames: list[dict[str, Any]] = []
            read_until(console, lambda f: f["type"] == "units.moved" and last in f["units"], frames)
            elapsed_s = time.monotonic() - t0
            figures = cockpit_positions(live)
    finally:
        live.stop()
    rows = [row for f in frames if f["type"] == "units.moved" for row in f["units"]]
    mine = [row for row in rows if row[0] == UNIT]
    assert mine[-1] == last
    assert len(mine) <= LIMIT_PER_S + LIMIT_PER_S * elapsed_s + 1, (len(mine), elapsed_s)
    throttled = [f for f in frames if f["type"] == "positions.throttled"]
    assert [(f["source"], f["source_id"], f["limit_per_s"]) for f in throttled] == [
        ("unit", UNIT, LIMIT_PER_S)
    ]
    [source] = figures["sources"]
    assert (source["source"], source["source_id"], source["floods"]) == ("unit", UNIT, 1)
    assert source["passed"] + source["dropped"] == n and source["passed"] >= len(mine)
    assert figures["dropped"] == source["dropped"] and figures["limit_per_s"] == LIMIT_PER_S


def volunteer_on_duty(live: Running) -> tuple[str, str]:
    """A volunteer registered, verified by a dispatcher and on duty: (id, token)."""
    body = {"phone": "+8613900009999"}
    headers = {"Idempotency-Key": "flood-volunteer"}
    r = httpx.post(f"{live.http}/api/v1/volunteers", json=body, headers=headers)
    assert r.status_code == 201, r.text
    vid, token = r.json()["volunteer_id"], r.json()["token"]
    verify = f"{live.http}/api/v1/volunteers/{vid}/verify"
    assert httpx.post(verify, headers=auth(live.tokens["dispatcher"])).status_code == 200
    duty = {"on_duty": True, "consent_expires_in_s": 3600}
    url = f"{live.http}/api/v1/volunteers/me/duty"
    assert httpx.post(url, json=duty, headers=auth(token)).status_code == 200
    return vid, token


def test_a_volunteer_flooding_positions_ends_at_the_last_one_and_is_counted(
    settings: Settings,
) -> None:
    """A volunteer's phone sends 50 locations back to back over its socket: each is answered
    accepted, the volunteer's position ends at the last one sent, the consoles hear one
    positions.throttled for them and the cockpit counts the dropped ones."""
    live = start(settings)
    try:
        vid, token = volunteer_on_duty(live)
        with (
            live.ws("/ws/console", live.tokens["dispatcher"]) as console,
            live.ws(f"/ws/volunteers/{vid}", token) as phone,
        ):
            console.recv(timeout=10)  # the snapshot
            phone.recv(timeout=10)
            n = 50
            for i in range(n):
                lat, lon = track(i)
                phone.send(json.dumps({"type": "location", "lat": lat, "lon": lon}))
            replies = [json.loads(phone.recv(timeout=10)) for _ in range(n)]
            frames: list[dict[str, Any]] = []
            read_until(console, lambda f: f["type"] == "positions.throttled", frames)
            me = f"{live.http}/api/v1/volunteers/me"
            position = None
            until = time.monotonic() + 10  # a guard: the held one is due within 0.2 s
            while position != {"lat": track(n - 1)[0], "lon": track(n - 1)[1]}:
                assert time.monotonic() < until, position
                got = httpx.get(me, headers=auth(token)).json()["position"]
                position = {"lat": got["lat"], "lon": got["lon"]}
            figures = cockpit_positions(live)
    finally:
        live.stop()
    assert all(r == {"type": "accepted", "frame": "location"} for r in replies)
    assert frames[-1] == {
        "type": "positions.throttled",
        "source": "volunteer",
        "source_id": vid,
        "limit_per_s": LIMIT_PER_S,
        "seq": frames[-1]["seq"],
        "topic": "console",
    }
    [source] = figures["sources"]
    assert (source["source"], source["source_id"]) == ("volunteer", vid)
    assert source["dropped"] > 0 and source["passed"] + source["dropped"] == n


def test_the_limit_is_read_from_the_environment_and_validated() -> None:
    """JIJIU_POSITIONS_PER_SOURCE_PER_S=2 is read; 0 and a NaN are refused."""
    read = Settings.from_env({"JIJIU_POSITIONS_PER_SOURCE_PER_S": "2"})
    assert read.positions_per_source_per_s == 2.0
    for bad in (0.0, float("nan")):
        with pytest.raises(ValueError, match="positions_per_source_per_s"):
            Settings(positions_per_source_per_s=bad)
