"""Destination choice: capability first, diversion respected, ETA + offload ranks, reasons said.

The toy registry (conftest): a = ED + stroke + PCI, b = ED + PCI, c = ED only, d = ED + trauma.
Times are seconds; every hospital is reachable unless a test says otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_link.destination import (
    Basis,
    DestinationParams,
    Override,
    override,
    rank_destinations,
    required_capability,
)
from hospital_link.errors import InvalidArgument, UnknownHospital
from hospital_link.registry import Capability, Freshness, HospitalStatus, Registry
from tests.support.hospitals import hospital

C = Capability
MIN = 60.0
NEAR = {"a": 12 * MIN, "b": 8 * MIN, "c": 3 * MIN, "d": 6 * MIN}


def report(registry: Registry, hid: str, offload_min: float, *diverted: Capability) -> None:
    """Hospital `hid` reports at t=0 a wait and diversions valid for an hour."""
    status = HospitalStatus(0.0, 3600.0, frozenset(diverted), offload_wait_min=offload_min)
    assert registry.update_status(hid, status, 0.0)


@pytest.mark.parametrize(
    ("condition", "capability"),
    [("cardiac_arrest", C.PCI), ("chest_pain", C.PCI), ("stroke", C.STROKE),
     ("trauma", C.TRAUMA), ("breathing", C.ED), ("obstetric", C.OBSTETRIC),
     ("paediatric", C.PAEDIATRIC), ("other", C.ED)],
)  # fmt: skip
def test_condition_needs_capability(condition: str, capability: Capability) -> None:
    """Each dispatch complaint maps to one capability; an arrest goes to a PCI centre."""
    assert required_capability(condition) is capability


def test_capability_filter(toy: Registry) -> None:
    """A stroke goes to a (12 min), the only thrombectomy centre, not c (3 min), with reasons."""
    choices = rank_destinations(toy, NEAR, "stroke", 2, 0.0)
    assert [c.hospital_id for c in choices] == ["a"]
    top = choices[0]
    assert (top.basis, top.capability, top.diverted) == (Basis.CAPABLE, C.STROKE, False)
    assert top.eta_s == 12 * MIN and top.nearest_ed_id == "c"
    assert top.extra_vs_nearest_ed_s == 9 * MIN
    assert top.reasons[0] == "stroke → thrombectomy centre"
    assert "9 min further than nearest ED" in top.summary
    assert "no status reported" in top.summary and top.freshness is Freshness.NEVER


def test_offload_wait_counts(toy: Registry) -> None:
    """PCI: a (12 min road + 2 min offload) beats b (8 min road + 10 min offload)."""
    report(toy, "a", 2)
    report(toy, "b", 10)
    choices = rank_destinations(toy, NEAR, "chest_pain", 2, 0.0)
    assert [(c.hospital_id, c.score_s) for c in choices] == [("a", 14 * MIN), ("b", 18 * MIN)]
    assert not choices[0].offload_assumed and choices[0].freshness is Freshness.REPORTED


def test_silent_hospital_ranks_below_reporting_one(toy: Registry) -> None:
    """b reports 5 min; a is silent (30 min assumed), so b wins though a is the same distance."""
    report(toy, "b", 5)
    choices = rank_destinations(toy, {"a": 8 * MIN, "b": 8 * MIN}, "chest_pain", 2, 0.0)
    assert [c.hospital_id for c in choices] == ["b", "a"]
    assert choices[1].offload_assumed and "offload assumed 30 min" in choices[1].summary


def test_diverted_hospital_is_skipped(toy: Registry) -> None:
    """a diverts PCI: a P2 chest pain goes to b even though a would score better."""
    report(toy, "a", 0, C.PCI)
    report(toy, "b", 20)
    choices = rank_destinations(toy, NEAR, "chest_pain", 2, 0.0)
    assert [c.hospital_id for c in choices] == ["b"]


def test_all_capable_diverted_falls_back_to_open_ed(toy: Registry) -> None:
    """a diverts stroke: a P2 stroke goes to the nearest open ED (c), a itself left out."""
    report(toy, "a", 0, C.STROKE)
    choices = rank_destinations(toy, NEAR, "stroke", 2, 0.0)
    assert choices[0].hospital_id == "c" and "a" not in {c.hospital_id for c in choices}
    assert {c.basis for c in choices} == {Basis.ED_FALLBACK}
    assert "every reachable thrombectomy centre on diversion" in choices[0].summary
    assert "is the nearest ED" in choices[0].summary


def test_p1_overrides_diversion_when_nothing_open_within_bound(toy: Registry) -> None:
    """Same diversion, P1: a is chosen, marked diverted, and the override is said."""
    report(toy, "a", 0, C.STROKE)
    (top,) = rank_destinations(toy, NEAR, "stroke", 1, 0.0)
    assert (top.hospital_id, top.basis, top.diverted) == ("a", Basis.DIVERSION_OVERRIDDEN, True)
    assert "on diversion, overridden: P1 and no open thrombectomy centre within 20 min" in (
        top.summary
    )


def test_p1_keeps_diversion_when_open_capable_is_near(toy: Registry) -> None:
    """a diverts PCI; b (8 min) is open and within 20 min, so even a P1 goes to b only."""
    report(toy, "a", 0, C.PCI)
    choices = rank_destinations(toy, NEAR, "chest_pain", 1, 0.0)
    assert [c.hospital_id for c in choices] == ["b"]


def test_p1_may_take_diverted_when_open_one_is_far(toy: Registry) -> None:
    """b is open but 25 min away, a diverted at 5 min: P1 sees both, a first by score."""
    report(toy, "a", 5, C.PCI)
    report(toy, "b", 5)
    travel = {"a": 5 * MIN, "b": 25 * MIN, "c": 3 * MIN}
    choices = rank_destinations(toy, travel, "chest_pain", 1, 0.0)
    assert [(c.hospital_id, c.diverted, c.basis) for c in choices] == [
        ("a", True, Basis.DIVERSION_OVERRIDDEN),
        ("b", False, Basis.CAPABLE),
    ]
    bound = DestinationParams(p1_override_bound_s=30 * MIN)
    narrowed = rank_destinations(toy, travel, "chest_pain", 1, 0.0, bound)
    assert [c.hospital_id for c in narrowed] == ["b"]


def test_expiry_restores_trust_defaults(toy: Registry) -> None:
    """a's stroke diversion expires at 3600 s: at 3700 s a is capable again, offload assumed."""
    report(toy, "a", 0, C.STROKE)
    (top,) = rank_destinations(toy, NEAR, "stroke", 2, 3700.0)
    assert (top.hospital_id, top.basis, top.diverted) == ("a", Basis.CAPABLE, False)
    assert top.freshness is Freshness.EXPIRED and top.offload_wait_s == 30 * MIN
    assert "status expired" in top.summary


