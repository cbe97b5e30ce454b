"""The websockets: console, tablets and callers, served by the `websockets` library itself.

They listen on their own port (`Settings.ws_port`) beside the HTTP API, in the same process and
loop, sharing the service and its hub. Why not the ASGI websockets of the HTTP app: fan-out is
the hot path (a frame to every console and caller), and an ASGI `send` is a chain of awaits per
client, measured at 0.45x of `websockets.broadcast()`; here the hub writes a frame straight into
an idle connection's buffer (`dispatch.ws.sink.ConnectionSink`) the way `broadcast()` does, and
only a connection that is behind gets a queue and a pump task (docs/server-benchmark.md).

Every connection is authenticated in the handshake by `?token=`: the handshake completes, then
a bad token closes with 4401, a wrong role with 4403, an unknown unit or someone else's incident
with 4404 (docs/wire-protocol.md). A frame from a client larger than `max_body_bytes` closes the
connection with 1009; a client that falls too far behind is closed with 1013 and resyncs.

Hostile input is refused, never an internal error (1011): a handshake whose `Origin` is not
allowed is answered 403, a `since` that is not a sequence number closes with 4400, a frame
nested too deeply with 1008 (the checks: `dispatch.ws.guards`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, UnitId, UnitStatus
from dispatch.errors import DispatchError, IllegalTransition, InvalidEvent, StoreError
from dispatch.live.hub import pump
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from dispatch.tokens import DEFAULT_DEVICE, Role, ack_device
from dispatch.ws.frame_check import FrameCheck, check_for_topic
from dispatch.ws.guards import FrameRefused, origin_allowed, since_of, too_deep
from dispatch.ws.sink import ConnectionSink
from dispatch.ws.vitals_relay import relay_vitals

logger = logging.getLogger("jijiu.ws")

CLOSE_BAD_REQUEST, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4400, 4401, 4403, 4404
CLOSE_LAGGING = 1013  # "try again later": reconnect with ?since=<last seq>
CLOSE_POLICY = 1008  # a frame we refuse to read at all (nested too deeply)
OnFrame = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
# An extension's socket, /ws/<kind>/...: (service, connection, who or None, the path segments
# after <kind>, the query). It authenticates and closes with the codes above, or streams with
# `stream_topic`. A desk's `attach` returns its sockets by kind; the app hands the table to
# `serve_websockets` (`app.state.ws_routes`).
WsRoute = Callable[
    [DispatchService, ServerConnection, tuple[Role, str] | None, list[str], dict[str, str]],
    Awaitable[None],
]
WsRoutes = Mapping[str, WsRoute]
JPEG_MAGIC = b"\xff\xd8\xff"  # a binary frame starting so is a picture (dispatch.ws.video)


@runtime_checkable
class VideoSink(Protocol):
    """What a unit's socket hands its pictures to (dispatch.ws.video.VideoRelay)."""

    def frame(self, unit_id: str, jpeg: bytes) -> dict[str, Any]: ...


async def serve_websockets(
    svc: DispatchService, settings: Settings, routes: WsRoutes | None = None
) -> Server:
    """Start listening on settings.host:ws_port (0: a free port; see `Server.sockets`); the
    console, unit, caller and hospital sockets are built in, `routes` adds the desks' own."""
    extensions: WsRoutes = dict(routes or {})

    async def handler(conn: ServerConnection) -> None:
        if settings.ws_send_buffer_bytes:
            sock = conn.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.ws_send_buffer_bytes)
        await _route(svc, conn, extensions)

    allowed = tuple(o.strip() for o in settings.ws_allowed_origins.split(",") if o.strip())

    def check_origin(conn: ServerConnection, request: Request) -> Response | None:
        if origin_allowed(request, allowed):
            return None
        return conn.respond(403, "origin not allowed\n")

    return await serve(
        handler,
        settings.host,
        settings.ws_port,
        max_size=settings.max_body_bytes,
        process_request=check_origin,
        compression=None,  # frames are encoded once for all clients; deflate would redo it each
        ping_interval=20,
        ping_timeout=20,
        close_timeout=1,
        backlog=2048,
        logger=logging.getLogger("jijiu.ws.protocol"),
        ssl=tls_context(settings),  # wss:// when `serve --certfile --keyfile`
    )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from `certfile` and `keyfile` (PEM); None: plain ws://."""
    if not settings.certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.certfile, settings.keyfile)
    return context


