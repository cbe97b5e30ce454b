"""The pure parts of healing from a store outage: the retry schedule and the position check."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.store.eventlog import Entry, Record
from dispatch.store.position import backoff_s, check_position


def rec(seq: int, name: str, key: str | None = None) -> Record:
    """A record at engine time seq*10 s whose event is {"type": name}."""
    return Record(seq, seq * 10.0, {"type": name}, key)


def entry(seq: int, name: str, key: str | None = None) -> Entry:
    """The entry that would be logged as rec(seq, name, key)."""
    event: dict[str, Any] = {"type": name}
    return (seq * 10.0, event, key)


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    """0.2, 0.4, 0.8, then 1.0 s for ever: a returning store is noticed within a second."""
    assert [backoff_s(n) for n in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert backoff_s(10_000) == 1.0  # no overflow however long the outage
    assert [backoff_s(n, 1.0, 4.0) for n in range(4)] == [1.0, 2.0, 4.0, 4.0]


def test_backoff_refuses_a_negative_attempt_or_a_cap_below_the_first_wait() -> None:
    """Nonsense parameters are a ValueError, not a schedule."""
    with pytest.raises(ValueError):
        backoff_s(-1)
    with pytest.raises(ValueError):
        backoff_s(0, first_s=2.0, max_s=1.0)


def test_a_log_that_ends_at_our_last_record_is_in_step() -> None:
    """We hold seq 2; the log holds seq 2 with the same body and nothing after it."""
    verdict = check_position(rec(2, "B"), [rec(2, "B")], [entry(3, "C")])
    assert (verdict.status, verdict.reason, verdict.adopted) == ("in_step", "in_step", ())


def test_an_empty_log_and_nothing_held_is_in_step() -> None:
    """A fresh server whose first append failed: nothing held, nothing logged."""
    assert check_position(None, [], [entry(1, "A", "k1")]).status == "in_step"


def test_the_batch_in_doubt_that_landed_is_adopted() -> None:
    """We hold seq 2; the log holds 3 and 4, exactly the failed batch: adopted, in step."""
    doubt = [entry(3, "C", "k3"), entry(4, "D")]
    log = [rec(2, "B"), rec(3, "C", "k3"), rec(4, "D")]
    verdict = check_position(rec(2, "B"), log, doubt)
    assert (verdict.status, verdict.reason) == ("in_step", "adopted")
    assert [r.seq for r in verdict.adopted] == [3, 4]


def test_a_log_that_lost_our_last_record_has_a_gap() -> None:
    """We hold seq 5 but the log ends at 4 (Redis came back without its data): diverged."""
    verdict = check_position(rec(5, "E"), [], [])
    assert (verdict.status, verdict.reason) == ("diverged", "log_lost_records")


def test_a_different_record_at_our_seq_is_a_fork() -> None:
    """We hold seq 2 "B"; the log's seq 2 is "X": someone else wrote it."""
    verdict = check_position(rec(2, "B"), [rec(2, "X")], [])
    assert (verdict.status, verdict.reason) == ("diverged", "log_forked")


def test_a_record_after_ours_that_we_never_wrote_means_the_log_moved_on() -> None:
    """We hold seq 2 and had "C" in doubt; the log's seq 3 is "Y": another writer."""
    verdict = check_position(rec(2, "B"), [rec(2, "B"), rec(3, "Y")], [entry(3, "C")])
    assert (verdict.status, verdict.reason) == ("diverged", "log_moved_on")


def test_more_records_than_the_batch_in_doubt_means_the_log_moved_on() -> None:
    """The failed batch was "C" alone; the log holds "C" then "D": D is not ours."""
    log = [rec(2, "B"), rec(3, "C"), rec(4, "D")]
    verdict = check_position(rec(2, "B"), log, [entry(3, "C")])
    assert (verdict.status, verdict.reason) == ("diverged", "log_moved_on")


def test_the_same_body_under_another_idempotency_key_is_not_ours() -> None:
    """Seq 3 "C" logged with key k9 while ours had key k3: not the same record."""
    log = [rec(2, "B"), rec(3, "C", "k9")]
    assert check_position(rec(2, "B"), log, [entry(3, "C", "k3")]).status == "diverged"
