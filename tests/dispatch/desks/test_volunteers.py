"""CPR volunteers, live: registration, duty, the call-out on a cardiac arrest, roles, the end.

Checked over real sockets against a real server: a registration is idempotent and survives a
restart; a P1 cardiac arrest alerts the nearest eligible volunteers inside the radius, at most
N; acceptors are split into one who fetches the AED and the others to CPR; every alert ends
when the ambulance is on scene, when the incident is cancelled, or unanswered after the
timeout; and a volunteer never receives an address before accepting or after the end, nor any
medical detail, in any frame, replayed ones included.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from aed_map.volunteers import VolunteerParams
from dispatch.desks.volunteer import CONFIG, DeskConfig
from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from location_fusion.geo import EARTH_RADIUS_M
from tests.support.server import HERE, Running, auth, closed_with, start

MEDICAL = {
    "complaint",
    "priority",
    "determinant",
    "vitals",
    "numerics",
    "bundle",
    "age_band",
    "sex",
    "activation",
    "phone",
    "caller_token",
    "unit_id",
}
SHOWS_ADDRESS = {"accepted", "en_route", "with_aed", "on_scene"}
AED_0033 = (30.282263, 120.154599)  # SYNTHETIC, open 24/7, in the Wulin box
NEAR_0033 = (30.2835, 120.1530)  # a patient ~5 min on foot from it


def configured(**config: Any) -> Callable[[Settings, Hub], DispatchService]:
    """An opener that gives the volunteer desk its own configuration before it attaches."""

    def open_service(settings: Settings, hub: Hub) -> DispatchService:
        svc = DispatchService.open(settings, hub)
        svc.extensions[CONFIG] = DeskConfig(**config)
        return svc

    return open_service


def offset(lat: float, lon: float, north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    """The point north_m north and east_m east of (lat, lon), on the sphere haversine uses."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


@dataclass
class Phone:
    """One volunteer's phone: their id and token, and every frame their socket received."""

    live: Running
    volunteer_id: str
    token: str
    frames: list[dict[str, Any]] = field(default_factory=list)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        url = f"{self.live.http}/api/v1/volunteers/me/{path}"
        return httpx.post(url, json=body, headers=auth(self.token))

    def socket(self, **query: str) -> ClientConnection:
        return self.live.ws(f"/ws/volunteers/{self.volunteer_id}", self.token, **query)

    def until(
        self, ws: ClientConnection, match: Callable[[dict[str, Any]], bool], start: int = -1
    ) -> dict[str, Any]:
        """The first frame that matches, looking first at the frames kept from index `start`
        (a frame may have come before the reply that was waited for); every frame read is kept
        for the privacy checks."""
        if start >= 0:
            for frame in self.frames[start:]:
                if match(frame):
                    return frame
        for _ in range(200):
            frame: dict[str, Any] = json.loads(ws.recv(timeout=10))
            self.frames.append(frame)
            if match(frame):
                return frame
        raise AssertionError("no matching frame")


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == kind


def register(live: Running, phone: str, key: str, name: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"phone": phone} | ({"display_name": name} if name else {})
    return httpx.post(f"{live.http}/api/v1/volunteers", json=body, headers={"Idempotency-Key": key})


def enlist(live: Running, n: int, at: tuple[float, float], *, verified: bool = True) -> Phone:
    """Volunteer n registered, verified by a dispatcher, on duty for an hour, at `at`."""
    r = register(live, f"+86139000000{n:02d}", f"enlist-{n}")
    assert r.status_code == 201, r.text
    phone = Phone(live, r.json()["volunteer_id"], r.json()["token"])
    if verified:
        url = f"{live.http}/api/v1/volunteers/{phone.volunteer_id}/verify"
        assert httpx.post(url, headers=auth(live.tokens["dispatcher"])).status_code == 200
        assert phone.post("duty", {"on_duty": True, "consent_expires_in_s": 3600}).is_success
        assert phone.post("location", {"lat": at[0], "lon": at[1]}).status_code == 200
    return phone


def incident_at(live: Running, at: tuple[float, float], complaint: str, key: str) -> str:
    fix = {"lat": at[0], "lon": at[1], "accuracy_m": 8}
    body = {"phone": "+8613800000055", "consent_location": True, "fix": fix, "complaint": complaint}
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    iid: str = r.json()["incident_id"]
    return iid


