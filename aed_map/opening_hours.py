"""OSM `opening_hours` for AEDs: the common forms read exactly, everything else left unknown.

An AED behind a locked door is no use, and a dispatcher who sends a bystander to one loses the
minutes that matter; so this module answers open / closed only when the tag says so plainly,
and "unknown" otherwise. It reads (https://wiki.openstreetmap.org/wiki/Key:opening_hours):

- `24/7`; `off` / `closed`;
- a day selector of weekdays, ranges and `PH` (public holiday): `Mo-Fr`, `Mo,We,Fr`, `Sa-Mo`,
  `PH`, `Mo-Fr,PH`; alone it means the whole day;
- time spans `08:00-12:00,13:00-18:00`, including spans past midnight (`18:00-02:00`, which
  keeps the place open until 02:00 the next morning) and `22:00-24:00`;
- several rules separated by `;`, where a later rule replaces the earlier ones on the days it
  names (`Mo-Su 10:00-22:00; We off`).

Anything else (comments, months, `sunrise`, `||`, `+`, lower-case day names, `10:00-10:00`) is
`Unparsed`. Rule precedence follows the reference implementation opening-hours-rs (the tests
compare with it when it is installed): a day is governed by the last rule that names it,
together with that rule's own spill-over from the day before; a day left with nothing (no
rule names it, or the last one to name it says `off`) takes the spill-over of the first rule
after that one which spills into it.

Public holidays: `PH` rules need the caller's holiday calendar (China moves its holidays and
working weekends every year, so no fixed list is right). Without one, a time whose answer
depends on whether today or yesterday is a holiday is unknown (None), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import product

DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")  # index = datetime.weekday()
DAY_MIN = 24 * 60
BOOLS = (False, True)

_DAY = "(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_SELECTOR = re.compile(rf"(?:{_DAY}(?:-{_DAY})?|PH)(?:,(?:{_DAY}(?:-{_DAY})?|PH))*")
_SPAN = re.compile(r"(\d{1,2}):(\d\d)-(\d{1,2}):(\d\d)")
_SPANS = re.compile(rf"{_SPAN.pattern}(?:,{_SPAN.pattern})*")
_TIGHT = re.compile(r"\s*([,\-])\s*")  # "Mo - Fr" and "08:00-12:00, 13:00-18:00" are common


class OpenState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Rule:
    """One `;`-separated rule: the days it names and its spans in minutes from midnight.

    No days and no PH means every day. `spans` is empty for `off`; an end above 1440 runs
    into the next morning (18:00-02:00 is (1080, 1560)).
    """

    days: frozenset[int]
    holidays: bool
    spans: tuple[tuple[int, int], ...]

    def names(self, weekday: int, holiday: bool) -> bool:
        if not self.days and not self.holidays:
            return True
        return weekday in self.days or (self.holidays and holiday)


@dataclass(frozen=True)
class Schedule:
    """A parsed `opening_hours` value."""

    text: str
    rules: tuple[Rule, ...]

    @property
    def uses_holidays(self) -> bool:
        return any(r.holidays for r in self.rules)


@dataclass(frozen=True)
class Unparsed:
    """A value outside the forms this module reads; `reason` says which part failed."""

    text: str
    reason: str


def parse(text: str) -> Schedule | Unparsed:
    """Read an `opening_hours` value; anything outside the module's forms is Unparsed."""
    if not text.strip():
        return Unparsed(text, "empty")
    rules = []
    for part in text.split(";"):
        rule = _parse_rule(_TIGHT.sub(r"\1", part.strip()))
        if isinstance(rule, str):
            return Unparsed(text, f"{rule}: {part.strip()!r}")
        rules.append(rule)
    return Schedule(text, tuple(rules))


def _parse_rule(rule: str) -> Rule | str:
    """One rule, or the reason it cannot be read."""
    if rule == "24/7":
        return Rule(frozenset(), False, ((0, DAY_MIN),))
    tokens = rule.split()
    if not tokens or len(tokens) > 2:
        return "not a day selector followed by times"
    days: frozenset[int] = frozenset()
    holidays = False
    if _SELECTOR.fullmatch(tokens[0]):
        days, holidays = _parse_days(tokens[0])
        tokens = tokens[1:]
    elif len(tokens) == 2:
        return "unknown day selector"
    if not tokens:
        return Rule(days, holidays, ((0, DAY_MIN),))
    if tokens[0] in ("off", "closed"):
        return Rule(days, holidays, ())
    if not _SPANS.fullmatch(tokens[0]):
        return "unknown time spans"
    spans = []
    for m in _SPAN.finditer(tokens[0]):
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            return "time out of range"
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end == start:
            return "span of zero or 24 h length is ambiguous"
        spans.append((start, end if end > start else end + DAY_MIN))
    return Rule(days, holidays, tuple(spans))


def _parse_days(selector: str) -> tuple[frozenset[int], bool]:
    days: set[int] = set()
    holidays = False
    for item in selector.split(","):
        if item == "PH":
            holidays = True
            continue
        first, _, last = item.partition("-")
        a = DAY_NAMES.index(first)
        b = DAY_NAMES.index(last) if last else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))  # Sa-Mo wraps round the week
    return frozenset(days), holidays


def is_open(
    schedule: Schedule | Unparsed,
    local_time: datetime,
    holidays: Container[date] | None = None,
) -> bool | None:
    """True / False / None (unknown) at the wall-clock time `local_time` (Asia/Shanghai time).

    `holidays` holds the public-holiday dates; without it, a PH rule that would change the
    answer (today or yesterday, for spans past midnight) makes the answer None.
    """
    if isinstance(schedule, Unparsed):
        return None
    weekday, minute = local_time.weekday(), local_time.hour * 60 + local_time.minute
    if not schedule.uses_holidays:
        return _open_at(schedule.rules, weekday, minute, False, False)
    today = local_time.date()
    if holidays is not None:
        ph_today, ph_yday = today in holidays, (today - timedelta(days=1)) in holidays
        return _open_at(schedule.rules, weekday, minute, ph_today, ph_yday)
    answers = {_open_at(schedule.rules, weekday, minute, t, y) for t, y in product(BOOLS, BOOLS)}
    return answers.pop() if len(answers) == 1 else None


def open_state(
    schedule: Schedule | Unparsed,
    local_time: datetime,
    holidays: Container[date] | None = None,
) -> OpenState:
    """`is_open` as an OpenState."""
    answer = is_open(schedule, local_time, holidays)
    if answer is None:
        return OpenState.UNKNOWN
    return OpenState.OPEN if answer else OpenState.CLOSED


def _open_at(rules: tuple[Rule, ...], weekday: int, minute: int, ph: bool, ph_yday: bool) -> bool:
    """Open at `minute` of a day, given which rules name today and yesterday.

    Mirrors opening-hours-rs: the last rule naming today governs it (with its own spill from
    yesterday); an empty answer (an `off` rule) counts as none, so a later rule's spill can
    still open the small hours after an earlier `off`.
    """
    yesterday = (weekday - 1) % 7
    governing: list[tuple[int, int]] = []
    for rule in rules:
        spans = []
        if rule.names(yesterday, ph_yday):
            spans = [(0, end - DAY_MIN) for _, end in rule.spans if end > DAY_MIN]
        if rule.names(weekday, ph):
            governing = [(s, min(e, DAY_MIN)) for s, e in rule.spans] + spans
        elif not governing:
            governing = spans
    return any(a <= minute < b for a, b in governing)
