"""The call-taking protocol: question sets as data, and the pure walk from answers to a triage.

A set (`dispatch/core/protocols/*.json`, described by `schema.json` there and in
docs/protocols.md) is a small tree: each question's answers lead either to another question
or to an outcome, which names a determinant code, a priority, a complaint, whether telephone
CPR follows, and the reason. `parse_set` turns a set's JSON into frozen values and refuses one
that is malformed (a dangling reference, a loop, a question never reached, a missing language);
`evaluate` walks it with the answers given so far and says what to ask next or what was
determined. Reading the files is the shell's business (`dispatch.http.protocol`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.core.model import Complaint, Priority
from dispatch.errors import DispatchError, InvalidEvent

LANGUAGES = ("zh-CN", "en")  # every text of a set is in both, Chinese first
MAX_DEPTH = 12  # questions on one path: more is a set nobody can read out on a call
MAX_DETERMINANT = 16  # as IncidentTriaged.determinant


class InvalidProtocol(DispatchError, ValueError):
    """A question set that breaks the rules above (a bug in the data, found at load)."""

    reason = "invalid_protocol"


class InvalidAnswers(InvalidEvent):
    """Answers that do not follow the set: an unknown answer, or a question not asked."""

    reason = "invalid_answers"


@dataclass(frozen=True)
class Words:
    """One text in both languages."""

    zh: str
    en: str


@dataclass(frozen=True)
class Answer:
    answer_id: str
    label: Words
    next_id: str | None  # the next question, or None when it ends in `outcome_id`
    outcome_id: str | None
    reason: Words | None = None  # why this answer matters, shown among the reasons


@dataclass(frozen=True)
class Question:
    question_id: str
    text: Words
    answers: tuple[Answer, ...]

    def answer(self, answer_id: str) -> Answer:
        for a in self.answers:
            if a.answer_id == answer_id:
                return a
        raise InvalidAnswers(f"question {self.question_id} has no answer {answer_id!r}")


@dataclass(frozen=True)
class Outcome:
    outcome_id: str
    determinant: str
    priority: Priority
    complaint: Complaint
    tcpr: bool  # telephone CPR: coach the caller now
    reason: Words


@dataclass(frozen=True)
class ProtocolSet:
    set_id: str
    version: str
    title: Words
    complaint: Complaint  # the family's complaint, which an outcome may override
    sources: tuple[str, ...]
    start: str
    questions: Mapping[str, Question]
    outcomes: Mapping[str, Outcome]


Path = tuple[tuple[str, str], ...]  # (question id, answer id) in the order asked


@dataclass(frozen=True)
class Asked:
    """Not done: ask `question` next; `path` is what was answered so far."""

    question: Question
    path: Path


@dataclass(frozen=True)
class Determined:
    """Done: the outcome, the path to it and the reasons (each answer's, then the outcome's)."""

    outcome: Outcome
    path: Path
    reasons: tuple[Words, ...]


def evaluate(pset: ProtocolSet, answers: Sequence[tuple[str, str]]) -> Asked | Determined:
    """Walk `pset` from its first question with `answers` (question id, answer id) in the order
    asked; InvalidAnswers if one answers a question that was not the one asked then, or names
    an answer the question does not have, or answers remain after an outcome."""
    question = pset.questions[pset.start]
    reasons: list[Words] = []
    for i, (question_id, answer_id) in enumerate(answers):
        if question_id != question.question_id:
            raise InvalidAnswers(f"answer {i + 1} is to {question_id!r}, not the question asked")
        answer = question.answer(answer_id)
        if answer.reason is not None:
            reasons.append(answer.reason)
        if answer.outcome_id is not None:
            if i + 1 != len(answers):
                raise InvalidAnswers(f"answers after the outcome of answer {i + 1}")
            outcome = pset.outcomes[answer.outcome_id]
            return Determined(outcome, tuple(answers), (*reasons, outcome.reason))
        assert answer.next_id is not None  # parse_set: one of the two
        question = pset.questions[answer.next_id]
    return Asked(question, tuple(answers))


def paths(pset: ProtocolSet) -> Iterator[Path]:
    """Every path from the first question to an outcome (parse_set has refused loops)."""

    def walk(question_id: str, so_far: Path) -> Iterator[Path]:
        for a in pset.questions[question_id].answers:
            path = (*so_far, (question_id, a.answer_id))
            if a.next_id is None:
                yield path
            else:
                yield from walk(a.next_id, path)

    return walk(pset.start, ())


# --- reading a set's JSON ---------------------------------------------------------------------
def parse_set(data: Mapping[str, Any]) -> ProtocolSet:
    """A set's JSON (already decoded) as frozen values; InvalidProtocol if it breaks a rule."""
    try:
        pset = _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidProtocol):
            raise
        raise InvalidProtocol(f"set {data.get('id')!r}: malformed ({exc!r})") from exc
    _check_tree(pset)
    return pset