def dispatcher(live: Running, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = auth(live.tokens["dispatcher"])
    return httpx.request(method, f"{live.http}/api/v1{path}", headers=headers, **kw)


def place_of(live: Running, iid: str) -> tuple[float, float]:
    place = dispatcher(live, "GET", f"/incidents/{iid}").json()["place"]
    return place["lat"], place["lon"]


def triage_arrest(live: Running, iid: str) -> None:
    body = {"priority": 1, "complaint": "cardiac_arrest"}
    assert dispatcher(live, "POST", f"/incidents/{iid}/triage", json=body).status_code == 200


def answer(phone: Phone, ws: ClientConnection, iid: str, kind: str) -> dict[str, Any]:
    """Send one answer and return the server's reply to it (accepted or error)."""
    ws.send(json.dumps({"type": kind, "incident_id": iid}))
    return phone.until(ws, lambda f: f["type"] in ("accepted", "error"))


def assert_private(frames: list[dict[str, Any]]) -> None:
    """No medical key anywhere; an address only while accepted and live."""

    def keys(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    for frame in frames:
        assert not MEDICAL & set(keys(frame)), frame
        for view in [frame, *frame.get("volunteer", {}).get("alerts", [])]:
            if view.get("status") and view["status"] not in SHOWS_ADDRESS:
                assert view.get("address") is None and view.get("lat") is None, view
                assert view.get("aed") is None, view


@pytest.fixture
def quiet(settings: Settings) -> Iterator[Running]:
    """No fleet: no ambulance to time, so the call-out assumes the default 10-min ETA."""
    running = start(replace(settings, seed_fleet=0))
    yield running
    running.stop()


# --- registration ---------------------------------------------------------------------------------
def test_registration_is_idempotent_by_key_and_keeps_no_phone_number(
    live: Running, settings: Settings
) -> None:
    """A retry with the same key gets the same id and token (200); the phone under another key
    is another registration (201, another token: no oracle of who volunteers); no key 400; a
    bad phone or name 422; the phone number is nowhere in the log."""
    first = register(live, "+8613911112222", "reg-1", "小王")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["volunteer_id"].startswith("v") and body["cpr_verified"] is False
    assert body["stream_url"].endswith(f"/ws/volunteers/{body['volunteer_id']}")
    again = register(live, "+8613911112222", "reg-1", "小王")
    assert again.status_code == 200 and again.json() == body
    other = register(live, "+8613911112222", "reg-2")
    assert other.status_code == 201 and other.json()["token"] != body["token"]
    r = httpx.post(f"{live.http}/api/v1/volunteers", json={"phone": "+8613911113333"})
    assert (r.status_code, r.json()["reason"]) == (400, "idempotency_key_required")
    for bad in (
        {"phone": "12"},
        {"phone": "+86abc12345"},
        {"phone": "+8613911114444", "display_name": "x" * 33},
        {"phone": "+8613911114444", "display_name": " "},
        {"phone": "+8613911114444", "extra": 1},
    ):
        r = httpx.post(f"{live.http}/api/v1/volunteers", json=bad, headers={"Idempotency-Key": "b"})
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), bad
    me = httpx.get(f"{live.http}/api/v1/volunteers/me", headers=auth(body["token"])).json()
    assert me["display_name"] == "小王" and me["on_duty"] is False and me["alerts"] == []
    db = Path(settings.store_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"13911112222" not in stored  # only a keyed hash of it


def test_verification_duty_and_position_refuse_what_they_must(live: Running) -> None:
    """Only a dispatcher verifies; no duty before it; no position off duty; bounded values."""
    r = register(live, "+8613922223333", "duty-1")
    vid, token = r.json()["volunteer_id"], r.json()["token"]
    phone = Phone(live, vid, token)
    r = phone.post("duty", {"on_duty": True, "consent_expires_in_s": 600})
    assert (r.status_code, r.json()["reason"]) == (409, "not_verified")
    r = phone.post("location", {"lat": 30.28, "lon": 120.15})
    assert (r.status_code, r.json()["reason"]) == (409, "off_duty")
    verify = f"{live.http}/api/v1/volunteers/{vid}/verify"
    for token_of_other in (token, live.tokens["units"]["ALS01"]):
        assert httpx.post(verify, headers=auth(token_of_other)).status_code == 403
    assert httpx.post(verify).status_code == 401
    r = dispatcher(live, "POST", "/volunteers/vnobody/verify")
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_volunteer")
    r = dispatcher(live, "POST", f"/volunteers/{vid}/verify", json={"cpr_verified": "yes"})
    assert r.status_code == 422
    r = dispatcher(live, "POST", f"/volunteers/{vid}/verify")
    assert r.json() == {"volunteer_id": vid, "display_name": "", "cpr_verified": True}
    for bad in (
        {"on_duty": True},
        {"on_duty": True, "consent_expires_in_s": 12 * 3600 + 1},
        {"on_duty": True, "consent_expires_in_s": 0},
        {"on_duty": "yes"},
    ):
        r = phone.post("duty", bad)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), bad
    r = phone.post("duty", {"on_duty": True, "consent_expires_in_s": 3600})
    assert r.status_code == 200 and r.json()["on_duty"] is True
    assert 3590 <= r.json()["consent_expires_in_s"] <= 3600
    for bad in ({"lat": 91, "lon": 120}, {"lat": 30, "lon": -181}, {"lat": 30}):
        r = phone.post("location", bad)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), bad
    headers = auth(token) | {"content-type": "application/json"}
    url = f"{live.http}/api/v1/volunteers/me/location"
    nan = httpx.post(url, headers=headers, content=b'{"lat": NaN, "lon": 120}')
    assert nan.status_code == 422
    r = phone.post("location", {"lat": 30.28, "lon": 120.15})
    assert r.json()["position"]["lat"] == 30.28
    r = phone.post("duty", {"on_duty": False})
    assert r.json()["on_duty"] is False and r.json()["position"] is None  # forgotten
    r = dispatcher(live, "POST", f"/volunteers/{vid}/verify", json={"cpr_verified": False})
    assert r.json()["cpr_verified"] is False


