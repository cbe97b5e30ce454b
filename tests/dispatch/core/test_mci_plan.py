"""Mass-casualty plan inputs and the board: capacity from beds and load, colours only where the
capability is, open places and counts per hospital, on hospitals small enough to check by hand.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from aed_map.mci import Triage
from dispatch.core.mci_plan import (
    Child,
    Line,
    Receiving,
    Stage,
    board,
    capacity,
    distribute,
    open_slots,
    stage_of,
)
from dispatch.core.model import Step
from hospital_link.registry import Capability, CurrentStatus, Freshness, Hospital, HospitalId

R, Y, G = Triage.RED, Triage.YELLOW, Triage.GREEN
ED, TRAUMA = Capability.ED, Capability.TRAUMA


def hospital(hid: str, beds: int, *caps: Capability) -> Hospital:
    return Hospital(HospitalId(hid), hid, hid, "", 30.28, 120.15, frozenset(caps), beds)


def status(
    occupancy: float | None = None, diverted: frozenset[Capability] = frozenset()
) -> CurrentStatus:
    fresh = Freshness.REPORTED if occupancy is not None or diverted else Freshness.NEVER
    return CurrentStatus(diverted, occupancy, 30.0, True, fresh, None)


#: A 40-bed trauma centre 5 min away, a 20-bed general ED 2 min away, a 30-bed ED 1 min away
#: on ED diversion. With no report each is assumed full (occupancy 1.0): 20 % surge places.
TRAUMA_CENTRE = Receiving(hospital("t", 40, ED, TRAUMA), status(), 300.0)
GENERAL = Receiving(hospital("g", 20, ED), status(), 120.0)
DIVERTED = Receiving(hospital("d", 30, ED, TRAUMA), status(diverted=frozenset({ED})), 60.0)


def test_capacity_from_beds_and_reported_load() -> None:
    """40 beds at 0.9 reported: 12 places (to 120 %), 4 for reds; unreported: 8 and 4."""
    reported = capacity(Receiving(TRAUMA_CENTRE.hospital, status(0.9), 300.0))
    assert (reported.total, reported.red, reported.trauma, reported.reported) == (12, 4, True, True)
    assumed = capacity(TRAUMA_CENTRE)
    assert (assumed.total, assumed.red, assumed.occupancy) == (8, 4, 1.0)
    over = capacity(Receiving(GENERAL.hospital, status(1.5), 120.0))
    assert (over.total, over.red, over.trauma) == (0, 0, False)


def test_diversion_removes_the_capability() -> None:
    """ED diversion: no colour at all; trauma diversion: no reds, yellows and greens still."""
    assert not capacity(DIVERTED).ed and capacity(DIVERTED).total == 0
    no_trauma = Receiving(TRAUMA_CENTRE.hospital, status(diverted=frozenset({TRAUMA})), 300.0)
    c = capacity(no_trauma)
    assert (c.ed, c.trauma, c.red, c.total) == (True, False, 0, 8)


def test_reds_stay_at_trauma_centres_even_over_capacity() -> None:
    """5 reds, 4 trauma places: the fifth is flagged over capacity at the trauma centre, not
    sent to the nearer general ED; yellows and greens fill what reds left, never the
    diverted ED."""
    p, _ = distribute({R: 5, Y: 2, G: 4}, [TRAUMA_CENTRE, GENERAL, DIVERTED])
    sent: dict[tuple[Triage, str], int] = {}
    for line in p.lines:
        sent[line.colour, line.hospital_id] = line.count
    assert {h for (c, h) in sent if c is R} == {"t"} and sent[R, "t"] == 5
    assert [line.overflow for line in p.lines if line.colour is R] == [1]
    assert not any(h == "d" for (_, h) in sent)
    assert sent.get((Y, "g"), 0) + sent.get((G, "g"), 0) <= 4  # g: 20 beds x 0.2
    assert sent.get((Y, "t"), 0) + sent.get((G, "t"), 0) <= 3  # t: 8 places - 5 reds
    assert sum(line.count for line in p.lines if line.colour is not R) == 6
    assert p.overflow and p.not_transported == 0


def test_no_trauma_centre_reachable_leaves_reds_unplaced() -> None:
    off = Receiving(TRAUMA_CENTRE.hospital, status(), math.inf)
    p, _ = distribute({R: 2, G: 1}, [off, GENERAL])
    assert dict(p.unplaced) == {R: 2}
    assert [(x.colour, x.hospital_id, x.count) for x in p.lines] == [(G, "g", 1)]


@given(
    red=st.integers(0, 6),
    yellow=st.integers(0, 6),
    green=st.integers(0, 6),
    load=st.sampled_from([None, 0.5, 0.9, 1.1, 1.3]),
)
def test_within_capacity_the_plan_respects_every_limit(
    red: int, yellow: int, green: int, load: float | None
) -> None:
    """Whenever no line is over capacity, each hospital gets at most its places, reds only
    at trauma centres and at most their red places; nothing goes to a diverted ED."""
    hospitals = [Receiving(TRAUMA_CENTRE.hospital, status(load), 300.0), GENERAL, DIVERTED]
    if red + yellow + green == 0:
        return
    p, caps = distribute({R: red, Y: yellow, G: green}, hospitals)
    by_id = {c.hospital_id: c for c in caps}
    if p.overflow:
        assert sum(x.overflow for x in p.lines) > 0
        return
    for c in caps:
        mine = [x for x in p.lines if x.hospital_id == c.hospital_id]
        assert sum(x.count for x in mine) <= c.total
        assert sum(x.count for x in mine if x.colour is R) <= c.red
    assert all(by_id[x.hospital_id].trauma for x in p.lines if x.colour is R)
    assert all(by_id[x.hospital_id].ed for x in p.lines)


# --- open places and the board ----------------------------------------------------------------
LINES = [Line(R, "t", 2), Line(Y, "g", 1), Line(G, "g", 1), Line(G, "t", 1)]


def child(n: int, colour: Triage, dest: str, stage: Stage = Stage.DISPATCHED) -> Child:
    return Child(f"I1.{n:02d}", colour, dest, stage)


def test_open_slots_reds_first_in_plan_order() -> None:
    assert open_slots(LINES, []) == [(R, "t"), (R, "t"), (Y, "g"), (G, "g"), (G, "t")]


def test_a_rerouted_patient_takes_the_other_place_and_a_cancelled_one_frees_its_own() -> None:
    """A green sent to t instead of g leaves g's green place open; a cancelled red counts
    for nothing."""
    kids = [child(1, R, "t", Stage.CANCELLED), child(2, G, "t"), child(3, R, "t")]
    assert open_slots(LINES, kids) == [(R, "t"), (Y, "g"), (G, "g")]


def test_the_board_counts_by_stage_hospital_and_colour() -> None:
    """2 reds at t (one transporting, one arrived), a green closed on scene, one cancelled."""
    kids = [
        child(1, R, "t", Stage.TRANSPORTING),
        child(2, R, "t", Stage.ARRIVED),
        child(3, G, "g", Stage.NOT_TRANSPORTED),
        child(4, Y, "g", Stage.CANCELLED),
    ]
    b = board(LINES, kids)
    t = next(h for h in b["hospitals"] if h["hospital_id"] == "t")
    assert t["planned"] == {"red": 2, "yellow": 0, "green": 1}
    assert t["transporting"]["red"] == 1 and t["arrived"]["red"] == 1 and t["transported"] == 2
    assert b["pending"] == {"red": 0, "yellow": 1, "green": 1}
    assert (b["not_transported"], b["cancelled"], b["children"]) == (1, 1, 4)


def test_stage_follows_the_timeline() -> None:
    assert stage_of({Step.EN_ROUTE}) is Stage.DISPATCHED
    assert stage_of({Step.LEFT_SCENE}) is Stage.TRANSPORTING
    assert stage_of({Step.LEFT_SCENE, Step.AT_DESTINATION, Step.CLOSED}) is Stage.ARRIVED
    assert stage_of({Step.ON_SCENE, Step.CLOSED}) is Stage.NOT_TRANSPORTED
    assert stage_of({Step.CANCELLED, Step.CLOSED}) is Stage.CANCELLED
