"""opening_hours: each supported form, rule overrides, midnight spans, PH and unknowns.

Dates: 2025-05-05 is a Monday, so 2025-05-05..11 is Mo..Su.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aed_map.opening_hours import (
    DAY_NAMES,
    OpenState,
    Schedule,
    Unparsed,
    is_open,
    open_state,
    parse,
)


def at(day: str, hhmm: str) -> datetime:
    """The datetime of weekday `day` ("Mo".."Su") in the week of 2025-05-05 at HH:MM."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2025, 5, 5 + DAY_NAMES.index(day), h, m)


def check(text: str, day: str, hhmm: str) -> bool | None:
    return is_open(parse(text), at(day, hhmm))


@pytest.mark.parametrize(
    ("text", "day", "hhmm", "expected"),
    [
        ("24/7", "Su", "03:00", True),
        ("Mo-Fr 08:00-18:00", "Mo", "08:00", True),  # opening minute is open
        ("Mo-Fr 08:00-18:00", "Fr", "17:59", True),
        ("Mo-Fr 08:00-18:00", "Fr", "18:00", False),  # closing minute is closed
        ("Mo-Fr 08:00-18:00", "Sa", "12:00", False),
        ("Mo,We,Fr 09:00-17:00", "We", "10:00", True),
        ("Mo,We,Fr 09:00-17:00", "Tu", "10:00", False),
        ("Sa-Su 10:00-16:00", "Su", "15:00", True),
        ("Sa-Su 10:00-16:00", "Mo", "15:00", False),
        ("Sa-Mo 10:00-12:00", "Mo", "11:00", True),  # a range that wraps round the week
        ("Sa-Mo 10:00-12:00", "Tu", "11:00", False),
        ("Mo-Fr 08:00-12:00,13:00-18:00", "Tu", "12:30", False),  # lunch break
        ("Mo-Fr 08:00-12:00,13:00-18:00", "Tu", "13:30", True),
        ("Mo-Fr 08:00-12:00, 13:00-18:00", "Tu", "13:30", True),  # space after the comma
        ("10:00-22:00", "Su", "21:00", True),  # no day selector: every day
        ("Mo-Fr", "Th", "23:59", True),  # days alone: the whole day
        ("off", "Mo", "12:00", False),
        ("closed", "Mo", "12:00", False),
        ("Mo-Fr 22:00-24:00", "Mo", "23:30", True),
        ("Mo-Fr 22:00-00:00", "Mo", "23:30", True),  # 00:00 as an end is midnight
        ("8:00-18:00", "Mo", "09:00", True),  # one-digit hour
    ],
)
def test_forms(text: str, day: str, hhmm: str, expected: bool) -> None:
    """Each supported form answers as the OSM specification reads."""
    assert check(text, day, hhmm) is expected


@pytest.mark.parametrize(
    ("text", "day", "hhmm", "expected"),
    [
        ("Fr 18:00-02:00", "Fr", "23:00", True),
        ("Fr 18:00-02:00", "Sa", "01:59", True),  # Friday's span runs into Saturday
        ("Fr 18:00-02:00", "Sa", "02:00", False),
        ("Fr 18:00-02:00", "Fr", "01:00", False),  # Thursday night had no span
        ("Mo-Su 18:00-02:00; Tu off", "Tu", "01:00", False),  # Tu off removes Mo's spill
        ("Mo-Su 18:00-02:00; Tu off", "We", "01:00", True),  # but Tu's own spill stands
        ("Mo 18:00-02:00; Tu 10:00-12:00", "Tu", "01:00", False),  # Tu rule governs Tuesday
        ("Mo 18:00-02:00; We 10:00-12:00", "Tu", "01:00", True),  # no rule names Tuesday
        ("Tu 10:00-12:00; Mo 18:00-02:00", "Tu", "01:00", False),
        ("Mo 10:00-12:00; Mo 18:00-02:00", "Tu", "01:00", True),
        ("Mo-Su off; Tu 22:00-01:00", "We", "00:30", True),  # a later spill beats an earlier off
    ],
)
def test_spans_past_midnight(text: str, day: str, hhmm: str, expected: bool) -> None:
    """A span past midnight opens the next morning, unless a later rule governs that day."""
    assert check(text, day, hhmm) is expected