def test_an_expired_consent_takes_the_volunteer_off_duty(live: Running) -> None:
    """A one-second consent: a position a moment later is refused and the volunteer is off
    duty, their last position forgotten."""
    phone = enlist(live, 1, (HERE["lat"], HERE["lon"]))
    assert phone.post("duty", {"on_duty": True, "consent_expires_in_s": 1}).status_code == 200
    time.sleep(1.2)
    r = phone.post("location", {"lat": 30.28, "lon": 120.15})
    assert (r.status_code, r.json()["reason"]) == (409, "consent_expired")
    me = httpx.get(f"{live.http}/api/v1/volunteers/me", headers=auth(phone.token)).json()
    assert me["on_duty"] is False and me["position"] is None


def test_other_roles_cannot_use_volunteer_endpoints(live: Running) -> None:
    """A caller's, a unit's or a hospital's token is 403 on the volunteer's own endpoints."""
    call = httpx.post(
        f"{live.http}/api/v1/calls",
        json={"phone": "+8613800000066", "consent_location": True, "fix": HERE},
        headers={"Idempotency-Key": "roles-2"},
    ).json()
    others = (
        call["caller_token"],
        live.tokens["units"]["ALS01"],
        live.tokens["hospitals"]["zjpph"],
        live.tokens["dispatcher"],
    )
    for token in others:
        h = auth(token)
        assert httpx.get(f"{live.http}/api/v1/volunteers/me", headers=h).status_code == 403
        r = httpx.post(f"{live.http}/api/v1/volunteers/me/duty", json={"on_duty": False}, headers=h)
        assert r.status_code == 403
        r = httpx.post(
            f"{live.http}/api/v1/volunteers/me/location", json={"lat": 30, "lon": 120}, headers=h
        )
        assert r.status_code == 403
    assert httpx.get(f"{live.http}/api/v1/volunteers/me").status_code == 401