async def _route(svc: DispatchService, conn: ServerConnection, extensions: WsRoutes) -> None:
    request = conn.request
    assert request is not None  # the handler runs after the handshake
    parts = urlsplit(request.path)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    token = query.get("token", "")
    who = svc.identify(token) if token else None
    segments = parts.path.strip("/").split("/")
    if len(segments) < 2 or segments[0] != "ws":
        return await conn.close(CLOSE_NOT_FOUND, "no such socket")
    kind, rest = segments[1], segments[2:]
    if kind == "console" and not rest:
        if who is None:
            return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
        if who[0] is not Role.DISPATCHER:
            return await conn.close(CLOSE_FORBIDDEN, "dispatchers only")
        try:
            seen = since_of(query)
        except ValueError as exc:
            return await conn.close(CLOSE_BAD_REQUEST, str(exc))
        return await stream_topic(conn, svc, "console", seen, svc.views.console_snapshot)
    if kind == "units" and len(rest) == 1:
        unit_id = rest[0]
        if who is None:
            return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
        if who != (Role.UNIT, unit_id):
            return await conn.close(CLOSE_FORBIDDEN, "this unit's token only")
        if unit_id not in svc.engine.units:  # a token left from an older log
            return await conn.close(CLOSE_NOT_FOUND, "no such unit")
        device = svc.tokens.device_of(token) or DEFAULT_DEVICE  # whose acks these are

        async def on_frame(frame: dict[str, Any]) -> dict[str, Any] | None:
            return await _unit_frame(svc, unit_id, frame, device)

        return await stream_topic(
            conn, svc, f"unit:{unit_id}", None, lambda: svc.views.unit_snapshot(unit_id), on_frame
        )
    if kind == "calls" and len(rest) == 1:
        incident_id = rest[0]
        if who is None:
            return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
        if who[0] is Role.CALLER and who[1] != incident_id:
            return await conn.close(CLOSE_NOT_FOUND, "no such incident")  # uniform
        if who[0] not in (Role.CALLER, Role.DISPATCHER):
            return await conn.close(CLOSE_FORBIDDEN, "callers and dispatchers only")
        if incident_id not in svc.engine.incidents:
            return await conn.close(CLOSE_NOT_FOUND, "no such incident")
        if not svc.engine.incident(IncidentId(incident_id)).open:  # closed: the link is dead
            return await conn.close(CLOSE_NOT_FOUND, "no such incident")
        if svc.views.caller_done(incident_id):  # help is there already: the last state, then close
            await conn.send(_encode(svc.views.call_snapshot(incident_id)), text=True)
            return await conn.close(1000, "the unit is on scene")
        return await stream_topic(
            conn, svc, f"call:{incident_id}", None, lambda: svc.views.call_snapshot(incident_id)
        )
    if kind == "hospitals" and len(rest) == 1:
        hospital_id = rest[0]
        if who is None:
            return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
        if who != (Role.HOSPITAL, hospital_id) and who[0] is not Role.DISPATCHER:
            return await conn.close(CLOSE_FORBIDDEN, "this hospital's token only")
        if hospital_id not in svc.hospitals.registry:
            return await conn.close(CLOSE_NOT_FOUND, "no such hospital")
        try:
            seen = since_of(query)
        except ValueError as exc:
            return await conn.close(CLOSE_BAD_REQUEST, str(exc))
        return await _hospital(svc, conn, hospital_id, who, seen)
    extension = extensions.get(kind)
    if extension is not None:
        return await extension(svc, conn, who, rest, query)
    return await conn.close(CLOSE_NOT_FOUND, "no such socket")


