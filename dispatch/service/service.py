"""The dispatch service: engine, durable log and fan-out, driven in one order per event.

`submit(event)` is the one way state changes: the engine checks and applies the event at once
(a typed refusal changes nothing and becomes a 4xx), the record goes to the group-commit writer
(`dispatch.store.committer`), and once it is durable its frames are published to the hub; a route
awaits `settled()` before it answers. Check and apply run on the event loop's thread with no
await between them, so two requests racing for one unit are applied one after the other: one
wins, the other gets 409. The loop never waits on the disk; a burst shares one fsync.

If the append fails, the engine already holds an event the log does not: the service marks
itself poisoned, refuses every further event with StoreError (503) and `/readyz` stays failing
until the process is restarted, which rebuilds the engine from the log. A `ClockTicked` is
logged only when it decided something (an offer escalated), so replay repeats escalations at
the times they happened without a record per second.

The rest is parts it holds, each owning its state: `feeds`, `calls`, `locations`, `inputs`
(fixes, pins, traffic), `hospitals`, `notices`, `aeds`, `views`, `fanout` and `clock`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.fleet import demo_fleet
from dispatch.core.model import Step
from dispatch.errors import StoreError
from dispatch.live.feeds import Feeds, fed
from dispatch.live.hub import Hub
from dispatch.service.aeds import Aeds
from dispatch.service.calls import Calls
from dispatch.service.city import build_world, warm_up
from dispatch.service.clock import EngineClock
from dispatch.service.fanout import Fanout
from dispatch.service.hospitals import Hospitals
from dispatch.service.live_inputs import LiveInputs
from dispatch.service.locations import Locations
from dispatch.service.notices import Notices
from dispatch.service.views import Frame, Views
from dispatch.settings import Settings
from dispatch.store import codec
from dispatch.store.committer import Done, GroupCommit
from dispatch.store.eventlog import EventLog, FeedRecord, Record, open_log
from dispatch.store.replay import replay
from dispatch.tokens import Role, TokenBook
from location_fusion.locate import Locator
from routing.router import Router

logger = logging.getLogger("jijiu.dispatch")

Entry = tuple[float, dict[str, Any], str | None]  # (engine time, the event's dict, idem key)


class DispatchService:
    """One dispatch centre: the engine, its durable log, the hub, the tokens and the parts."""

    def __init__(
        self,
        settings: Settings,
        log: EventLog,
        hub: Hub,
        router: Router,
        locator: Locator,
        tokens: TokenBook,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.hub = hub
        self.router = router
        self.locator = locator
        self.tokens = tokens
        self.engine = Engine(
            router,
            EngineSettings(
                settings.ack_timeout_s,
                settings.auto_dispatch_p1,
                # The flush clock refreshes every position_flush_s off the loop; a search
                # snaps on its own path only if that clock fell well behind.
                position_refresh_s=2 * settings.position_flush_s,
                hospital_ack_s=settings.hospital_ack_s,
            ),
        )
        self.poisoned = False
        self._commit: GroupCommit | None = None  # None: append synchronously (before start)
        self._settled: asyncio.Future[None] | None = None  # the last entry's, while pending
        self._position_logged: dict[str, float] = {}  # unit -> engine time of its last record
        self.feeds = Feeds(log, hub, self.now, self._poison)
        self.hospitals = Hospitals(self)
        self.aeds = Aeds(self)
        self.calls = Calls(self)
        self.locations = Locations(self)
        self.inputs = LiveInputs(self)
        self.notices = Notices(self)
        self.views = Views(self)
        self.fanout = Fanout(self)
        # Desks hook in here: a watcher turns each applied event and its decisions into more
        # frames; a token resolver names the holder of a token the book does not know.
        self.watchers: list[Callable[[ev.Event, list[ev.Decision]], Iterable[Frame]]] = []
        self.token_resolvers: list[Callable[[str], tuple[Role, str] | None]] = []
        self.extensions: dict[str, object] = {}  # each attached desk by name (dispatch.http.app)
        last_at_s = 0.0  # engine time goes on from the log's last record (dispatch.service.clock)
        for record in log.read():
            last_at_s = max(last_at_s, record.at_s)
            if record.event.get("type") == "CallReceived":
                self.calls.recall(record.event, record.idem_key)
        warm_up(router, locator)  # before the first call, not during it
        replayed = replay(log, self.engine)
        self.feeds.open_feeds(f"hospital:{h.id}" for h in self.hospitals.registry.hospitals)
        self.clock = EngineClock(last_at_s, clock)
        self.clock.anchor(self.feeds, self.now())
        if replayed == 0 and settings.seed_fleet:
            for unit in demo_fleet(router.net, settings.seed_fleet):
                self.submit(unit)
        tokens.ensure_units(self.engine.units)
        tokens.ensure_hospitals(h.id for h in self.hospitals.registry.hospitals)
        logger.info(
            "dispatch service ready: %d records replayed, %d units, %d incidents",
            replayed,
            len(self.engine.units),
            len(self.engine.incidents),
        )

    @classmethod
    def open(cls, settings: Settings, hub: Hub) -> DispatchService:
        """Load the city, open (or create) the tokens and the log, replay, seed the fleet."""
        router, locator = build_world(settings.network)
        tokens = TokenBook.open(settings.tokens_file)
        log = open_log(settings.store_url)
        try:
            return cls(settings, log, hub, router, locator, tokens)
        except BaseException:
            log.close()
            raise

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on appends go to a writer thread in batches (group commit), off the loop."""
        self._commit = self.feeds.commit = GroupCommit(self.log, loop)

    async def settled(self) -> None:
        """Wait until every event submitted so far is durable and published; StoreError if not.

        A request handler awaits this before it answers: nothing is acknowledged before it is
        in the log. Appends complete in order, so the last one pending speaks for all.
        """
        if self._settled is not None:
            await asyncio.shield(self._settled)

    def close(self) -> None:
        if self._commit is not None:
            self._commit.close()
        self.log.close()

    # --- time, health and who is asking -------------------------------------------------------
    def now(self) -> float:
        return max(self.clock.read(), self.engine.now_s)

    def ready(self) -> bool:
        return not self.poisoned and self.log.ping()

    def identify(self, token: str) -> tuple[Role, str] | None:
        """(role, subject): subject is the unit id of a unit, the incident id of a caller."""
        staff = self.tokens.role_of(token)
        if staff is not None:
            return staff
        incident_id = self.calls.caller_of(token)
        if incident_id is not None:
            return (Role.CALLER, incident_id)
        for resolve in self.token_resolvers:
            found = resolve(token)
            if found is not None:
                return found
        return None

    def tick(self) -> None:
        """Expire traffic entries, then tick the engine (offer escalations)."""
        self.inputs.expire_traffic()
        self.submit(ev.ClockTicked())

    # --- the one way state changes ------------------------------------------------------------
    def submit(
        self,
        event: ev.Event,
        idem_key: str | None = None,
        first: Iterable[Frame] = (),
        then: Iterable[Frame] = (),
    ) -> list[ev.Decision]:
        """Apply now; append; publish `first`, the decisions' frames and `then` once durable.
        A patient leaving the scene with no hospital chosen is routed by the auto rule."""
        decisions = self._submit_one(event, idem_key, first, then)
        for d in decisions:
            if isinstance(d, ev.IncidentStepped) and d.step is Step.LEFT_SCENE:
                self.hospitals.choose_auto(d.incident_id)
        return decisions

    def _submit_one(
        self,
        event: ev.Event,
        idem_key: str | None,
        first: Iterable[Frame],
        then: Iterable[Frame],
    ) -> list[ev.Decision]:
        """`submit` for one event. Before `start` (replay, seeding) the append is synchronous.
        After it, the append is queued for the writer thread and the frames wait for it: await
        `settled()` before acknowledging anything. A unit's position is the exception: it is
        published by `flush_positions` and logged at most every `position_log_s` per unit,
        since a tablet re-sends it every second and no one is answered for it.
        """
        if self.poisoned:
            raise StoreError("the event log failed earlier; the server must be restarted")
        now = self.now()
        self.engine.receive(event, now)  # a refusal raises here and changes nothing
        if self._commit is not None and self.engine.advice_due:
            entry = (now, codec.to_dict(event), idem_key)
            return self._submit_advised(event, entry, first, then)
        decisions = self.engine.decisions()
        frames = [*first, *self.fanout.frames(event, decisions), *then]
        logged: list[FeedRecord] = []  # a hospital's frames: logged with the event
        if any(fed(topic) for topic, _, _ in frames):
            logged = [
                self.feeds.next_record(t, m) for t, m, _ in frames if fed(t) and m is not None
            ]
            frames = [f for f in frames if not fed(f[0])]
        if isinstance(event, ev.UnitPositionReported):
            self.fanout.moved(event.unit_id)
            last = self._position_logged.get(event.unit_id)
            if (
                not decisions
                and not logged
                and last is not None
                and now - last < self.settings.position_log_s
            ):
                self.fanout.emit(frames)
                return decisions
            self._position_logged[event.unit_id] = now
        elif isinstance(event, ev.ClockTicked) and not decisions:
            return decisions
        entry = (now, codec.to_dict(event), idem_key)
        if self._commit is None:
            [(_, created)] = self.feeds.write_now([entry], logged)
            if not created:  # the key was taken between the check and the append
                raise self._poison(StoreError("idempotency key already logged"))
            self.fanout.emit(frames)
            return decisions
        self.feeds.queue_logged(logged)  # first, so they ride in the batch the event starts
        quiet = isinstance(event, ev.UnitPositionReported) and not decisions
        self._commit.append(entry, self._on_settled(frames), lazy=quiet)
        return decisions

    def _submit_advised(
        self, event: ev.Event, entry: Entry, first: Iterable[Frame], then: Iterable[Frame]
    ) -> list[ev.Decision]:
        """An event that owes a recommendation (a call, a triage, a new place): append it
        first, then rank the units while the disk writes (the fsync and the ranking each take
        a few ms; the console's recommendation waits for the longer, not the sum). A frame for
        a fed topic made here rides in the next batch, published once that is durable."""
        assert self._commit is not None
        frames: list[Frame] = []  # filled below, before the loop can run the callback
        self._commit.append(entry, self._on_settled(frames))
        decisions = self.engine.decisions()
        made = [*first, *self.fanout.frames(event, decisions), *then]
        logged = [self.feeds.next_record(t, m) for t, m, _ in made if fed(t) and m is not None]
        self.feeds.queue_logged(logged)
        frames.extend(f for f in made if not fed(f[0]))
        return decisions

    def _on_settled(self, frames: list[Frame]) -> Done:
        """The callback of a queued event: publish its frames once durable, else poison;
        `settled()` waits for it."""
        settled = asyncio.get_running_loop().create_future()
        self._settled = settled

        def done(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
            if written is not None and not written[1]:
                error = StoreError("idempotency key already logged")
            if error is not None:
                settled.set_exception(self._poison(error))
                settled.exception()  # retrieved: an unawaited failure is logged by _poison
            else:
                self.fanout.emit(frames)
                settled.set_result(None)
            if self._settled is settled:
                self._settled = None

        return done

    def _poison(self, exc: BaseException) -> StoreError:
        """Engine and log now differ: refuse everything until a restart replays the log."""
        if not self.poisoned:
            self.poisoned = True
            logger.error(
                "event log append failed (%s); engine and log differ: restart", type(exc).__name__
            )
        if isinstance(exc, StoreError):
            return exc
        return StoreError(f"event log append failed: {type(exc).__name__}")