# --- the call-out -------------------------------------------------------------------------------
def test_an_arrest_alerts_the_nearest_eligible_inside_the_radius_up_to_the_cap(
    settings: Settings,
) -> None:
    """Five verified volunteers on duty at 150-750 m, one at 1600 m, an unverified one at 100 m
    and one off duty at 120 m; with a cap of 3 the three nearest eligible are alerted, all
    inside the radius, each told only a distance rounded up to 100 m."""
    running = start(settings, configured(params=VolunteerParams(max_alerted=3)))
    try:
        iid = incident_at(running, (HERE["lat"], HERE["lon"]), "chest_pain", "cap-1")
        here = place_of(running, iid)
        near = [enlist(running, i, offset(*here, d)) for i, d in enumerate((150, 320, 450))]
        farther = [
            enlist(running, 3, offset(*here, -600)),
            enlist(running, 4, offset(*here, 0, 750)),
        ]
        outside = enlist(running, 5, offset(*here, 1600))
        unverified = enlist(running, 6, offset(*here, 100), verified=False)
        off = enlist(running, 7, offset(*here, -120))
        assert off.post("duty", {"on_duty": False}).status_code == 200
        with ExitStack() as stack:
            console = stack.enter_context(running.ws("/ws/console", running.tokens["dispatcher"]))
            json.loads(console.recv(timeout=10))
            sockets = [stack.enter_context(p.socket()) for p in near]
            for p, ws in zip(near, sockets, strict=True):
                assert p.until(ws, of_type("snapshot"))["volunteer"]["on_duty"] is True
            triage_arrest(running, iid)
            status = recv_status(console, iid)
            pairs = zip(near, sockets, strict=True)
            alerts = [p.until(ws, of_type("volunteer.alert")) for p, ws in pairs]
        alerted = {row["volunteer_id"]: row for row in status["volunteers"]}
        assert set(alerted) == {p.volunteer_id for p in near}
        assert all(row["distance_m"] <= status["radius_m"] for row in alerted.values())
        assert status["radius_m"] < 1600  # the outside one was out of reach, not capped away
        assert status["counts"]["alerted"] == 3 and status["called_out"] is True
        assert [a["distance_m"] for a in alerts] == [200, 400, 500]  # 150, 320, 450 rounded up
        assert all(a["address"] is None and a["lat"] is None for a in alerts)
        view = dispatcher(running, "GET", f"/incidents/{iid}/volunteers").json()
        assert view["volunteers"] == status["volunteers"]
        for p in (*farther, outside, unverified, off):
            me = httpx.get(f"{running.http}/api/v1/volunteers/me", headers=auth(p.token)).json()
            assert me["alerts"] == []
        assert_private([*near[0].frames, *near[1].frames, *near[2].frames])
    finally:
        running.stop()


def recv_status(console: ClientConnection, iid: str) -> dict[str, Any]:
    for _ in range(200):
        frame: dict[str, Any] = json.loads(console.recv(timeout=10))
        if frame["type"] == "volunteers.status" and frame["incident_id"] == iid:
            assert "display_name" not in json.dumps(frame) and "phone" not in json.dumps(frame)
            return frame
    raise AssertionError("no volunteers.status")


def test_one_acceptor_fetches_the_aed_the_other_goes_to_cpr(quiet: Running) -> None:
    """With no ambulance to beat it soon, the acceptor standing at the AED fetches it and the
    one beside the patient starts CPR; only an acceptor sees the address; with_aed is for the
    fetcher only; withdrawing ends the alert and the place is gone from the view."""
    live = quiet
    iid = incident_at(live, NEAR_0033, "chest_pain", "roles-1")
    here = place_of(live, iid)
    beside = enlist(live, 1, offset(*here, 30))
    at_aed = enlist(live, 2, offset(*AED_0033, 10))
    with beside.socket() as b, at_aed.socket() as f:
        beside.until(b, of_type("snapshot"))
        at_aed.until(f, of_type("snapshot"))
        triage_arrest(live, iid)
        assert beside.until(b, of_type("volunteer.alert"))["address"] is None
        assert at_aed.until(f, of_type("volunteer.alert"))["address"] is None
        assert answer(beside, b, iid, "accept")["status"] == "accepted"
        mark = len(at_aed.frames)
        reply = answer(at_aed, f, iid, "accept")
        assert (reply["status"], reply["role"]) == ("accepted", "fetch_aed")
        fetch = at_aed.until(f, of_type("volunteer.update"), mark)
        assert fetch["role"] == "fetch_aed" and fetch["address"]
        assert (fetch["lat"], fetch["lon"]) == pytest.approx(here)
        assert fetch["aed"]["location"] and (fetch["aed"]["lat"], fetch["aed"]["lon"]) == AED_0033
        cpr = beside.until(b, lambda x: x["type"] == "volunteer.update" and x["role"] == "cpr", 0)
        assert cpr["address"] and cpr["aed"] is None
        assert answer(beside, b, iid, "with_aed")["reason"] == "illegal_transition"
        for step in ("en_route", "with_aed", "on_scene"):
            assert answer(at_aed, f, iid, step)["status"] == step
        view = dispatcher(live, "GET", f"/incidents/{iid}/volunteers").json()
        roles = {r["volunteer_id"]: (r["status"], r["role"]) for r in view["volunteers"]}
        assert roles == {
            beside.volunteer_id: ("accepted", "cpr"),
            at_aed.volunteer_id: ("on_scene", "fetch_aed"),
        }
        mark = len(beside.frames)
        assert answer(beside, b, iid, "withdraw")["status"] == "cancelled"
        ended = beside.until(b, of_type("volunteer.ended"), mark)
        assert ended["reason"] == "withdrawn" and ended["address"] is None
        assert answer(beside, b, iid, "accept")["reason"] == "illegal_transition"
    assert_private(beside.frames + at_aed.frames)


