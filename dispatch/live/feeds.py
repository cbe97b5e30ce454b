"""Durable feeds: what a receiving hospital is sent, and the audit trail of patient-data reads.

A hospital's topic ("hospital:zjpph") is backed by a feed of the event log
(`dispatch.store.eventlog`): every frame on it (`patient.inbound`, `patient.diverted`,
`patient.eta`,
`patient.acknowledged`, one FHIR bundle of vital signs a second) is written before it is
published, numbered with the same seq the hub gives it. A hospital that reconnects with
`?since=<seq>` gets what it missed from the hub's history when that still holds it, else from
the log, even across a restart: no frame lost, none twice (`missed_frames`).

The "audit" feed is never published: one record per read of patient data (a hospital's
snapshot or replay, a dispatcher's or crew's read of an incident), saying who read which
incidents when. Supervisors read it over `GET /api/v1/audit`.

A part the dispatch service holds (`svc.feeds`): it shares the service's log, hub, clock and,
once started, its group-commit writer; a failed write is reported to the service through
`fail`. While the store is down (`holding`) a feed refuses frames without numbering them,
audit records wait in memory, and numbering goes back to what is durable (`rewind`); once the
store is back it continues from the log (`resync`) and the waiting audit records are written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from dispatch.errors import StoreError
from dispatch.live.hub import Hub
from dispatch.store.committer import GroupCommit
from dispatch.store.eventlog import EventLog, FeedRecord, Record

AUDIT = "audit"
#: Topics whose frames are logged before they are published: a receiving hospital's, a CPR
#: volunteer's alerts, a partner agency's incident feed.
FED_PREFIXES = ("hospital:", "volunteer:", "agency:")
REPLAY_PAGE = 200  # feed records per read when filling a reconnecting hospital's gap
MAX_REPLAY_PAGES = 10_000  # ~2M frames: more than a day of one ambulance's vitals
MAX_HELD_AUDIT = 100_000  # audit records kept while the store is down (~200 bytes each)


def fed(topic: str) -> bool:
    """True for topics whose frames are logged before they are published."""
    return topic.startswith(FED_PREFIXES)


def framed(record: FeedRecord) -> dict[str, Any]:
    """A feed record as the frame the hub published for it (same keys, same order)."""
    return {"seq": record.seq, "topic": record.feed, **record.body}


class Feeds:
    """Write and read the durable feeds of one event log."""

    def __init__(
        self,
        log: EventLog,
        hub: Hub,
        now: Callable[[], float],
        fail: Callable[[BaseException], StoreError],
    ) -> None:
        self.log = log
        self.hub = hub
        self.now = now
        self._fail = fail
        self.commit: GroupCommit | None = None  # None: write synchronously (before start)
        self._feed_seq: dict[str, int] = {}  # fed topic -> last seq given out
        self._durable_seq: dict[str, int] = {}  # topic -> last seq known durable
        self.holding = False  # the store is down: refuse frames, keep audit records
        self._held_audit: list[dict[str, Any]] = []

    def open_feeds(self, topics: Iterable[str]) -> None:
        """Continue each feed's numbering from the log (a restart), hub topics included."""
        for topic in (*topics, AUDIT):
            self.open_feed(topic)

    def open_feed(self, topic: str) -> None:
        """Continue a fed topic's numbering from the log, once per process: before its first
        frame and before anyone subscribes to it (hospitals' feeds are opened at start; a
        volunteer's or an agency's on first use, one indexed read)."""
        if topic not in self._feed_seq:
            last = self._feed_seq[topic] = self._durable_seq[topic] = self.log.feed_last_seq(topic)
            if fed(topic):
                self.hub.start_at(topic, last)

    def next_record(self, topic: str, message: Mapping[str, Any]) -> FeedRecord:
        """The topic's next record, numbered now; the caller has it written."""
        self.open_feed(topic)
        seq = self._feed_seq.get(topic, 0) + 1
        self._feed_seq[topic] = seq
        return FeedRecord(topic, seq, self.now(), dict(message))

    @property
    def topics(self) -> list[str]:
        """Every feed opened so far."""
        return list(self._feed_seq)

    def rewind(self) -> None:
        """A batch failed: number each feed on from its last durable record again."""
        self._feed_seq.update(self._durable_seq)

    def resync(self, last_seqs: Mapping[str, int]) -> None:
        """The store is back: continue each feed from the log's last seq (a batch in doubt may
        have landed), then write the audit records kept meanwhile."""
        for topic, last in last_seqs.items():
            last = max(last, self._durable_seq.get(topic, 0))
            self._feed_seq[topic] = self._durable_seq[topic] = last
            if fed(topic) and last > self.hub.last_seq(topic):
                self.hub.start_at(topic, last)  # frames that landed unpublished: in the log
        self.holding = False
        held, self._held_audit = self._held_audit, []
        for body in held:
            self._append_audit(body)

    def _publish_logged(self, record: FeedRecord) -> None:
        self._durable_seq[record.feed] = max(record.seq, self._durable_seq.get(record.feed, 0))
        if fed(record.feed):
            self.hub.publish(record.feed, record.body, seq=record.seq)

    def feed(
        self, topic: str, message: Mapping[str, Any], *, lazy: bool = False
    ) -> asyncio.Future[None] | None:
        """Log one frame of a fed topic, then publish it; or, for any other name (a desk's
        own records, "desk:agencies"), only log it. Returns a future done once it is durable
        (and published): await it before acknowledging what caused it; None when written
        synchronously (before the writer thread starts). A `lazy` record rides in the next
        batch instead of starting one (ETA updates, desk records: nobody waits for them).
        StoreError, with nothing numbered, while the store is down."""
        if self.holding:
            raise self._fail(StoreError("the event log is not acknowledging writes"))
        record = self.next_record(topic, message)
        if self.commit is None:
            self.write_now([], [record])
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.commit.append(record, self._on_durable(record, done), lazy=lazy)
        return done

    def queue_logged(self, records: list[FeedRecord]) -> None:
        """Queue records to ride in the same batch as the event queued right after them."""
        assert self.commit is not None
        for record in records:
            self.commit.append(record, self._on_durable(record, None), lazy=True)

    def _on_durable(
        self, record: FeedRecord, done: asyncio.Future[None] | None
    ) -> Callable[[tuple[Record, bool] | None, BaseException | None], None]:
        def finish(_: tuple[Record, bool] | None, error: BaseException | None) -> None:
            if error is not None:
                failure = self._fail(error)
                if done is not None and not done.done():
                    done.set_exception(failure)
                    done.exception()  # retrieved: the service logged the failure
                return
            self._publish_logged(record)
            if done is not None and not done.done():
                done.set_result(None)

        return finish

    def write_now(
        self, entries: list[tuple[float, dict[str, Any], str | None]], records: list[FeedRecord]
    ) -> list[tuple[Record, bool]]:
        """Append events and records in one batch now (before start); publish the records."""
        try:
            written = self.log.append_batch(entries, records)
        except Exception as exc:
            raise self._fail(exc) from exc
        for record in records:
            self._publish_logged(record)
        return written

    # --- reading ------------------------------------------------------------------------------
    async def missed_frames(self, topic: str, since: int) -> AsyncIterator[dict[str, Any]]:
        """The frames of `topic` after `since` that the hub's history no longer holds, read
        from the log page by page off the loop; stops where history takes over. The caller
        then subscribes with the last seq yielded (or `since`), in the same loop step as the
        last check, so nothing falls between the log and the live frames."""
        cursor = since
        for _ in range(MAX_REPLAY_PAGES):
            if self.hub.covers(topic, cursor):
                return
            page = await asyncio.to_thread(self.log.read_feed, topic, cursor, REPLAY_PAGE)
            if not page:
                return  # nothing more logged: the caller sees covers() fail and snapshots
            for record in page:
                yield framed(record)
            cursor = page[-1].seq

    # --- the audit trail ----------------------------------------------------------------------
    def audit(
        self, role: str, subject: str, action: str, incident_ids: Iterable[str], **detail: Any
    ) -> None:
        """Record one read of patient data: who (role, subject), what, which incidents.
        Durable with the next batch; a read is never delayed by it."""
        ids = sorted(set(incident_ids))
        if not ids:
            return
        body = {
            "role": role,
            "subject": subject,
            "action": action,
            "incident_ids": ids,
            "at_s": round(self.now(), 3),
            **detail,
        }
        if self.holding:  # a read served from memory while the store is down: logged later
            if len(self._held_audit) < MAX_HELD_AUDIT:
                self._held_audit.append(body)
            return
        self._append_audit(body)

    def _append_audit(self, body: dict[str, Any]) -> None:
        record = self.next_record(AUDIT, body)
        if self.commit is None:
            self.write_now([], [record])
        else:
            self.commit.append(record, self._on_durable(record, None), lazy=True)

    async def written(self) -> None:
        """Wait until everything queued so far, lazy records included, is durable."""
        if self.commit is not None:
            await self.commit.flushed()

    def read_audit(self, after_seq: int, limit: int) -> list[dict[str, Any]]:
        return [{"seq": r.seq, **r.body} for r in self.log.read_feed(AUDIT, after_seq, limit)]
