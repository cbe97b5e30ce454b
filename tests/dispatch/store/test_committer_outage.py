"""The group-commit writer through an outage: told first, refusing meanwhile, resumable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from dispatch.errors import StoreError
from dispatch.store.committer import GroupCommit
from dispatch.store.eventlog import Entry, Record
from dispatch.store.sqlite_log import SqliteLog


def tick(i: int) -> dict[str, Any]:
    return {"type": "ClockTicked", "i": i}


def test_a_failed_batch_is_reported_once_before_its_callbacks_then_resume_writes_again(
    tmp_path: Path,
) -> None:
    """Three entries in a failing store: on_failure hears of the batch first (one call), each
    entry then fails; after resume on a healthy store the next entry is logged as seq 1."""
    log = SqliteLog(tmp_path / "events.db")
    heard: list[str] = []
    written = log.append_batch

    def refuse(*args: Any) -> Any:
        raise StoreError("disk gone")

    def done(name: str) -> Any:
        def finish(got: tuple[Record, bool] | None, error: BaseException | None) -> None:
            heard.append(f"{name}:{'ok' if error is None else 'failed'}")

        return finish

    def on_failure(error: BaseException, in_doubt: list[Entry]) -> None:
        heard.append(f"failure:{[e[1]['i'] for e in in_doubt]}")

    async def main() -> None:
        commit = GroupCommit(log, asyncio.get_running_loop())
        commit.on_failure = on_failure
        log.append_batch = refuse  # type: ignore[method-assign,assignment]
        commit.append((0.0, tick(0), None), done("a"))  # starts a batch alone
        commit.append((1.0, tick(1), None), done("b"))  # queued behind it
        await commit.flushed()
        assert commit.failed
        commit.append((2.0, tick(2), None), done("c"))  # refused at once
        log.append_batch = written  # type: ignore[method-assign]
        commit.resume()
        commit.append((3.0, tick(3), None), done("d"))
        await commit.flushed()
        commit.close()

    try:
        asyncio.run(main())
        assert heard == ["failure:[0]", "a:failed", "b:failed", "c:failed", "d:ok"]
        assert [r.event["i"] for r in log.read()] == [3]
    finally:
        log.close()


def test_fail_refuses_what_is_queued_but_lets_the_batch_being_written_finish(
    tmp_path: Path,
) -> None:
    """The service stops writes while a batch is in flight: the queued entry fails, the one
    being written lands; no on_failure, since no batch failed."""
    log = SqliteLog(tmp_path / "events.db")
    heard: list[str] = []

    def done(name: str) -> Any:
        def finish(got: tuple[Record, bool] | None, error: BaseException | None) -> None:
            heard.append(f"{name}:{'ok' if error is None else 'failed'}")

        return finish

    async def main() -> None:
        commit = GroupCommit(log, asyncio.get_running_loop())
        commit.on_failure = lambda error, in_doubt: heard.append("failure")
        commit.append((0.0, tick(0), None), done("writing"))
        commit.append((1.0, tick(1), None), done("queued"))
        commit.fail(StoreError("the store failed elsewhere"))
        await commit.flushed()
        commit.close()

    try:
        asyncio.run(main())
        assert heard == ["queued:failed", "writing:ok"]
        assert [r.event["i"] for r in log.read()] == [0]
    finally:
        log.close()
