"""A simulated unit: its tablet socket and the crew pressing its buttons through a whole job.

Every time below is the call's own draw (`simulator.world.calls.CallSpec`). On `offer.sent` the
crew acknowledges on every device the offer names (tablet, doctor, driver), turns out (from a
station or from the road), reports `en_route` and drives the routed path at the road's speed
times the call's driving noise, a `position` frame every wall second. On scene: `on_scene`,
the patient's age band and sex (`patient`), the on-scene time. Then either back in service on
the spot (`available_on_road`, a patient treated and left), or `transporting`: the server
chooses the hospital (read from the console's `destination.chosen`; the unit's socket gets it too),
the unit drives there streaming the monitor (`vitals`, one frame a wall second with one second
of MIT-BIH ECG) until the handover, reports `at_hospital`, hands over (`POST .../handover`,
the crew's token) after `OFFLOAD_SHARE` of the call's at-hospital time, and reports
`available_on_road` at its end. Then it drives back to its station, still available; a new
offer interrupts that.

Every status is a request: the crew waits for the server's `accepted` before going on, so
the simulator's record of the call never runs ahead of the server. A refused or unanswered
step is counted and ends the job (`offer.withdrawn` also ends it).

A call the simulator did not place (a person made it and dispatched it from the console) is
taken too, with the demand model's median times, treated on the spot (`by_hand`), so a test
or a demo visitor sees the crew acknowledge and go. While on any job, from the offer to back
in service, the camera sends `video_fps` pictures a wall second (`simulator.live.video_frames`;
0: none) as binary frames; each waits for its answer before the next is due, so the server's
4-a-second limit is never crossed; a refusal other than `too_fast` turns the camera off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any

import numpy as np

from dispatch.core.model import Complaint, IncidentId, Priority
from simulator.live.context import LiveContext
from simulator.live.drive import DrivePath
from simulator.live.link import Frame, Link
from simulator.live.summary import CallRecord
from simulator.live.video_frames import Camera
from simulator.live.vitals import Monitor, draw_patient, fingerprint
from simulator.world.calls import (
    AT_HOSPITAL,
    ON_SCENE_TREATED,
    TURNOUT_AT_STATION,
    TURNOUT_ON_ROAD,
    CallSpec,
)

DESTINATION_WAIT_S = 10.0  # wall seconds for the server's choice of hospital to show up
# The demand model's at-hospital time runs from arrival to available again (the SF log has no
# handover time); the handover is put at this share of it (an assumption: offload and clearing
# are reported of similar length).
OFFLOAD_SHARE = 0.5
OFFERS_QUEUED = 4
VIDEO_ANSWER_S = 5.0  # wall seconds a picture's answer may take before the next is sent


class Tablet:
    """One unit's tablet and crew."""

    def __init__(
        self,
        ctx: LiveContext,
        unit: dict[str, Any],
        rng: np.random.Generator,
        video_fps: float = 0.0,
    ) -> None:
        self.ctx = ctx
        self.unit_id: str = unit["unit_id"]
        self.token: str = ctx.endpoints.tokens["units"][self.unit_id]
        self.station = (float(unit["lat"]), float(unit["lon"]))
        self.pos = self.station
        self.rng = rng
        self.vitals_seq = 0  # per unit, across patients
        self.offers: asyncio.Queue[Frame] = asyncio.Queue(OFFERS_QUEUED)
        self._job: asyncio.Task[Any] | None = None
        self._return_noise = 1.0  # the last call's factor, for the drive back to the station
        self.at_station = True  # parked there: turnout from the station, not from the road
        self._job_incident: str | None = None
        self.video_fps = video_fps
        self.camera = Camera(self.unit_id) if video_fps > 0 else None
        self._last_picture: asyncio.Future[Frame] | None = None  # its answer, once sent
        self._next_picture_s = 0.0  # monotonic time the next picture may go (one per unit)
        url = f"{ctx.endpoints.ws}/ws/units/{self.unit_id}?token={self.token}"
        self.link = Link(f"tablet {self.unit_id}", lambda: url, self._on_frame, ctx.tally)

    def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "offer.sent":
            try:
                self.offers.put_nowait(frame)
            except asyncio.QueueFull:
                self.ctx.tally.error("tablet offer queue full")
        elif kind == "offer.withdrawn":
            self.ctx.tally.count("offers withdrawn")
            if self._job is not None and self._job_incident == frame.get("incident_id"):
                self._job.cancel()

    async def run(self) -> None:
        """Take offers until the run stops; between jobs, drive home."""
        home: asyncio.Task[Any] | None = None
        while not self.ctx.stop.is_set():
            offer = await _first(self.offers.get(), self.ctx.stop.wait())
            if offer is None:
                break
            if home is not None:
                home.cancel()
                await asyncio.gather(home, return_exceptions=True)
            self._job_incident = offer["incident_id"]
            self._job = self.ctx.spawn(self._take(offer), "tablet")
            filming = self.ctx.spawn(self._film(offer["incident_id"]), "camera")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._job])
            filming.cancel()
            await asyncio.gather(filming, return_exceptions=True)
            self._job = self._job_incident = None
            if not self.ctx.stop.is_set():
                home = self.ctx.spawn(self._go_home(), "tablet")
        if home is not None:
            home.cancel()
            await asyncio.gather(home, return_exceptions=True)

    # --- the job ----------------------------------------------------------------------------------
    async def _take(self, offer: Frame) -> None:
        ctx = self.ctx
        iid: str = offer["incident_id"]
        record = ctx.record_now(iid)
        if record is None:  # a call a person made and dispatched: the crew goes all the same
            record = by_hand(offer, ctx.city_s(), self.rng)
            ctx.tally.count("jobs dispatched by hand")
        spec = record.spec
        if spec is None:
            ctx.tally.error("offer for a call without its draw")
            return
        record.at.setdefault("offered", ctx.wall())
        turnout_s = spec.turnout_station_s if self.at_station else spec.turnout_road_s
        self.at_station, self._return_noise = False, spec.return_noise
        for device in offer.get("devices", ["tablet"]):
            if await self._send({"type": "ack", "incident_id": iid, "device": device}) is None:
                return
        record.reached("acknowledged", ctx.wall())
        if not await ctx.pause_city(turnout_s):
            return
        if not await self._status("en_route", record):
            return
        place = offer["place"]
        if not await self._drive(self._path_to(place["lat"], place["lon"], spec.drive_noise)):
            return
        if not await self._status("on_scene", record):
            return
        described = {"type": "patient", "age_band": record.age_band, "sex": record.sex}
        if await self._send(described) is None or not await ctx.pause_city(spec.on_scene_s):
            return
        if not spec.transport:
            await self._status("available_on_road", record, "back_in_service")
            return
        if not await self._status("transporting", record):
            return
        await self._transport(iid, record, spec)

    async def _transport(self, iid: str, record: CallRecord, spec: CallSpec) -> None:
        ctx = self.ctx
        hospital_id = await ctx.destination_of(iid, DESTINATION_WAIT_S)
        door = ctx.hospital_doors.get(hospital_id) if hospital_id is not None else None
        if door is None:
            ctx.tally.error("no hospital chosen at transport")
            return
        record.hospital_id = hospital_id
        monitor = Monitor(record.complaint, self.rng)
        streaming = asyncio.create_task(self._stream(monitor))
        try:
            if not await self._drive(self._path_to(*door, spec.transport_noise)):
                return
            if not await self._status("at_hospital", record):
                return
            if not await ctx.pause_city(spec.at_hospital_s * OFFLOAD_SHARE):
                return
            path = f"/api/v1/incidents/{iid}/handover"
            if await ctx.api("POST", path, self.token) is None:
                return
            ctx.tally.count("handovers")
            record.reached("handed_over", ctx.wall())
        finally:
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
        if await ctx.pause_city(spec.at_hospital_s * (1.0 - OFFLOAD_SHARE)):
            await self._status("available_on_road", record, "back_in_service")

    # --- frames -----------------------------------------------------------------------------------
    async def _send(self, frame: Frame) -> Frame | None:
        return await self.link.request(frame)

    async def _status(self, status: str, record: CallRecord, phase: str | None = None) -> bool:
        sent = self.ctx.wall()
        answer = await self._send({"type": "status", "status": status})
        if answer is None:
            return False
        now = self.ctx.wall()
        self.ctx.tally.sample("tablet status → accepted", now - sent)
        record.reached(phase or status, now)
        return True

    async def _go_home(self) -> None:
        """Back to the station, available on the road all the way (an offer interrupts)."""
        if await self._drive(self._path_to(*self.station, self._return_noise)):
            self.at_station = True

    def _path_to(self, lat: float, lon: float, noise: float = 1.0) -> DrivePath:
        return self.ctx.path(self.pos[0], self.pos[1], lat, lon, noise)

    async def _drive(self, path: DrivePath) -> bool:
        """Move along `path` at the run's speed, one position frame a wall second."""
        t0 = self.ctx.wall()
        while True:
            t_s = (self.ctx.wall() - t0) * self.ctx.speed
            lat, lon = path.at(t_s)
            self.pos = (lat, lon)
            await self.link.send({"type": "position", "lat": round(lat, 6), "lon": round(lon, 6)})
            self.ctx.tally.count("positions sent")
            if t_s >= path.duration_s:
                return True
            if not await self.ctx.pause(min(1.0, (path.duration_s - t_s) / self.ctx.speed)):
                return False

    async def _stream(self, monitor: Monitor) -> None:
        """One vitals frame a wall second (its ECG is one real second) until cancelled."""
        while True:
            self.vitals_seq += 1
            frame = monitor.frame(self.vitals_seq, time.time())
            fut = await self.link.expect(frame)
            if fut is not None:
                self.ctx.vitals_out(self.unit_id, self.vitals_seq, fingerprint(frame))
                self.ctx.tally.count("vitals_sent")
                fut.add_done_callback(self._vitals_answered)
            await asyncio.sleep(1.0)

    def _vitals_answered(self, fut: asyncio.Future[Frame]) -> None:
        if not fut.cancelled() and fut.exception() is None and fut.result()["type"] == "accepted":
            self.ctx.tally.count("vitals_accepted")

    async def _film(self, incident_id: str) -> None:
        """The camera on a job: a picture every 1 / `video_fps` wall seconds after the last
        one's answer, until cancelled; off for the run after a refusal other than too_fast."""
        while self.camera is not None:
            await self._picture_due()
            jpeg = self.camera.picture(incident_id, self.ctx.city_s(), time.time())
            fut = await self.link.expect(jpeg)
            self._next_picture_s = time.monotonic() + 1.0 / self.video_fps
            if fut is None:
                continue  # not connected: the next one when due
            self._last_picture = fut
            self.ctx.tally.count("video_sent")
            try:
                answer = await asyncio.wait_for(asyncio.shield(fut), VIDEO_ANSWER_S)
            except TimeoutError:
                self.ctx.tally.error("no answer to video (tablet)")
                continue
            except ConnectionError:
                continue  # the link counts the drop and reopens
            self._next_picture_s = time.monotonic() + 1.0 / self.video_fps
            if answer["type"] == "accepted":
                self.ctx.tally.count("video_accepted")
            elif answer.get("reason") != "too_fast":  # counted by the link
                self.camera = None

    async def _picture_due(self) -> None:
        """Until the next picture may go: the last one answered (a job that ended may have left
        it in flight: the server has taken it only then) and 1 / `video_fps` after that."""
        last = self._last_picture
        if last is not None and not last.done():
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(asyncio.shield(last), VIDEO_ANSWER_S)
            self._next_picture_s = time.monotonic() + 1.0 / self.video_fps
        await asyncio.sleep(max(0.0, self._next_picture_s - time.monotonic()))