@pytest.mark.parametrize(
    ("text", "day", "hhmm", "expected"),
    [
        ("Mo-Su 10:00-22:00; We off", "We", "12:00", False),
        ("Mo-Su 10:00-22:00; We off", "Th", "12:00", True),
        ("Mo-Fr 08:00-18:00; Fr 08:00-12:00", "Fr", "14:00", False),  # later rule replaces
        ("Mo-Fr 08:00-18:00; Fr 08:00-12:00", "Th", "14:00", True),
        ("Mo-Fr 08:00-18:00; 10:00-12:00", "Mo", "09:00", False),  # no days: names every day
        ("Mo-Fr 08:00-18:00; 10:00-12:00", "Su", "11:00", True),
        ("Sa off; Mo-Su 09:00-17:00", "Sa", "10:00", True),  # the later rule wins
    ],
)
def test_later_rules_override_on_their_days(text: str, day: str, hhmm: str, expected: bool) -> None:
    """A later `;` rule replaces the earlier ones on the days it names, and only there."""
    assert check(text, day, hhmm) is expected


def test_public_holidays() -> None:
    """PH rules use the holiday set; without one, only answers PH cannot change are given."""
    s = parse("Mo-Fr 08:00-18:00; PH off")
    labour_day = datetime(2025, 5, 1, 10, 0)  # a Thursday
    assert is_open(s, labour_day) is None  # open unless it is a holiday: unknown
    assert is_open(s, labour_day, holidays={date(2025, 5, 1)}) is False
    assert is_open(s, labour_day, holidays=set()) is True
    assert is_open(s, datetime(2025, 5, 1, 20, 0)) is False  # closed either way
    assert is_open(parse("PH 10:00-12:00"), datetime(2025, 5, 1, 11, 0)) is None
    assert is_open(parse("24/7"), labour_day, holidays={date(2025, 5, 1)}) is True


def test_holiday_yesterday_matters_for_spill() -> None:
    """`PH 20:00-02:00` at 01:00 depends on whether yesterday was a holiday."""
    s = parse("PH 20:00-02:00")
    t = datetime(2025, 5, 2, 1, 0)
    assert is_open(s, t) is None
    assert is_open(s, t, holidays={date(2025, 5, 1)}) is True
    assert is_open(s, t, holidays={date(2025, 5, 2)}) is False


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "工作日 9:00-17:00",
        "营业时间内",
        'Mo-Fr 08:00-18:00 "ask the guard"',  # comments are not read
        "mo-fr 08:00-18:00",  # day names are case-sensitive
        "Mo-Fr 08:00-18:00 open",
        "Mo-Fr 10:00-10:00",  # zero or 24 h? ambiguous
        "Mo-Fr 25:00-26:00",
        "Mo-Fr 08:00-24:30",
        "Mo-Fr 08:00-18:00 || unknown",
        "sunrise-sunset",
        "Jan-Mar Mo-Fr 08:00-18:00",
        "Mo-Fr 08:00-18:00;",  # an empty rule
        "SH off",
        "Mo-Fr 08:00-12:00+",
    ],
)
def test_anything_else_is_unparsed(text: str) -> None:
    """Forms outside the supported set are Unparsed and their state unknown, never guessed."""
    parsed = parse(text)
    assert isinstance(parsed, Unparsed) and parsed.reason
    assert is_open(parsed, at("Mo", "12:00")) is None
    assert open_state(parsed, at("Mo", "12:00")) is OpenState.UNKNOWN