def test_no_capable_hospital_falls_back_to_nearest_ed(toy: Registry) -> None:
    """No obstetric unit at all: nearest ED first (c, 3 min), the reason says why."""
    choices = rank_destinations(toy, NEAR, "obstetric", 2, 0.0)
    assert [c.hospital_id for c in choices] == ["c", "d", "b", "a"]
    assert choices[0].basis is Basis.ED_FALLBACK
    assert "no reachable obstetric unit: an open ED instead" in choices[0].summary


def test_unreachable_is_excluded(toy: Registry) -> None:
    """a unreachable (inf) and d absent: a stroke falls back; neither appears."""
    travel = {"a": math.inf, "b": 8 * MIN, "c": 3 * MIN}
    choices = rank_destinations(toy, travel, "stroke", 1, 0.0)
    assert {c.hospital_id for c in choices} == {"b", "c"}
    assert all(c.basis is Basis.ED_FALLBACK for c in choices)
    assert rank_destinations(toy, {}, "stroke", 1, 0.0) == []


def test_every_ed_diverted_voids_diversion(toy: Registry) -> None:
    """All four EDs on diversion, P2 breathing: diversion is void, nearest ED first."""
    for hid in "abcd":
        report(toy, hid, 10, C.ED)
    choices = rank_destinations(toy, NEAR, "breathing", 2, 0.0)
    assert choices[0].hospital_id == "c"
    assert all(c.basis is Basis.DIVERSION_VOID and c.diverted for c in choices)


def test_cardiac_arrest_goes_to_pci_centre(toy: Registry) -> None:
    """An arrest goes to a PCI centre (post-ROSC), not to the nearer plain ED c."""
    choices = rank_destinations(toy, NEAR, "cardiac_arrest", 1, 0.0)
    assert [c.hospital_id for c in choices] == ["b", "a"]
    assert choices[0].reasons[0] == "cardiac_arrest → PCI centre (post-ROSC)"


def test_bundled_registry_chest_pain(hospitals_csv: Path) -> None:
    """On the bundled ten hospitals, every chest-pain choice is a PCI centre."""
    registry = Registry.load_csv(hospitals_csv)
    travel = {h.id: 60.0 * (i + 1) for i, h in enumerate(registry.hospitals)}
    choices = rank_destinations(registry, travel, "chest_pain", 2, 0.0)
    assert choices
    assert all(C.PCI in registry.hospital(c.hospital_id).capabilities for c in choices)


