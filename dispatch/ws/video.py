"""In-vehicle video ("车内实况视频"): a tablet's JPEG frames relayed live to who may watch.

A tablet sends low-rate JPEG pictures (about 2 a second) as binary websocket frames on its own
socket (`/ws/units/{id}`). Each is checked (a JPEG, at most `max_body_bytes`, at most `MAX_FPS`
a second: faster ones are dropped and said so) and published as a `video.frame` on two
topics: `video:<unit>`, which dispatchers (the cockpit) may watch, and
`video:<unit>@<hospital>` for the hospital the unit's patient is routed to. A re-route or the
end of the job ends the old hospital's topic, so its view closes at once; nobody else may
watch. Video is not logged and the hub keeps no history of it; it is kept in memory only for
`video_keep_s` (default 0: not at all), and a viewer who connects gets the newest kept frame
first.

    /ws/video/<unit>?token=   a dispatcher, or the receiving hospital of that unit's patient
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from websockets.asyncio.server import ServerConnection

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, Step, UnitId
from dispatch.errors import IllegalTransition, InvalidEvent
from dispatch.service.service import DispatchService
from dispatch.service.views import Frame
from dispatch.tokens import Role
from dispatch.ws.server import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    JPEG_MAGIC,
    WsRoute,
    stream_topic,
)

MAX_FPS = 4.0  # a tablet sending faster is sent "too_fast" and the frame is dropped
NAME = "video"


class NotJpeg(InvalidEvent):
    reason = "not_jpeg"


class TooFast(InvalidEvent):
    reason = "too_fast"


def dispatch_topic(unit_id: str) -> str:
    return f"video:{unit_id}"


def hospital_topic(unit_id: str, hospital_id: str) -> str:
    return f"video:{unit_id}@{hospital_id}"


class VideoRelay:
    """The relay's state: who is routed where, when each unit last sent, the kept frames."""

    def __init__(self, svc: DispatchService, keep_s: float) -> None:
        self.svc = svc
        self.keep_s = keep_s
        self._routed: dict[str, str] = {}  # unit -> the hospital that may watch it
        self._last_at: dict[str, float] = {}  # unit -> monotonic time of its last frame
        self._kept: dict[str, deque[tuple[float, dict[str, Any]]]] = {}
        self.relayed = 0

    def frame(self, unit_id: str, jpeg: bytes) -> dict[str, Any]:
        """Check and relay one picture from a unit's tablet; the reply for the tablet."""
        if not jpeg.startswith(JPEG_MAGIC):
            raise NotJpeg("video frames are JPEG pictures")
        now = time.monotonic()
        if now - self._last_at.get(unit_id, -1e9) < 1.0 / MAX_FPS:
            raise TooFast(f"at most {MAX_FPS:g} frames a second; this one was dropped")
        self._last_at[unit_id] = now
        message = {
            "type": "video.frame",
            "unit_id": unit_id,
            "at_s": round(time.time(), 3),
            "jpeg": base64.b64encode(jpeg).decode("ascii"),
        }
        self.svc.hub.publish(dispatch_topic(unit_id), message)
        hospital = self._routed.get(unit_id)
        if hospital is not None:
            self.svc.hub.publish(hospital_topic(unit_id, hospital), message)
        if self.keep_s > 0:
            kept = self._kept.setdefault(unit_id, deque())
            kept.append((now, message))
            while kept and now - kept[0][0] > self.keep_s:
                kept.popleft()
        self.relayed += 1
        return {"type": "accepted", "frame": "video", "at_s": message["at_s"]}

    def latest(self, unit_id: str) -> dict[str, Any] | None:
        kept = self._kept.get(unit_id)
        if not kept or time.monotonic() - kept[-1][0] > self.keep_s:
            return None
        return kept[-1][1]

    # --- who may watch ---------------------------------------------------------------------
    def watch(self, event: ev.Event, decisions: list[ev.Decision]) -> Iterable[Frame]:
        """Keep `_routed` to each unit's patient's hospital; end a hospital's view when the
        patient is re-routed elsewhere, handed over or the job ends."""
        touched: set[IncidentId] = set()
        if isinstance(event, ev.DestinationChosen):
            touched.add(event.incident_id)
        for d in decisions:
            if isinstance(d, ev.IncidentStepped | ev.UnitChanged) and d.incident_id is not None:
                touched.add(d.incident_id)
            if isinstance(d, ev.UnitChanged) and d.incident_id is None:
                self._route(d.unit_id, None)
        for incident_id in touched:
            inc = self.svc.engine.incidents.get(incident_id)
            if inc is None or inc.unit_id is None:
                continue
            done = not inc.open or Step.TRANSFER_OF_CARE in inc.timeline
            self._route(inc.unit_id, None if done else inc.destination)
        return ()

    def _route(self, unit_id: str, hospital: str | None) -> None:
        before = self._routed.get(unit_id)
        if before == hospital:
            return
        if before is not None:
            self.svc.hub.end(hospital_topic(unit_id, before))
        if hospital is None:
            self._routed.pop(unit_id, None)
        else:
            self._routed[unit_id] = hospital

    def may_watch(self, who: tuple[Role, str], unit_id: str) -> str | None:
        """The topic `who` may watch of this unit's video, or None."""
        if who[0] is Role.DISPATCHER:
            return dispatch_topic(unit_id)
        if who[0] is Role.HOSPITAL and self._routed.get(unit_id) == who[1]:
            return hospital_topic(unit_id, who[1])
        return None


async def video_socket(
    svc: DispatchService,
    conn: ServerConnection,
    who: tuple[Role, str] | None,
    rest: list[str],
    query: dict[str, str],
) -> None:
    """`/ws/video/<unit>`: a dispatcher, or the hospital that unit's patient goes to."""
    relay = svc.extensions.get(NAME)
    if not isinstance(relay, VideoRelay) or len(rest) != 1:
        return await conn.close(CLOSE_NOT_FOUND, "no such socket")
    unit_id = rest[0]
    if who is None:
        return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
    topic = relay.may_watch(who, unit_id)
    if topic is None:
        return await conn.close(CLOSE_FORBIDDEN, "dispatchers and the receiving hospital")
    if UnitId(unit_id) not in svc.engine.units:
        return await conn.close(CLOSE_NOT_FOUND, "no such unit")
    snapshot = {
        "type": "snapshot",
        "last_seq": svc.hub.last_seq(topic),
        "unit_id": unit_id,
        "latest": relay.latest(unit_id),
    }
    await stream_topic(conn, svc, topic, None, lambda: snapshot)


def relay_of(svc: DispatchService) -> VideoRelay:
    relay = svc.extensions.get(NAME)
    if not isinstance(relay, VideoRelay):
        raise IllegalTransition("video is not enabled on this server")
    return relay


def attach(svc: DispatchService) -> dict[str, WsRoute]:
    """Enable the relay: its watcher, its socket, and `svc.extensions["video"]`."""
    relay = VideoRelay(svc, svc.settings.video_keep_s)
    svc.extensions[NAME] = relay
    svc.watchers.append(relay.watch)
    return {NAME: video_socket}
