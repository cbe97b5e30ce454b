"""Mass-casualty distribution: capacities, reds to trauma, flagged overflow, proven optimal."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aed_map.errors import InvalidArgument
from aed_map.mci import (
    TRANSPORTED,
    MciHospital,
    MciParams,
    MciPlan,
    Triage,
    cell_cost,
    plan,
)

R, Y, G = Triage.RED, Triage.YELLOW, Triage.GREEN
ZY1 = MciHospital("zy1", "浙一", True, 420, red=3, yellow=6, green=10)
SRM = MciHospital("srm", "省人民", True, 540, red=4, yellow=6, green=10)
GEN = MciHospital("gen", "市三", False, 300, red=2, yellow=5, green=20)


def sent(p: MciPlan) -> dict[tuple[Triage, str], int]:
    return {(x.colour, x.hospital_id): x.count for x in p.lines}


def test_capacities_respected_and_explained() -> None:
    """5 red: 3 to the nearest trauma centre, 2 to the next, each line saying why."""
    p = plan({R: 5}, [ZY1, SRM, GEN])
    assert sent(p) == {(R, "zy1"): 3, (R, "srm"): 2}
    assert not p.overflow
    first, second = (x.explanation for x in p.lines)
    assert first == "3 red → 浙一 (trauma, 7 min), nearest trauma centre"
    assert second == "2 red → 省人民 (trauma, 9 min), because 浙一's red capacity is 3"


def test_reds_bypass_a_nearer_general_hospital() -> None:
    """The non-trauma hospital is 2 min nearer, but reds go to the trauma centre."""
    p = plan({R: 2, Y: 2}, [ZY1, GEN])
    assert sent(p)[(R, "zy1")] == 2 and (R, "gen") not in sent(p)
    assert sent(p)[(Y, "gen")] == 2  # yellows take the nearest


def test_reds_go_general_when_trauma_is_full_and_say_so() -> None:
    """With the trauma centre full, the extra red goes to the general hospital, explained."""
    p = plan({R: 4}, [ZY1, GEN])
    assert sent(p) == {(R, "zy1"): 3, (R, "gen"): 1}
    assert p.lines[1].explanation.endswith("because 浙一's red capacity is 3")


def test_reds_general_when_trauma_is_far() -> None:
    """A trauma centre 50 min further loses to a nearer hospital: the line names the gap."""
    far = MciHospital("far", "远郊创伤中心", True, 3_300, red=9, yellow=9, green=9)
    p = plan({R: 1}, [far, GEN])
    assert sent(p) == {(R, "gen"): 1}
    assert "the nearest trauma centre, 远郊创伤中心, is 50 min further" in p.lines[0].explanation


def test_load_spreads_before_the_nearest_fills() -> None:
    """Greens past half the nearest's capacity go to a hospital up to 2 min further instead."""
    near = MciHospital("n", "近", False, 300, red=0, yellow=0, green=10)
    other = MciHospital("o", "远", False, 390, red=0, yellow=0, green=10)
    p = plan({G: 8}, [near, other])
    assert sent(p) == {(G, "n"): 5, (G, "o"): 3}
    assert "近 keeps headroom (5 of 10 green places used)" in p.lines[1].explanation


def test_total_capacity_favours_reds() -> None:
    """With one joint place left nearby, the red takes it and the green goes further."""
    near = MciHospital("n", "近", True, 300, red=5, yellow=5, green=5, total=1)
    far = MciHospital("f", "远", True, 900, red=5, yellow=5, green=5)
    p = plan({R: 1, G: 1}, [near, far], MciParams(surge_s=0))
    assert sent(p) == {(R, "n"): 1, (G, "f"): 1}
    assert "近 is full (1 patients in all)" in p.lines[1].explanation


def test_infeasible_overflows_and_is_flagged() -> None:
    """9 reds for 7 red places: 2 overflow, spread over the least-bad hospitals, flagged."""
    p = plan({R: 9}, [ZY1, SRM])
    assert p.overflow
    assert sum(x.count for x in p.lines) == 9
    assert sum(x.overflow for x in p.lines) == 2
    assert all(x.count - x.overflow <= {"zy1": 3, "srm": 4}[x.hospital_id] for x in p.lines)
    over = [x for x in p.lines if x.overflow]
    assert all("OVER CAPACITY" in x.explanation for x in over)
    assert "no reachable hospital has a red place left" in over[0].explanation