async def _hospital(
    svc: DispatchService,
    conn: ServerConnection,
    hospital_id: str,
    who: tuple[Role, str],
    since: int | None,
) -> None:
    """A receiving hospital's feed: snapshot or resume (from the log for an old gap), live
    frames, and its acknowledgements. Every disclosure of patients is audited."""
    topic = f"hospital:{hospital_id}"
    role, subject = who[0].value, who[1]

    def snapshot() -> dict[str, Any]:
        snap = svc.notices.snapshot(hospital_id)
        svc.feeds.audit(
            role, subject, "hospital.snapshot", [p["incident_id"] for p in snap["inbound"]]
        )
        return snap

    async def missed(after: int) -> AsyncIterator[dict[str, Any]]:
        seen: set[str] = set()
        try:
            async for frame in svc.feeds.missed_frames(topic, after):
                if "incident_id" in frame:
                    seen.add(frame["incident_id"])
                yield frame
        finally:
            svc.feeds.audit(role, subject, "hospital.replay", seen, since=after)

    async def on_frame(frame: dict[str, Any]) -> dict[str, Any] | None:
        if frame.get("type") != "ack":
            raise InvalidEvent(f"unknown frame type {frame.get('type')!r}; expected ack")
        if role != Role.HOSPITAL.value:
            raise IllegalTransition("only the hospital itself acknowledges its patients")
        incident_id = frame.get("incident_id")
        first = svc.hospitals.ack(hospital_id, incident_id)
        await svc.settled()
        return {"type": "accepted", "frame": "ack", "incident_id": incident_id, "first": first}

    if since is not None:  # frames after `since` about the patients routed here now
        inbound = [p["incident_id"] for p in svc.notices.inbound_to(hospital_id)]
        svc.feeds.audit(role, subject, "hospital.resume", inbound, since=since)
    return await stream_topic(conn, svc, topic, since, snapshot, on_frame, missed)


