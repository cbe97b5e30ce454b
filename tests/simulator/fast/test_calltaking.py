"""Call-taking: the call-takers' queue, one-tap handling, and what they guarantee."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.fast.calltaking import (
    CallTakingParams,
    one_tap_talk_s,
    serve,
    split_voice,
    take_calls,
)


def test_two_call_takers_answer_the_third_call_when_the_first_is_done() -> None:
    """Three calls at t=0 holding 10, 20 and 5 s with two call-takers: the third waits 10 s."""
    wait = serve(np.array([0.0, 0.0, 0.0]), np.array([10.0, 20.0, 5.0]), 2)
    assert wait.tolist() == [0.0, 0.0, 10.0]


def test_a_call_arriving_to_a_free_call_taker_is_answered_at_once() -> None:
    """One call-taker: a call at 100 s after a 30 s call at 0 s is answered at once; one at
    10 s waits the 20 s left of the first."""
    wait = serve(np.array([0.0, 10.0, 100.0]), np.array([30.0, 5.0, 5.0]), 1)
    assert wait.tolist() == [0.0, 20.0, 0.0]


def test_voice_interval_splits_into_talk_and_pending() -> None:
    """The call-taker holds at most talk_cap_s (300 s); the rest is pending: 90 -> (90, 0),
    1000 -> (300, 700)."""
    talk, pending = split_voice(np.array([90.0, 1000.0]), CallTakingParams())
    assert talk.tolist() == [90.0, 300.0]
    assert pending.tolist() == [0.0, 700.0]


def test_one_tap_drops_the_location_and_complaint_questions() -> None:
    """Half of a 100 s talk is location (40 %) and complaint (10 %): 50 s; a 30 s talk keeps
    the 20 s floor; a 10 s talk is never made longer."""
    out = one_tap_talk_s(np.array([100.0, 30.0, 10.0]), CallTakingParams())
    assert out.tolist() == pytest.approx([50.0, 20.0, 10.0])


def test_one_tap_never_answers_later_than_voice() -> None:
    """On the same 500 calls and the same other calls, every call is answered no later and
    ready to dispatch no later with one tap (shorter handling cannot lengthen a FCFS queue)."""
    rng = np.random.default_rng(5)
    at = np.sort(rng.uniform(0, 86_400.0, 500))
    interval = rng.lognormal(np.log(120.0), 0.8, 500)
    p = CallTakingParams(call_takers=1)  # one call-taker: a real queue
    voice = take_calls(at, interval, False, p, np.random.default_rng(9))
    tap = take_calls(at, interval, True, p, np.random.default_rng(9))
    assert voice.answer_s.max() > 0  # the queue is not empty, so the test can fail
    assert np.all(tap.answer_s <= voice.answer_s + 1e-9)
    assert np.all(tap.to_triage_s <= voice.to_triage_s + 1e-9)
    assert tap.answer_s.mean() < voice.answer_s.mean()


def test_bad_parameters_are_refused() -> None:
    """No call-taker, or shares that leave nothing of the call, are refused."""
    with pytest.raises(ValueError):
        CallTakingParams(call_takers=0)
    with pytest.raises(ValueError):
        CallTakingParams(location_share=0.7, complaint_share=0.3)