def test_alerts_end_when_the_ambulance_is_on_scene(live: Running) -> None:
    """A call for a cardiac arrest alerts at once; when the unit reports on scene every live
    alert ends (ambulance_arrived), the volunteer's last frame has no address, and their
    state no longer lists the alert."""
    here = (HERE["lat"], HERE["lon"])
    first = enlist(live, 1, offset(*here, 200))
    second = enlist(live, 2, offset(*here, -250))
    with (
        first.socket() as a,
        second.socket() as b,
        live.ws("/ws/console", live.tokens["dispatcher"]) as console,
    ):
        json.loads(console.recv(timeout=10))
        first.until(a, of_type("snapshot"))
        second.until(b, of_type("snapshot"))
        iid = incident_at(live, here, "cardiac_arrest", "arrival-1")
        first.until(a, of_type("volunteer.alert"))
        second.until(b, of_type("volunteer.alert"))
        mark = len(first.frames)
        assert answer(first, a, iid, "accept")["status"] == "accepted"
        assert first.until(a, of_type("volunteer.update"), mark)["address"]
        unit = auth(live.tokens["units"]["ALS01"])
        r = dispatcher(live, "POST", f"/incidents/{iid}/assignment", json={"unit_id": "ALS01"})
        assert r.status_code == 201
        for status in ("en_route", "on_scene"):
            r = httpx.post(
                f"{live.http}/api/v1/units/ALS01/status", json={"status": status}, headers=unit
            )
            assert r.status_code == 200, r.text
        for phone, ws in ((first, a), (second, b)):
            ended = phone.until(ws, of_type("volunteer.ended"))
            assert ended["reason"] == "ambulance_arrived" and ended["status"] == "cancelled"
            assert ended["address"] is None and ended["distance_m"] is None
        final = recv_status(console, iid)
        while final["counts"]["cancelled"] < 2:
            final = recv_status(console, iid)
        assert {r["ended"] for r in final["volunteers"]} == {"ambulance_arrived"}
    me = httpx.get(f"{live.http}/api/v1/volunteers/me", headers=auth(first.token)).json()
    assert me["alerts"] == []
    assert_private(first.frames + second.frames + [me])


def test_an_acceptor_follows_a_move_and_the_alert_ends_when_the_incident_is_cancelled(
    live: Running,
) -> None:
    """The dispatcher pins the incident elsewhere: the acceptor gets the new place. Cancelling
    the incident then ends the alert (incident_cancelled), without address."""
    here = (HERE["lat"], HERE["lon"])
    phone = enlist(live, 1, offset(*here, 0, 300))
    with phone.socket() as ws:
        phone.until(ws, of_type("snapshot"))
        iid = incident_at(live, here, "cardiac_arrest", "cancel-1")
        phone.until(ws, of_type("volunteer.alert"))
        assert answer(phone, ws, iid, "accept")["status"] == "accepted"
        moved = offset(*here, 120)
        pin = {"pin": {"lat": moved[0], "lon": moved[1]}}
        assert dispatcher(live, "POST", f"/incidents/{iid}/location", json=pin).status_code == 200
        update = phone.until(ws, lambda f: f["type"] == "volunteer.update" and f["lat"] == moved[0])
        assert update["address"] and update["lon"] == moved[1]
        r = dispatcher(live, "POST", f"/incidents/{iid}/cancel", json={"reason": "false alarm"})
        assert r.status_code == 200
        ended = phone.until(ws, of_type("volunteer.ended"))
    assert ended["reason"] == "incident_cancelled" and ended["address"] is None
    assert_private(phone.frames)