@pytest.mark.parametrize(
    ("travel", "condition", "priority", "error"),
    [
        ({"a": math.nan}, "stroke", 1, InvalidArgument),
        ({"a": -1.0}, "stroke", 1, InvalidArgument),
        ({"zz": 60.0}, "stroke", 1, UnknownHospital),
        ({"a": 60.0}, "headache", 1, InvalidArgument),
        ({"a": 60.0}, "stroke", 4, InvalidArgument),
        ({"a": 60.0}, "stroke", 0, InvalidArgument),
    ],
)
def test_bad_arguments(
    toy: Registry, travel: dict[str, float], condition: str, priority: int, error: type
) -> None:
    """NaN or negative times, unknown hospitals or conditions, priority outside 1..3 raise."""
    with pytest.raises(error):
        rank_destinations(toy, travel, condition, priority, 0.0)


def test_override_record(toy: Registry) -> None:
    """A dispatcher sending the patient to c instead of the advised b is recorded as data."""
    choices = rank_destinations(toy, NEAR, "chest_pain", 2, 0.0)
    rec = override(toy, choices, "c", "disp-7", "road closed at bridge", 42.0)
    assert rec == Override("disp-7", "b", "c", "road closed at bridge", 42.0)  # type: ignore[arg-type]
    with pytest.raises(UnknownHospital):
        override(toy, choices, "zz", "disp-7", "x", 42.0)
    with pytest.raises(InvalidArgument):
        override(toy, choices, "b", "disp-7", "same place", 42.0)
    with pytest.raises(InvalidArgument):
        override(toy, choices, "c", "disp-7", "  ", 42.0)


CONDITIONS = ["cardiac_arrest", "chest_pain", "stroke", "trauma", "breathing", "other"]
CAPS = [C.ED, C.PCI, C.STROKE, C.TRAUMA]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Registry, dict[str, float], float]:
    """Up to 8 hospitals with random capabilities, statuses (some expired) and travel times."""
    n = draw(st.integers(1, 8))
    hs = [hospital(f"h{i}", *draw(st.sets(st.sampled_from(CAPS[1:])))) for i in range(n)]
    registry = Registry(tuple(hs))
    travel: dict[str, float] = {}
    for h in hs:
        eta = draw(st.one_of(st.just(math.inf), st.floats(0, 3600)))
        if draw(st.booleans()):
            travel[h.id] = eta
        if draw(st.booleans()):
            diverted = draw(st.sets(st.sampled_from(CAPS)))
            expires = draw(st.sampled_from([100.0, 2000.0]))  # now is 1000: some expired
            wait = draw(st.one_of(st.none(), st.floats(0, 90)))
            status = HospitalStatus(0.0, expires, frozenset(diverted), offload_wait_min=wait)
            if expires > 1000.0:
                registry.update_status(h.id, status, 1000.0)
    return registry, travel, draw(st.floats(0, 3600))


@settings(max_examples=200, deadline=None)
@given(world=worlds(), condition=st.sampled_from(CONDITIONS), priority=st.integers(1, 3))
def test_ranking_properties(
    world: tuple[Registry, dict[str, float], float], condition: str, priority: int
) -> None:
    """Ordered by score; reachable only; a diverted choice only under P1 override or void."""
    registry, travel, bound_s = world
    params = DestinationParams(p1_override_bound_s=bound_s)
    choices = rank_destinations(registry, travel, condition, priority, 1000.0, params)
    cap = required_capability(condition)
    scores = [c.score_s for c in choices]
    assert scores == sorted(scores)
    assert all(math.isfinite(travel[c.hospital_id]) for c in choices)
    assert len({c.hospital_id for c in choices}) == len(choices)
    statuses = {h: registry.status(h, 1000.0) for h in travel}
    reachable = [h for h, t in travel.items() if math.isfinite(t)]
    open_capable = [
        h
        for h in reachable
        if cap in registry.hospital(h).capabilities and not statuses[h].diverts(cap)
    ]
    for c in choices:
        assert c.score_s == pytest.approx(c.eta_s + c.offload_wait_s)
        if c.basis in (Basis.CAPABLE, Basis.DIVERSION_OVERRIDDEN):
            assert cap in registry.hospital(c.hospital_id).capabilities
        if not c.diverted:
            continue
        if c.basis is Basis.DIVERSION_OVERRIDDEN:
            assert priority == 1
            assert all(travel[h] > bound_s for h in open_capable)
        else:
            assert c.basis is Basis.DIVERSION_VOID
            assert all(statuses[h].diverts(cap) for h in reachable)
    if open_capable and (priority != 1 or any(travel[h] <= bound_s for h in open_capable)):
        assert {c.hospital_id for c in choices} == set(open_capable)