async def stream_topic(
    conn: ServerConnection,
    svc: DispatchService,
    topic: str,
    since: int | None,
    snapshot: Callable[[], dict[str, Any]],
    on_frame: OnFrame | None = None,
    missed: Callable[[int], AsyncIterator[dict[str, Any]]] | None = None,
) -> None:
    """Snapshot (unless resuming without a gap), then hub frames; client frames to `on_frame`.

    Subscribing, building the snapshot and writing it happen in one loop step, so the snapshot
    (stamped with the topic's last seq) reaches the client before any live frame. A topic
    with a durable feed (`missed`) first sends what history no longer holds, from the log; the
    last check that history takes over and the subscription happen in one loop step too.
    """
    if since is not None and missed is not None and not svc.hub.covers(topic, since):
        try:
            async for frame in missed(since):
                await conn.send(_encode(frame), text=True)
                since = frame["seq"]
        except (ConnectionClosed, OSError) as exc:
            logger.info("websocket %s ended in replay: %s", topic.split(":")[0], type(exc).__name__)
            return
    sink = ConnectionSink(conn)
    sub = svc.hub.subscribe([topic], {topic: since} if since is not None else None, sink=sink)
    try:
        if since is None or sub.needs_snapshot:
            sub.send_first(_encode(snapshot()))
        pumping = asyncio.create_task(pump(sub, sink.send))
        reading = asyncio.create_task(_read(conn, on_frame, check_for_topic(topic)))
        done, pending = await asyncio.wait({pumping, reading}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if sub.lagging:  # fell behind: close; the client reconnects with since
            await conn.close(CLOSE_LAGGING, "fell behind; reconnect with since")
        elif sub.ended:  # the topic is over (a caller's unit is on scene)
            await conn.close(1000, "ended")
    except (ConnectionClosed, OSError) as exc:  # the client went away mid-send
        logger.info("websocket %s ended: %s", topic.split(":")[0], type(exc).__name__)
    finally:
        sub.close()


async def _read(
    conn: ServerConnection, on_frame: OnFrame | None, check: FrameCheck | None = None
) -> None:
    """Answer every client frame; returns when the client closes."""
    try:
        async for raw in conn:
            answer = await _frame_answer(raw, on_frame, check)
            if answer is not None:
                await conn.send(_encode(answer), text=True)
    except FrameRefused as exc:
        await conn.close(CLOSE_POLICY, str(exc))
    except ConnectionClosed:
        return


async def _frame_answer(
    raw: str | bytes, on_frame: OnFrame | None, check: FrameCheck | None = None
) -> dict[str, Any] | None:
    """The reply to one client frame: an error frame for anything malformed, off its declared
    model (`check`) or refused."""
    if on_frame is None:
        return {"type": "error", "reason": "read_only", "detail": "this socket takes no frames"}
    if isinstance(raw, bytes) and raw.startswith(JPEG_MAGIC):  # a picture: in-vehicle video
        frame: Any = {"type": "video", "jpeg": raw}
    else:
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return {"type": "error", "reason": "malformed_frame", "detail": "not JSON"}
        except RecursionError:  # thousands of nested brackets: hostile, not a typo
            raise FrameRefused("frame nested too deeply") from None
        if too_deep(raw, frame):
            raise FrameRefused("frame nested too deeply")
    if not isinstance(frame, dict):
        return {"type": "error", "reason": "malformed_frame", "detail": "a frame is an object"}
    refused = (
        check.refusal(raw, frame) if check is not None and frame.get("type") != "video" else None
    )
    if refused is not None:
        return refused
    try:
        return await on_frame(frame)
    except StoreError as exc:  # its text may name the store's host: never sent
        return {"type": "error", "reason": exc.reason, "detail": "store unavailable"}
    except DispatchError as exc:
        return {"type": "error", "reason": exc.reason, "detail": str(exc)}
    except Exception as exc:  # a bug of ours: say so and keep the socket, as HTTP answers 500
        logger.error("websocket frame failed: %s", type(exc).__name__, exc_info=True)
        return {"type": "error", "reason": "internal_error"}


def _observed_at_s(svc: DispatchService, observed_at: object) -> float | None:
    """A fix's Unix time as engine time (its age kept; a device clock ahead counts as now)."""
    if observed_at is None:
        return None
    if isinstance(observed_at, bool) or not isinstance(observed_at, int | float):
        raise InvalidEvent("observed_at must be Unix seconds")
    if not math.isfinite(observed_at):
        raise InvalidEvent("observed_at must be finite")
    now_s = svc.now()
    return now_s - max(0.0, time.time() - observed_at)


async def _unit_frame(
    svc: DispatchService, unit_id: str, frame: dict[str, Any], device: str = DEFAULT_DEVICE
) -> dict[str, Any] | None:
    """A tablet's frame as an event: ack, status or position; the reply once it is durable.
    `device`: the device the socket's token belongs to (its acks are that device's)."""
    kind = frame.get("type")
    uid = UnitId(unit_id)
    if kind == "ack":
        named = ack_device(device, frame.get("device"), svc.engine.unit(uid).devices)
        svc.submit(ev.OfferAcknowledged(frame.get("incident_id"), uid, named))  # type: ignore[arg-type]
        await svc.settled()
        return {"type": "accepted", "frame": "ack", "incident_id": frame.get("incident_id")}
    if kind == "status":
        try:
            status = UnitStatus(str(frame.get("status")))
        except ValueError:
            raise InvalidEvent(f"unknown status {frame.get('status')!r}") from None
        svc.submit(ev.UnitStatusReported(uid, status))
        await svc.settled()
        return {"type": "accepted", "frame": "status", "status": status.value}
    if kind == "position":  # at most positions_per_source_per_s pass (svc.inputs.position)
        observed_at_s = _observed_at_s(svc, frame.get("observed_at"))
        position = ev.UnitPositionReported(
            uid,
            frame.get("lat"),  # type: ignore[arg-type]
            frame.get("lon"),  # type: ignore[arg-type]
            observed_at_s,
            frame.get("accuracy_m"),
        )
        svc.inputs.unit_position(position)
        return None
    if kind == "vitals":
        return await relay_vitals(svc, unit_id, frame)
    if kind == "video" and isinstance(frame.get("jpeg"), bytes):
        relay = svc.extensions.get("video")
        if not isinstance(relay, VideoSink):
            raise IllegalTransition("video is not enabled on this server")
        return relay.frame(unit_id, frame["jpeg"])
    if kind == "patient":
        incident_id = svc.engine.unit(uid).incident_id
        if incident_id is None:
            raise IllegalTransition(f"unit {unit_id} has no patient")
        svc.hospitals.describe_patient(incident_id, frame.get("age_band"), frame.get("sex"))
        await svc.settled()
        return {"type": "accepted", "frame": "patient", "incident_id": incident_id}
    raise InvalidEvent(
        f"unknown frame type {kind!r}; expected ack, status, position, vitals or patient"
    )


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