def test_a_triage_to_another_complaint_ends_the_alerts(live: Running) -> None:
    """Re-triaged from cardiac arrest to chest pain: nobody should run there any more."""
    here = (HERE["lat"], HERE["lon"])
    phone = enlist(live, 1, offset(*here, 150))
    with phone.socket() as ws:
        phone.until(ws, of_type("snapshot"))
        iid = incident_at(live, here, "cardiac_arrest", "retriage-1")
        phone.until(ws, of_type("volunteer.alert"))
        body = {"priority": 2, "complaint": "chest_pain"}
        assert dispatcher(live, "POST", f"/incidents/{iid}/triage", json=body).status_code == 200
        ended = phone.until(ws, of_type("volunteer.ended"))
    assert ended["reason"] == "incident_cancelled" and ended["incident_id"] == iid
    assert_private(phone.frames)


def test_an_unanswered_alert_lapses(settings: Settings) -> None:
    """With a half-second answer timeout the clock tick ends an unanswered alert (no_answer)."""
    running = start(settings, configured(answer_timeout_s=0.5))
    try:
        here = (HERE["lat"], HERE["lon"])
        phone = enlist(running, 1, offset(*here, 100))
        with phone.socket() as ws:
            phone.until(ws, of_type("snapshot"))
            iid = incident_at(running, here, "cardiac_arrest", "lapse-1")
            phone.until(ws, of_type("volunteer.alert"))
            ended = phone.until(ws, of_type("volunteer.ended"))
            assert answer(phone, ws, iid, "accept")["reason"] == "illegal_transition"
        assert ended["reason"] == "no_answer" and ended["incident_id"] == iid
    finally:
        running.stop()


# --- sockets and frames ---------------------------------------------------------------------------
def test_a_volunteer_socket_is_that_volunteer_s_only(live: Running) -> None:
    """Another volunteer's token 4403, a unit's 4403, none 4401, a bad since 4400; a volunteer
    token reads no incident (403) and verifies nobody (403)."""
    mine = enlist(live, 1, (HERE["lat"], HERE["lon"]))
    theirs = enlist(live, 2, (HERE["lat"], HERE["lon"]))
    path = f"/ws/volunteers/{mine.volunteer_id}"
    for token, code in (
        (theirs.token, 4403),
        (live.tokens["units"]["ALS01"], 4403),
        ("nobody-knows-this-token", 4401),
    ):
        with live.ws(path, token) as ws:
            assert closed_with(ws) == code
    with live.ws(path, mine.token, since="abc") as ws:
        assert closed_with(ws) == 4400
    with live.ws("/ws/volunteers", mine.token) as ws:
        assert closed_with(ws) == 4404
    iid = incident_at(live, (HERE["lat"], HERE["lon"]), "chest_pain", "socket-1")
    h = auth(mine.token)
    assert httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=h).status_code == 403
    assert httpx.get(f"{live.http}/api/v1/incidents", headers=h).status_code == 403
    r = httpx.get(f"{live.http}/api/v1/incidents/{iid}/volunteers", headers=h)
    assert r.status_code == 403
    r = httpx.post(f"{live.http}/api/v1/volunteers/{mine.volunteer_id}/verify", headers=h)
    assert r.status_code == 403
    assert dispatcher(live, "GET", "/incidents/nope/volunteers").status_code == 404
    view = dispatcher(live, "GET", f"/incidents/{iid}/volunteers").json()
    assert view["called_out"] is False and view["volunteers"] == []