def test_black_and_unreachable() -> None:
    """Black casualties are counted, not transported; no reachable hospital leaves all unplaced."""
    unreachable = MciHospital("x", "X", True, math.inf, red=9, yellow=9, green=9)
    p = plan({R: 2, Triage.BLACK: 3}, [unreachable])
    assert p.lines == () and p.unplaced == {R: 2} and p.not_transported == 3
    assert plan({Triage.BLACK: 1}, [ZY1]).not_transported == 1


def test_bad_input_is_refused() -> None:
    """Negative counts, duplicate ids, NaN ETAs and bad capacities raise InvalidArgument."""
    with pytest.raises(InvalidArgument):
        plan({R: -1}, [ZY1])
    with pytest.raises(InvalidArgument):
        plan({R: 1}, [ZY1, ZY1])
    with pytest.raises(InvalidArgument):
        MciHospital("h", "H", True, math.nan, 1, 1, 1)
    with pytest.raises(InvalidArgument):
        MciHospital("h", "H", True, 60, -1, 1, 1)
    with pytest.raises(InvalidArgument):
        MciParams(weight={R: 3, Y: 2})


# --- optimality against brute force -----------------------------------------------------------


def splits(n: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to put n identical patients into `parts` ordered cells."""
    for bars in itertools.combinations(range(n + parts - 1), parts - 1):
        edges = (-1, *bars, n + parts - 1)
        yield tuple(edges[i + 1] - edges[i] - 1 for i in range(parts))


def brute_force(counts: dict[Triage, int], hospitals: list[MciHospital], p: MciParams) -> int:
    """The least objective over every feasible (within-capacity, beyond-capacity) split."""
    per_colour = []
    for c in TRANSPORTED:
        options = []
        for s in splits(counts[c], 2 * len(hospitals)):
            regular, over = s[: len(hospitals)], s[len(hospitals) :]
            if all(r <= h.capacity(c) for r, h in zip(regular, hospitals, strict=True)):
                options.append((regular, over))
        per_colour.append(options)
    best = math.inf
    for combo in itertools.product(*per_colour):
        totals = [sum(combo[k][0][i] for k in range(3)) for i in range(len(hospitals))]
        if any(h.total is not None and t > h.total for t, h in zip(totals, hospitals, strict=True)):
            continue
        cost = sum(
            cell_cost(c, h, combo[k][0][i], combo[k][1][i], p)
            for k, c in enumerate(TRANSPORTED)
            for i, h in enumerate(hospitals)
        )
        best = min(best, cost)
    return int(best)


hospitals_st = st.lists(
    st.builds(
        MciHospital,
        id=st.sampled_from("abc"),
        name=st.just("H"),
        trauma=st.booleans(),
        eta_s=st.floats(60, 3_600),
        red=st.integers(0, 2),
        yellow=st.integers(0, 2),
        green=st.integers(0, 3),
        total=st.none() | st.integers(0, 4),
    ),
    min_size=1, max_size=2, unique_by=lambda h: h.id,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    hospitals=hospitals_st,
    red=st.integers(0, 2), yellow=st.integers(0, 2), green=st.integers(0, 3),
    surge=st.integers(0, 600), share=st.sampled_from([0.0, 0.5, 1.0]),
)  # fmt: skip
def test_plan_is_optimal(
    hospitals: list[MciHospital], red: int, yellow: int, green: int, surge: int, share: float
) -> None:
    """On small cases the plan's cost is the brute-force minimum and matches its own lines."""
    counts = {R: red, Y: yellow, G: green}
    p = MciParams(surge_s=surge, comfort_share=share)
    result = plan(counts, hospitals, p)
    by_id = {h.id: h for h in hospitals}
    own = sum(
        cell_cost(x.colour, by_id[x.hospital_id], x.count - x.overflow, x.overflow, p)
        for x in result.lines
    )
    assert result.cost == own == brute_force(counts, hospitals, p)
    assert {c: sum(x.count for x in result.lines if x.colour is c) for c in TRANSPORTED} == counts
    assert result.overflow == any(x.overflow for x in result.lines)