def _words(data: Any, where: str) -> Words:
    if not isinstance(data, Mapping) or set(data) != set(LANGUAGES):
        raise InvalidProtocol(f"{where}: a text is {{'zh-CN': ..., 'en': ...}}")
    zh, en = data["zh-CN"], data["en"]
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        raise InvalidProtocol(f"{where}: both languages must be non-empty text")
    return Words(zh, en)


def _parse(data: Mapping[str, Any]) -> ProtocolSet:
    set_id = str(data["id"])
    questions: dict[str, Question] = {}
    for q in data["questions"]:
        qid = str(q["id"])
        answers = tuple(
            Answer(
                str(a["id"]),
                _words(a["label"], f"{set_id}.{qid}.{a['id']}"),
                a.get("next"),
                a.get("outcome"),
                _words(a["reason"], f"{set_id}.{qid}.{a['id']}") if "reason" in a else None,
            )
            for a in q["answers"]
        )
        if qid in questions or len({a.answer_id for a in answers}) != len(answers):
            raise InvalidProtocol(f"{set_id}: question {qid} or one of its answers given twice")
        if not 2 <= len(answers) <= 9:  # keys 1-9 on the console
            raise InvalidProtocol(f"{set_id}.{qid}: 2-9 answers")
        questions[qid] = Question(qid, _words(q["text"], f"{set_id}.{qid}"), answers)
    complaint = Complaint(data["complaint"])
    outcomes: dict[str, Outcome] = {}
    for o in data["outcomes"]:
        oid, determinant = str(o["id"]), str(o["determinant"])
        if oid in outcomes:
            raise InvalidProtocol(f"{set_id}: outcome {oid} given twice")
        if not (0 < len(determinant) <= MAX_DETERMINANT and determinant.isprintable()):
            raise InvalidProtocol(f"{set_id}.{oid}: determinant of 1-{MAX_DETERMINANT} characters")
        tcpr = o.get("tcpr", False)
        if not isinstance(tcpr, bool):
            raise InvalidProtocol(f"{set_id}.{oid}: tcpr is true or false")
        outcome_complaint = Complaint(o.get("complaint", complaint))
        if tcpr and outcome_complaint is not Complaint.CARDIAC_ARREST:
            raise InvalidProtocol(f"{set_id}.{oid}: telephone CPR only for a cardiac arrest")
        outcomes[oid] = Outcome(
            oid,
            determinant,
            Priority(o["priority"]),
            outcome_complaint,
            tcpr,
            _words(o["reason"], f"{set_id}.{oid}"),
        )
    sources = tuple(str(s) for s in data["source"])
    if not sources:
        raise InvalidProtocol(f"{set_id}: name the guidance it follows in `source`")
    return ProtocolSet(
        set_id,
        str(data["version"]),
        _words(data["title"], set_id),
        complaint,
        sources,
        str(data["start"]),
        questions,
        outcomes,
    )


def _check_tree(pset: ProtocolSet) -> None:
    """Every reference resolves, each answer goes one way, no loop, nothing unreachable."""
    name = pset.set_id
    if pset.start not in pset.questions:
        raise InvalidProtocol(f"{name}: start {pset.start!r} is no question")
    reached_q: set[str] = set()
    reached_o: set[str] = set()

    def visit(question_id: str, depth: int, on_path: frozenset[str]) -> None:
        if question_id in on_path:
            raise InvalidProtocol(f"{name}: question {question_id} loops back to itself")
        if depth > MAX_DEPTH:
            raise InvalidProtocol(f"{name}: a path longer than {MAX_DEPTH} questions")
        reached_q.add(question_id)
        for a in pset.questions[question_id].answers:
            where = f"{name}.{question_id}.{a.answer_id}"
            if (a.next_id is None) == (a.outcome_id is None):
                raise InvalidProtocol(f"{where}: leads to a next question or an outcome")
            if a.outcome_id is not None:
                if a.outcome_id not in pset.outcomes:
                    raise InvalidProtocol(f"{where}: no outcome {a.outcome_id!r}")
                reached_o.add(a.outcome_id)
            elif a.next_id is not None and a.next_id in pset.questions:
                visit(a.next_id, depth + 1, on_path | {question_id})
            else:
                raise InvalidProtocol(f"{where}: no question {a.next_id!r}")

    visit(pset.start, 1, frozenset())
    unused = (set(pset.questions) - reached_q) | (set(pset.outcomes) - reached_o)
    if unused:
        raise InvalidProtocol(f"{name}: never reached: {sorted(unused)}")