def test_frames_on_the_socket_and_bad_input(live: Running) -> None:
    """Duty and position go over the socket too; every malformed or refused frame gets an error
    frame with a machine-readable reason and the socket stays open."""
    phone = enlist(live, 1, (HERE["lat"], HERE["lon"]))
    with phone.socket() as ws:
        snap = phone.until(ws, of_type("snapshot"))
        assert snap["volunteer"]["position"]["lat"] == HERE["lat"]

        def send(frame: Any) -> dict[str, Any]:
            ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            return phone.until(ws, lambda f: f["type"] in ("accepted", "error"))

        assert send({"type": "location", "lat": 30.281, "lon": 120.147})["frame"] == "location"
        bad = [
            ("not json", "malformed_frame"),
            ([1, 2], "malformed_frame"),
            ({"type": "dance"}, "invalid_event"),
            ({"type": "location", "lat": 95, "lon": 120}, "invalid_input"),
            ({"type": "location", "lat": True, "lon": 120}, "invalid_input"),
            ({"type": "location", "lat": "30", "lon": 120}, "invalid_input"),
            ({"type": "duty", "on_duty": "yes"}, "invalid_input"),
            ({"type": "duty", "on_duty": True, "consent_expires_in_s": 1e9}, "invalid_input"),
            ({"type": "accept", "incident_id": "I-nope"}, "unknown_incident"),
            ({"type": "accept", "incident_id": 5}, "unknown_incident"),
        ]
        for frame, reason in bad:
            assert send(frame)["reason"] == reason, frame
        r = send({"type": "duty", "on_duty": True, "consent_expires_in_s": 60})
        assert r["on_duty"] is True and r["consent_expires_in_s"] <= 60
        assert send({"type": "duty", "on_duty": False})["on_duty"] is False
        assert send({"type": "location", "lat": 30.28, "lon": 120.15})["reason"] == "off_duty"


# --- restart and resume ---------------------------------------------------------------------------
def test_a_restart_keeps_registrations_and_alerts_and_a_resume_gets_what_was_missed(
    settings: Settings,
) -> None:
    """Registered and verified before a restart: the retry answers the same id and token, the
    token still works, verification is kept and duty is not. An alert accepted before the
    restart still ends when the incident is cancelled after it; the volunteer, away meanwhile,
    resumes from their last seq and gets exactly that frame; a replay from 0 shows no address
    any more."""
    here = (HERE["lat"], HERE["lon"])
    first = start(settings)
    try:
        phone = enlist(first, 1, offset(*here, 200))
        pending = register(first, "+8613933334444", "restart-2").json()
        iid = incident_at(first, here, "cardiac_arrest", "restart-1")
        with phone.socket(since="0") as ws:
            phone.until(ws, of_type("volunteer.alert"))
            mark = len(phone.frames)
            assert answer(phone, ws, iid, "accept")["status"] == "accepted"
            last = phone.until(ws, of_type("volunteer.update"), mark)["seq"]
    finally:
        first.stop()
    second = start(settings)
    phone.live = second
    try:
        again = register(second, "+8613900000001", "enlist-1")
        assert again.status_code == 200
        assert (again.json()["volunteer_id"], again.json()["token"]) == (
            phone.volunteer_id,
            phone.token,
        )
        assert again.json()["cpr_verified"] is True
        repeat = register(second, "+8613933334444", "restart-2").json()
        assert repeat == {**pending, "stream_url": repeat["stream_url"]}
        me = httpx.get(f"{second.http}/api/v1/volunteers/me", headers=auth(phone.token)).json()
        assert me["on_duty"] is False and me["position"] is None  # in memory only
        assert [(a["status"], bool(a["address"])) for a in me["alerts"]] == [("accepted", True)]
        trail = dispatcher(second, "GET", "/audit").json()
        reads = {(r["subject"], r["action"]) for r in trail if iid in r["incident_ids"]}
        assert (phone.volunteer_id, "volunteer.state") in reads  # the address shown is audited
        view = dispatcher(second, "GET", f"/incidents/{iid}/volunteers").json()
        assert [(r["volunteer_id"], r["status"]) for r in view["volunteers"]] == [
            (phone.volunteer_id, "accepted")
        ]
        r = dispatcher(second, "POST", f"/incidents/{iid}/cancel", json={"reason": "test"})
        assert r.status_code == 200
        with phone.socket(since=str(last)) as ws:
            missed = phone.until(ws, lambda f: True)
        assert missed["type"] == "volunteer.ended" and missed["seq"] == last + 1
        assert missed["reason"] == "incident_cancelled"
        with phone.socket(since="0") as ws:
            replayed = [phone.until(ws, lambda f: True) for _ in range(last + 1)]
    finally:
        second.stop()
    assert [f["seq"] for f in replayed] == list(range(1, last + 2))
    assert [f["type"] for f in replayed] == [
        "volunteer.alert",
        *["volunteer.update"] * (last - 1),
        "volunteer.ended",
    ]
    assert all(f["address"] is None and f["lat"] is None for f in replayed)
    assert any(f.get("address") for f in phone.frames)  # it was shown while accepted, live
    assert_private(phone.frames + replayed)
