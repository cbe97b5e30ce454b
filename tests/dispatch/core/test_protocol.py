"""The call-taking protocol's walk (dispatch.core.protocol): answers in, the next question or a
determinant with its priority, complaint, telephone-CPR flag and reasons out; and the rules
`parse_set` holds a set to. Small hand-made sets; the shipped ones are in test_protocol_sets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dispatch.core.model import Complaint, Priority
from dispatch.core.protocol import (
    Asked,
    Determined,
    InvalidAnswers,
    InvalidProtocol,
    evaluate,
    parse_set,
    paths,
)


def w(en: str) -> dict[str, str]:
    return {"zh-CN": f"中文{en}", "en": en}


#: The AHA's two questions and nothing else: awake? breathing normally? (no, no: arrest).
TWO_QUESTIONS: dict[str, Any] = {
    "id": "mini",
    "version": "2026.1",
    "title": w("mini"),
    "complaint": "other",
    "source": ["AHA T-CPR policy statement 2020"],
    "start": "awake",
    "questions": [
        {
            "id": "awake",
            "text": w("Is the patient awake?"),
            "answers": [
                {"id": "yes", "label": w("Yes"), "outcome": "awake"},
                {"id": "no", "label": w("No"), "next": "breathing", "reason": w("not awake")},
            ],
        },
        {
            "id": "breathing",
            "text": w("Breathing normally?"),
            "answers": [
                {"id": "yes", "label": w("Yes"), "outcome": "unconscious"},
                {"id": "no", "label": w("No"), "outcome": "arrest", "reason": w("no breath")},
            ],
        },
    ],
    "outcomes": [
        {"id": "awake", "determinant": "MIN-A1", "priority": 3, "reason": w("fine")},
        {"id": "unconscious", "determinant": "MIN-D1", "priority": 1, "reason": w("unc")},
        {
            "id": "arrest",
            "determinant": "MIN-E1",
            "priority": 1,
            "complaint": "cardiac_arrest",
            "tcpr": True,
            "reason": w("arrest"),
        },
    ],
}


def test_no_and_no_is_an_arrest_at_p1_with_telephone_cpr_and_both_reasons() -> None:
    """awake=no, breathing=no: MIN-E1, P1, cardiac arrest, T-CPR, reasons: not awake, no
    breath, then the outcome's."""
    pset = parse_set(TWO_QUESTIONS)
    found = evaluate(pset, [("awake", "no"), ("breathing", "no")])
    assert isinstance(found, Determined)
    o = found.outcome
    assert (o.determinant, o.priority, o.complaint, o.tcpr) == (
        "MIN-E1",
        Priority.P1,
        Complaint.CARDIAC_ARREST,
        True,
    )
    assert [r.en for r in found.reasons] == ["not awake", "no breath", "arrest"]
    assert found.path == (("awake", "no"), ("breathing", "no"))


def test_an_outcome_without_a_complaint_takes_the_sets() -> None:
    """awake=yes ends at MIN-A1, P3, the set's complaint (other), no T-CPR."""
    found = evaluate(parse_set(TWO_QUESTIONS), [("awake", "yes")])
    assert isinstance(found, Determined)
    assert (found.outcome.priority, found.outcome.complaint, found.outcome.tcpr) == (
        Priority.P3,
        Complaint.OTHER,
        False,
    )


def test_no_answers_asks_the_first_question_and_one_asks_the_second() -> None:
    """[] asks `awake`; [awake=no] asks `breathing`."""
    pset = parse_set(TWO_QUESTIONS)
    first = evaluate(pset, [])
    second = evaluate(pset, [("awake", "no")])
    assert isinstance(first, Asked) and first.question.question_id == "awake"
    assert isinstance(second, Asked) and second.question.question_id == "breathing"
    assert second.question.text.zh == "中文Breathing normally?"


@pytest.mark.parametrize(
    "answers",
    [
        [("breathing", "no")],  # not the question asked first
        [("awake", "maybe")],  # no such answer
        [("awake", "yes"), ("breathing", "no")],  # answered after the outcome
    ],
)
def test_answers_off_the_path_are_refused(answers: list[tuple[str, str]]) -> None:
    """An answer to a question not asked, an unknown answer, an answer after the outcome:
    InvalidAnswers (a 422 over HTTP)."""
    with pytest.raises(InvalidAnswers):
        evaluate(parse_set(TWO_QUESTIONS), answers)


def test_paths_lists_every_way_through() -> None:
    """Three paths: awake=yes; awake=no then breathing yes or no."""
    assert sorted(paths(parse_set(TWO_QUESTIONS))) == [
        (("awake", "no"), ("breathing", "no")),
        (("awake", "no"), ("breathing", "yes")),
        (("awake", "yes"),),
    ]


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(TWO_QUESTIONS)
    change(data)
    return data


@pytest.mark.parametrize(
    ("what", "data"),
    [
        (
            "loop",
            broken(
                lambda d: d["questions"][1]["answers"].__setitem__(
                    0, {"id": "yes", "label": w("Yes"), "next": "awake"}
                )
            ),
        ),
        ("dangling next", broken(lambda d: d["questions"][0]["answers"][1].update(next="nope"))),
        (
            "dangling outcome",
            broken(lambda d: d["questions"][0]["answers"][0].update(outcome="nope")),
        ),
        ("English missing", broken(lambda d: d["questions"][0]["text"].pop("en"))),
        (
            "unreached outcome",
            broken(
                lambda d: d["outcomes"].append(
                    {"id": "x", "determinant": "MIN-A2", "priority": 3, "reason": w("x")}
                )
            ),
        ),
        ("T-CPR for a non-arrest", broken(lambda d: d["outcomes"][1].update(tcpr=True))),
        ("one answer", broken(lambda d: d["questions"][0]["answers"].pop())),
        ("priority 4", broken(lambda d: d["outcomes"][0].update(priority=4))),
        ("no source", broken(lambda d: d.update(source=[]))),
    ],
)
def test_a_broken_set_is_refused(what: str, data: dict[str, Any]) -> None:
    """A loop, a dangling reference, a missing language, an unreached outcome, T-CPR outside
    an arrest, a one-answer question, priority 4, no source: InvalidProtocol."""
    with pytest.raises(InvalidProtocol):
        parse_set(data)
