"""The dispatch service: engine, durable log and fan-out, driven in one order per event.

`submit(event)` is the one way state changes: the engine checks and applies the event at once
(a typed refusal changes nothing and becomes a 4xx), the record goes to the group-commit writer
(`dispatch.store.committer`), and once it is durable its frames are published to the hub; a route
awaits `settled()` before it answers. Check and apply run on the event loop's thread with no
await between them, so two requests racing for one unit are applied one after the other: one
wins, the other gets 409. The loop never waits on the disk; a burst shares one fsync.

If an append fails, the engine may hold events the log does not: `outage` (dispatch.service.
outage) rebuilds it from `durable`, the in-memory copy of every durable record, so a refused
event leaves no trace; writes are refused (503) until the store is back and the log checked,
which happens by itself. A route answers once *its own* events are durable (`settled`). A
`ClockTicked` is logged only when it decided something (an offer escalated), so replay repeats
escalations at the times they happened without a record per second.

The rest is parts it holds, each owning its state: `feeds`, `calls`, `locations`, `inputs`
(fixes, pins, traffic), `hospitals`, `notices`, `aeds`, `views`, `fanout`, `clock` and
`personal` (callers' numbers, sealed per incident, dispatch.service.personal).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.engine_state import Exporter, import_state
from dispatch.core.fleet import demo_fleet
from dispatch.core.model import Step
from dispatch.core.recommend import RecommendParams
from dispatch.errors import StoreError
from dispatch.live.feeds import Feeds, fed
from dispatch.live.hub import Hub
from dispatch.service.advisor import Advisor
from dispatch.service.aeds import Aeds
from dispatch.service.calls import Calls
from dispatch.service.city import build_world, city_fleet, city_of, warm_up
from dispatch.service.clock import EngineClock
from dispatch.service.fanout import Fanout
from dispatch.service.hospitals import Hospitals
from dispatch.service.live_inputs import LiveInputs
from dispatch.service.locating import LocatorPool
from dispatch.service.locations import Locations
from dispatch.service.notices import Notices
from dispatch.service.outage import STANDBY, DurableCopy, Outage
from dispatch.service.personal import Personal
from dispatch.service.views import Frame, Views
from dispatch.settings import Settings
from dispatch.store import codec, snapshot
from dispatch.store.committer import Done, GroupCommit
from dispatch.store.eventlog import EventLog, FeedRecord, Record, open_log
from dispatch.store.lease import Leasable, Lease, leasable
from dispatch.store.replay import replay_records
from dispatch.store.snapshot import Snapshot, Snapshotter
from dispatch.tokens import Role, TokenBook
from dispatch.users import attributed
from location_fusion.locate import Locator
from routing.router import Router

logger = logging.getLogger("jijiu.dispatch")

Entry = tuple[float, dict[str, Any], str | None]  # (engine time, the event's dict, idem key)
# The last event this task (a request, a socket) submitted: `settled` waits for it.
_mine: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar(
    "jijiu_submitted", default=None
)


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
        self.engine = self.new_engine()
        # The durable records (bounded), to undo a failed append (dispatch.service.outage).
        self.durable = DurableCopy(settings.rebuild_copy_records)
        self.outage = Outage(self)
        # A log shared between processes (Redis) has one writer at a time: take its lease
        # now, or stand by until it is free (dispatch.store.lease).
        self.lease: Lease | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if leasable(log):
            self.lease = Lease(cast(Leasable, log), settings.lease_ttl_s, self._lease_lost)
        self._commit: GroupCommit | None = None  # None: append synchronously (before start)
        self._settled: asyncio.Future[None] | None = None  # the last entry's, while pending
        self._position_logged: dict[str, float] = {}  # unit -> engine time of its last record
        self._in_flight = 0  # events applied and queued for the disk, but for quiet positions
        self.feeds = Feeds(log, hub, self.now, self.outage.failed)
        self.hospitals = Hospitals(self)
        self.aeds = Aeds(self)
        self.personal = Personal.open(settings)  # callers' numbers, sealed per incident
        self.calls = Calls(self)
        self.locations = Locations(self)
        self.inputs = LiveInputs(self)
        self.notices = Notices(self)
        self.views = Views(self)
        self.fanout = Fanout(self)
        self.advisor = Advisor(self, settings.off_loop)
        self.locating = LocatorPool(settings, locator)  # its worker loads the city meanwhile
        # Desks hook in here: a watcher turns each applied event and its decisions into more
        # frames; a token resolver names the holder of a token the book does not know.
        self.watchers: list[Callable[[ev.Event, list[ev.Decision]], Iterable[Frame]]] = []
        self.token_resolvers: list[Callable[[str], tuple[Role, str] | None]] = []
        self.extensions: dict[str, object] = {}  # each attached desk by name (dispatch.http.app)
        last_at_s = 0.0  # engine time goes on from the log's last record (dispatch.service.clock)
        warm_up(router, locator)  # before the first call, not during it
        # The newest usable snapshot, then the records after it (dispatch.store.snapshot); no
        # cyclic garbage collection meanwhile: it would walk the growing state again and again.
        with snapshot.collector_paused():
            base = snapshot.load(log, self._start_from, log.last_seq())
            after = base.last_seq if base is not None else 0
            if base is not None:
                last_at_s = base.at_s
            records = list(log.read(max(after - 1, 0)))
            if base is not None and records and records[0].seq == after:
                self.durable.last = records.pop(0)  # the snapshot's own record: where we are
            for record in records:
                last_at_s = max(last_at_s, record.at_s)
                if record.event.get("type") == "CallReceived":
                    self.calls.recall(record.event, record.idem_key)
            replayed = replay_records(records, self.engine, after)
        self.durable.base = base
        self.durable.extend(records)
        self.snapshots = Snapshotter(
            log, settings.snapshot_every_events, settings.snapshot_every_s, after
        )
        self._exporter = Exporter()  # each closed incident exported once
        del records
        self.feeds.open_feeds(f"hospital:{h.id}" for h in self.hospitals.registry.hospitals)
        self.clock = EngineClock(last_at_s, clock)
        self.clock.anchor(self.feeds, self.now())
        leading = self.lease is None or self.lease.try_acquire()
        if not leading:  # reads from what the log held at start; writes once the lease is ours
            self.outage.state = STANDBY
            logger.warning("another process writes the event log: standing by")
        if replayed == 0 and base is None and leading:  # a new log: the city's fleet, or a demo
            own = city_fleet(city_of(settings))
            for unit in own if own is not None else demo_fleet(router.net, settings.seed_fleet):
                self.submit(unit)
        tokens.ensure_units(self.engine.units)
        tokens.ensure_hospitals(h.id for h in self.hospitals.registry.hospitals)
        logger.info(
            "dispatch service ready: %d records replayed after seq %d, %d units, %d incidents",
            replayed,
            after,
            len(self.engine.units),
            len(self.engine.incidents),
        )

    @classmethod
    def open(cls, settings: Settings, hub: Hub) -> DispatchService:
        """Load the city, open (or create) the tokens and the log, replay, seed the fleet."""
        router, locator = build_world(settings)
        tokens = TokenBook.open(settings.tokens_file)
        log = open_log(settings.store_url)
        try:
            return cls(settings, log, hub, router, locator, tokens)
        except BaseException:
            log.close()
            raise

    def restored(self, base: Snapshot | None) -> tuple[Engine, Calls]:
        """A fresh engine and calls, holding `base`'s state if given (ValueError, KeyError or
        TypeError for a state they cannot hold)."""
        engine, calls = self.new_engine(), Calls(self)
        if base is not None:
            import_state(engine, base.state["engine"])
            calls.import_state(base.state["calls"])
        return engine, calls

    def _start_from(self, base: Snapshot) -> None:
        """Take a snapshot's state at start (`snapshot.load` tries the next on an error)."""
        self.engine, self.calls = self.restored(base)

    def snapshot_if_due(self) -> None:
        """Hand a snapshot of the state to the snapshot thread if one is due and the engine
        holds exactly the durable records (none of its events is waiting for the disk: a
        quiet position may be, and a snapshot with its place is as good as one without)."""
        last, commit = self.durable.last, self._commit
        if last is None or commit is None or self._in_flight or self.outage.state is not None:
            return
        if not self.snapshots.due(last.seq):
            return
        state = {"engine": self._exporter.export(self.engine), "calls": self.calls.export_state()}
        taken = Snapshot(last.seq, last.at_s, state)
        self.durable.rebase(taken)  # a failed append is now undone from here
        self.snapshots.write(taken)

    def new_engine(self) -> Engine:
        """An empty engine with this centre's settings (at start, and to rebuild from)."""
        settings = self.settings
        return Engine(
            self.router,
            EngineSettings(
                settings.ack_timeout_s,
                settings.auto_dispatch_p1,
                # The flush clock refreshes every position_flush_s off the loop; a search
                # snaps on its own path only if that clock fell well behind.
                position_refresh_s=2 * settings.position_flush_s,
                hospital_ack_s=settings.hospital_ack_s,
                recommend=RecommendParams(stale_after_s=settings.unit_stale_s),
            ),
        )

    @property
    def poisoned(self) -> bool:
        """True while writes are refused (the store failed; see `outage.state`)."""
        return self.outage.state is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on appends go to a writer thread in batches (group commit), off the loop."""
        self._commit = self.feeds.commit = GroupCommit(self.log, loop)
        self._loop = loop
        if self.outage.state == STANDBY:
            self.outage.follow()
        self._commit.on_failure = self.outage.begin

    def halt_writes(self, error: StoreError) -> None:
        """The store failed outside the writer: it refuses appends until `resume_writes`."""
        if self._commit is not None:
            self._commit.fail(error)

    def resume_writes(self) -> None:
        """The outage is over (dispatch.service.outage): the writer accepts appends again."""
        if self._commit is not None:
            self._commit.resume()

    def forget_positions(self) -> None:
        """The engine was rebuilt: log each unit's next position."""
        self._position_logged.clear()

    async def settled(self) -> None:
        """Wait until the events this task submitted are durable and published; StoreError
        (503) if their batch failed. A task that submitted nothing (a retried call answered
        from memory) waits for the last event anyone submitted.

        A request handler awaits this before it answers: nothing is acknowledged before it is
        in the log. Appends complete in order, so the last one pending speaks for those
        before it.
        """
        mine = _mine.get()
        if mine is not None:
            _mine.set(None)
            await asyncio.shield(mine)
        elif self._settled is not None:
            await asyncio.shield(self._settled)

    def _lease_lost(self, reason: str) -> None:
        """From the lease's thread: the lease is no longer ours; stand by on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.outage.standby, reason)

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()  # first, so a standby takes over at once
        self.advisor.close()
        self.locating.close()
        self.outage.stop()
        if self._commit is not None:
            self._commit.close()
        self.snapshots.join(timeout_s=30)  # a snapshot being written finishes first
        self.log.close()
        self.personal.close()

    # --- time, health and who is asking -------------------------------------------------------
    def now(self) -> float:
        return max(self.clock.read(), self.engine.now_s)

    def ready(self) -> bool:
        return self.outage.state is None and self.log.ping()

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
        self.snapshot_if_due()

    # --- the one way state changes ------------------------------------------------------------
    def submit(
        self,
        event: ev.Event,
        idem_key: str | None = None,
        first: Iterable[Frame] = (),
        then: Iterable[Frame] = (),
    ) -> list[ev.Decision]:
        """Apply now; append; publish `first`, the decisions' frames and `then` once durable.
        A patient leaving the scene with no hospital chosen is routed by the auto rule. An
        event made while serving a named person's request names them (dispatch.users)."""
        event = attributed(event)
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
        if self.outage.state is not None:
            raise self.outage.refuse(event)  # nothing applied: the store is down
        now = self.now()
        call = isinstance(event, ev.CallReceived)
        self.engine.receive(event, now)  # a refusal raises here and changes nothing
        try:
            return self._hand_on(event, idem_key, first, then, now, call)
        except StoreError as exc:  # applied but not logged: undone by a rebuild
            if self._commit is None:
                raise
            raise self.outage.broke(exc, event) from None

    def _hand_on(
        self,
        event: ev.Event,
        idem_key: str | None,
        first: Iterable[Frame],
        then: Iterable[Frame],
        now: float,
        call: bool,
    ) -> list[ev.Decision]:
        """The rest of `_submit_one` once the engine applied the event: log, then publish."""
        if self._commit is not None and self.engine.advice_due:
            entry = (now, codec.to_record(event), idem_key)
            return self._submit_advised(event, entry, first, then, call)
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
        entry = (now, codec.to_record(event), idem_key)
        if self._commit is None:
            [(record, created)] = self.feeds.write_now([entry], logged)
            if not created:  # the key was taken between the check and the append
                raise StoreError("idempotency key already logged")
            self.durable.append(record)
            self.fanout.emit(frames)
            return decisions
        self.feeds.queue_logged(logged)  # first, so they ride in the batch the event starts
        quiet = isinstance(event, ev.UnitPositionReported) and not decisions
        self._commit.append(entry, self._on_settled(frames, call, awaited=not quiet), lazy=quiet)
        return decisions

    def _submit_advised(
        self,
        event: ev.Event,
        entry: Entry,
        first: Iterable[Frame],
        then: Iterable[Frame],
        call: bool,
    ) -> list[ev.Decision]:
        """An event that owes a recommendation (a call, a triage, a new place): append it
        first, then rank the units while the disk writes (the fsync and the ranking each take
        a few ms; the console's recommendation waits for the longer, not the sum). A frame for
        a fed topic made here rides in the next batch, published once that is durable."""
        assert self._commit is not None
        frames: list[Frame] = []  # filled below, before the loop can run the callback
        self._commit.append(entry, self._on_settled(frames, call))
        durable = self._settled
        jobs = self.advisor.take()  # ranked on the worker (dispatch.service.advisor)
        decisions = self.engine.decisions()  # the rest, and advice kept on the loop
        made = [*first, *self.fanout.frames(event, decisions), *then]
        logged = [self.feeds.next_record(t, m) for t, m, _ in made if fed(t) and m is not None]
        self.feeds.queue_logged(logged)
        frames.extend(f for f in made if not fed(f[0]))
        if jobs:
            assert durable is not None
            self.advisor.run(jobs, durable)
        return decisions

    def _on_settled(self, frames: list[Frame], call: bool, awaited: bool = True) -> Done:
        """The callback of a queued event: once durable, keep its record and publish its
        frames; else the 503 (`call`: a refused call, counted). `settled()` waits for it;
        for this task's own event only if `awaited` (a position is not)."""
        settled = asyncio.get_running_loop().create_future()
        self._settled = settled
        if awaited:
            _mine.set(settled)
            self._in_flight += 1

        def done(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
            if awaited:
                self._in_flight -= 1
            if written is not None and not written[1]:  # another writer logged the key
                self.outage.diverge("log_moved_on")
                error = StoreError("idempotency key already logged")
            if error is not None:
                settled.set_exception(self.outage.refusal(call))
                settled.exception()  # retrieved: an unawaited failure was logged once
            else:
                assert written is not None
                if self.outage.state is not None:  # applied before a rebuild that lacked it
                    self.outage.landed(written[0])
                self.durable.append(written[0])
                self.fanout.emit(frames)
                settled.set_result(None)
            if self._settled is settled:
                self._settled = None

        return done