def by_hand(offer: Frame, city_s: float, rng: np.random.Generator) -> CallRecord:
    """The record of a call a person dispatched: the offer's triage, the demand model's median
    turnout, on-scene and at-hospital times, the road's own driving time, treated on the spot."""
    complaint = str(offer.get("complaint") or "other")
    place = offer["place"]
    spec = CallSpec(
        incident_id=IncidentId(offer["incident_id"]),
        at_s=city_s,
        lat=float(place["lat"]),
        lon=float(place["lon"]),
        zone=-1,
        complaint=Complaint(complaint),
        priority=Priority(int(offer.get("priority") or 2)),
        triage_s=0.0,
        turnout_station_s=TURNOUT_AT_STATION.median_s,
        turnout_road_s=TURNOUT_ON_ROAD.median_s,
        drive_noise=1.0,
        on_scene_s=ON_SCENE_TREATED.median_s,
        transport=False,
        transport_noise=1.0,
        at_hospital_s=AT_HOSPITAL.median_s,
        return_noise=1.0,
    )
    age_band, sex = draw_patient(rng, complaint)
    record = CallRecord("by hand", complaint, int(spec.priority), spec, age_band=age_band, sex=sex)
    record.incident_id = offer["incident_id"]
    return record


async def _first(get: Awaitable[Frame], stop: Awaitable[Any]) -> Frame | None:
    """The offer, or None when `stop` happens first."""
    tasks = [asyncio.ensure_future(get), asyncio.ensure_future(stop)]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    first = tasks[0]
    if first in done and not first.cancelled():
        offer: Frame = first.result()
        return offer
    return None
