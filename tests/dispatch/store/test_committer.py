"""Group commit over a real SQLite log: order, batching, lazy entries, failure."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from dispatch.errors import StoreError
from dispatch.store.committer import GroupCommit
from dispatch.store.eventlog import FeedRecord, Record
from dispatch.store.sqlite_log import SqliteLog


def tick(i: int) -> dict[str, Any]:
    return {"type": "ClockTicked", "i": i}


def test_appends_are_batched_in_order_and_answered_in_order(tmp_path: Path) -> None:
    """Ten appends in one loop step: seqs 1..10 in order, in fewer transactions than ten."""
    log = SqliteLog(tmp_path / "events.db")
    answered: list[int] = []

    def done(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
        assert written is not None and error is None
        answered.append(written[0].seq)

    async def main() -> GroupCommit:
        commit = GroupCommit(log, asyncio.get_running_loop())
        for i in range(10):
            commit.append((float(i), tick(i), f"k{i}"), done)
        await commit.flushed()
        commit.close()
        return commit

    try:
        commit = asyncio.run(main())
        assert answered == list(range(1, 11))
        assert [r.event["i"] for r in log.read()] == list(range(10))
        assert (
            commit.entries == 10 and commit.batches < 10
        )  # the first went alone, the rest together
    finally:
        log.close()


def test_lazy_entries_ride_with_the_next_batch(tmp_path: Path) -> None:
    """Two lazy entries are not written by themselves; the next append takes them along,
    before itself; a lazy entry alone is written by the timer."""
    log = SqliteLog(tmp_path / "events.db")

    async def main() -> None:
        commit = GroupCommit(log, asyncio.get_running_loop())
        commit.append((1.0, tick(1), None), lazy=True)
        commit.append((2.0, tick(2), None), lazy=True)
        await asyncio.sleep(0)
        assert log.last_seq() == 0 and commit.pending == 2
        commit.append((3.0, tick(3), None))
        await commit.flushed()
        assert [r.event["i"] for r in log.read()] == [1, 2, 3]
        commit.append((4.0, tick(4), None), lazy=True)
        await commit.flushed()  # the timer writes it
        assert log.last_seq() == 4
        commit.close()

    try:
        asyncio.run(main())
    finally:
        log.close()


def test_a_failed_batch_fails_it_and_everything_after(tmp_path: Path) -> None:
    """The store refuses: every queued entry gets the StoreError, and so does a later one."""
    log = SqliteLog(tmp_path / "events.db")
    errors: list[BaseException] = []

    def done(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
        assert written is None and error is not None
        errors.append(error)

    def refuse(*args: Any) -> Any:
        raise StoreError("disk gone")

    async def main() -> None:
        commit = GroupCommit(log, asyncio.get_running_loop())
        log.append_batch = refuse  # type: ignore[method-assign]
        for i in range(3):
            commit.append((float(i), tick(i), None), done)
        await commit.flushed()
        commit.append((9.0, tick(9), None), done)
        commit.close()

    try:
        asyncio.run(main())
        assert len(errors) == 4 and all(isinstance(e, StoreError) for e in errors)
    finally:
        log.close()


def test_feed_records_go_in_the_same_batch_and_are_answered_in_order(tmp_path: Path) -> None:
    """Feed records and events queued together: one transaction, callbacks in queue order,
    events answered with their records and feed records with None."""
    log = SqliteLog(tmp_path / "events.db")
    answers: list[tuple[str, int | None]] = []

    def done(name: str) -> Any:
        def finish(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
            assert error is None
            answers.append((name, written[0].seq if written is not None else None))

        return finish

    async def main() -> GroupCommit:
        commit = GroupCommit(log, asyncio.get_running_loop())
        commit.append(FeedRecord("hospital:a", 1, 1.0, {"n": 1}), done("f1"), lazy=True)
        commit.append((1.0, tick(1), None), done("e1"))
        commit.append(FeedRecord("hospital:a", 2, 1.0, {"n": 2}), done("f2"))
        commit.append((2.0, tick(2), None), done("e2"))
        await commit.flushed()
        commit.close()
        return commit

    try:
        commit = asyncio.run(main())
        assert answers == [("f1", None), ("e1", 1), ("f2", None), ("e2", 2)]
        assert [r.body["n"] for r in log.read_feed("hospital:a")] == [1, 2]
        assert commit.entries == 4 and commit.batches <= 2
    finally:
        log.close()
