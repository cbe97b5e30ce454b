"""The position gate, pure: token buckets per source, the newest held position released when
due, drops and floods counted. Times are handed in; no clock, no loop."""

from __future__ import annotations

import pytest

from dispatch.core.position_gate import PositionGate, Verdict

UNIT = ("unit", "ALS01")
OTHER = ("unit", "BLS02")


def test_a_burst_of_one_seconds_worth_passes_and_the_next_is_held_as_a_flood() -> None:
    """At 5/s, five positions at t=0 pass, the sixth is held and starts a flood, the seventh
    is held and drops the sixth."""
    gate = PositionGate[tuple[str, str]](5.0)
    verdicts = [gate.offer(UNIT, 0.0) for _ in range(7)]
    assert verdicts == [Verdict.PASS] * 5 + [Verdict.FLOODING, Verdict.HOLD]
    count = gate.sources[UNIT]
    assert (count.passed, count.dropped, count.holding, count.floods) == (5, 1, True, 1)


def test_the_held_position_is_due_one_token_later_and_released_once() -> None:
    """Empty at t=0 with one held: due in 0.2 s; not released at 0.1 s, released at 0.2 s,
    and nothing left to release after."""
    gate = PositionGate[tuple[str, str]](5.0)
    for _ in range(6):
        gate.offer(UNIT, 0.0)
    assert gate.due_in_s(UNIT, 0.0) == pytest.approx(0.2)
    assert gate.release(UNIT, 0.1) is False
    assert gate.release(UNIT, 0.2) is True
    assert gate.release(UNIT, 0.3) is False
    assert (gate.sources[UNIT].passed, gate.dropped()) == (6, 0)


def test_a_newer_position_that_finds_a_token_drops_the_held_one() -> None:
    """Held at t=0, a newer position at t=0.5 passes (a token came) and the held one is
    dropped: nothing is left to release."""
    gate = PositionGate[tuple[str, str]](5.0)
    for _ in range(6):
        gate.offer(UNIT, 0.0)
    assert gate.offer(UNIT, 0.5) is Verdict.PASS
    assert gate.release(UNIT, 0.6) is False
    assert gate.dropped() == 1


def test_100_positions_a_second_for_3_s_pass_at_the_limit_and_the_last_one_lands() -> None:
    """100 Hz for 3 s with a release whenever due: at most 5 + 5 x 3 (+1 the last release)
    pass, every other one is dropped, and the last one sent is the last one to pass."""
    gate = PositionGate[tuple[str, str]](5.0)
    passed: list[int] = []
    held: int | None = None
    for i in range(300):
        now = i / 100
        if held is not None and gate.release(UNIT, now):
            passed.append(held)
        held = None if gate.offer(UNIT, now) is Verdict.PASS else i
        if held is None:
            passed.append(i)
    assert held == 299
    assert gate.release(UNIT, 2.99 + gate.due_in_s(UNIT, 2.99)) is True
    passed.append(held)
    assert len(passed) <= 5 + 5 * 3 + 1 and passed[-1] == 299
    assert gate.dropped() == 300 - len(passed)


def test_sources_are_counted_apart_and_a_flood_is_announced_again_after_calm() -> None:
    """One unit flooding holds nothing of another's; after 60 s with nothing held the first
    unit's next hold starts a second flood, before that it does not."""
    gate = PositionGate[tuple[str, str]](1.0, calm_s=60.0)
    assert [gate.offer(UNIT, 0.0) for _ in range(2)] == [Verdict.PASS, Verdict.FLOODING]
    assert gate.offer(OTHER, 0.0) is Verdict.PASS
    gate.offer(UNIT, 30.0)  # passes (a token came) and drops the held one
    assert gate.offer(UNIT, 30.0) is Verdict.HOLD  # 30 s after the last hold: the same flood
    gate.offer(UNIT, 100.0)
    assert gate.offer(UNIT, 100.0) is Verdict.FLOODING
    assert (gate.sources[UNIT].floods, gate.sources[OTHER].floods) == (2, 0)


@pytest.mark.parametrize("limit", [0.0, -1.0, float("nan"), float("inf")])
def test_a_limit_that_is_not_a_positive_number_is_refused(limit: float) -> None:
    """0, negative, NaN and infinite limits raise ValueError."""
    with pytest.raises(ValueError, match="limit_per_s"):
        PositionGate[tuple[str, str]](limit)