def test_open_state_values() -> None:
    """open_state maps True/False to OPEN/CLOSED."""
    assert open_state(parse("24/7"), at("Mo", "00:00")) is OpenState.OPEN
    assert open_state(parse("off"), at("Mo", "00:00")) is OpenState.CLOSED


# --- properties -------------------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31))


@st.composite
def day_selectors(draw: st.DrawFn) -> str:
    items = draw(
        st.lists(
            st.tuples(st.sampled_from(DAY_NAMES), st.sampled_from(DAY_NAMES)),
            min_size=1,
            max_size=3,
        )
    )
    return ",".join(a if a == b else f"{a}-{b}" for a, b in items)


@st.composite
def spans(draw: st.DrawFn) -> str:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        a = draw(st.integers(0, 24 * 60 - 1))
        b = draw(st.integers(0, 24 * 60))
        b = b if b != a else a + 1  # a zero-length span is ambiguous (Unparsed)
        out.append(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}")
    return ",".join(out)


@st.composite
def rules(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["days+spans", "days", "spans", "days off", "24/7"]))
    if kind == "24/7":
        return "24/7"
    if kind == "days off":
        return f"{draw(day_selectors())} off"
    if kind == "days":
        return draw(day_selectors())
    if kind == "spans":
        return draw(spans())
    return f"{draw(day_selectors())} {draw(spans())}"


schedules = st.lists(rules(), min_size=1, max_size=4).map("; ".join)


@given(t=times)
def test_24_7_is_always_open(t: datetime) -> None:
    """24/7 is open at every minute of every day."""
    assert is_open(parse("24/7"), t) is True


@given(text=schedules)
def test_generated_schedules_parse(text: str) -> None:
    """Every schedule built from the supported forms parses."""
    assert isinstance(parse(text), Schedule)


@given(text=schedules, days=day_selectors(), t=times)
def test_a_later_off_rule_closes_its_days(text: str, days: str, t: datetime) -> None:
    """`X; D off` is closed at every moment of the days in D, whatever X says."""
    combined = parse(f"{text}; {days} off")
    selected = parse(days)
    assert isinstance(selected, Schedule)
    if selected.rules[0].names(t.weekday(), False):
        assert is_open(combined, t) is False


@given(text=schedules, t=times)
def test_a_later_all_day_rule_wins(text: str, t: datetime) -> None:
    """`X; 24/7` is always open and `X; off` always closed."""
    assert is_open(parse(f"{text}; 24/7"), t) is True
    assert is_open(parse(f"{text}; off"), t) is False


@given(text=schedules, t=times)
def test_ph_off_never_opens(text: str, t: datetime) -> None:
    """Adding `PH off` can only close or make unknown, never open what X keeps closed."""
    base = is_open(parse(text), t)
    with_ph = is_open(parse(f"{text}; PH off"), t)
    assert with_ph in (base, None)
    assert is_open(parse(f"{text}; PH off"), t, holidays={t.date()}) is False


@given(text=schedules, t=times)
def test_no_ph_rule_ignores_the_holiday_set(text: str, t: datetime) -> None:
    """Without a PH rule, the holiday set changes nothing."""
    days = {t.date(), t.date() - timedelta(days=1)}
    assert is_open(parse(text), t) == is_open(parse(text), t, holidays=days)


@settings(max_examples=300, deadline=None)
@given(text=schedules | schedules.map(lambda s: f"{s}; PH off"), t=times)
def test_agrees_with_opening_hours_rs(text: str, t: datetime) -> None:
    """On generated schedules and times we answer as opening-hours-rs (a dev dependency).

    It knows no holidays without a country, so we compare with an empty holiday set.
    """
    import opening_hours as oh  # the reference implementation; a missing one fails, not skips

    theirs = str(oh.OpeningHours(text).state(t)[0]) == "open"
    assert is_open(parse(text), t, holidays=set()) is theirs
