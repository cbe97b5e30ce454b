"""Advice as a job: ranked elsewhere against a frozen snapshot, checked against the state it
comes back to."""

from __future__ import annotations

import threading

import pytest

from dispatch.core import events as ev
from dispatch.core.advice import advise
from dispatch.core.engine import Engine
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, UnitId
from routing.load import load_network
from routing.router import Router

INCIDENT = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture
STATIONS = {"A1": (30.2790, 120.1480), "B2": (30.2850, 120.1400), "A3": (30.2950, 120.1650)}


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine in this module."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def _engine(router: Router) -> Engine:
    e = Engine(router)
    for uid, (lat, lon) in STATIONS.items():
        cap = Capability.BLS if uid.startswith("B") else Capability.ALS
        e.receive(ev.UnitRegistered(UnitId(uid), cap, lat, lon), 0.0)
    e.decisions()
    return e


def _call(e: Engine, iid: str, t: float, complaint: Complaint | None = None) -> IncidentId:
    e.receive(ev.CallReceived(IncidentId(iid), *INCIDENT, 20.0, complaint), t)
    return IncidentId(iid)


def test_a_job_ranks_what_the_engine_would_have_ranked_then(router: Router) -> None:
    """The job taken after a call gives the options `decisions()` gives an identical engine."""
    taken, inline = _engine(router), _engine(router)
    _call(taken, "I1", 1.0)
    _call(inline, "I1", 1.0)
    [job] = taken.take_advice()
    assert not any(isinstance(d, ev.Recommended) for d in taken.decisions())  # owed no more
    [rec] = [d for d in inline.decisions() if isinstance(d, ev.Recommended)]
    assert tuple(advise(router, job)) == rec.options
    assert {o.unit_id for o in rec.options} == set(STATIONS)


def test_a_priority_kept_stays_with_decisions(router: Router) -> None:
    """A cardiac arrest (P1) kept for the loop is not taken; `decisions()` ranks it."""
    e = _engine(router)
    _call(e, "I1", 1.0, Complaint.CARDIAC_ARREST)
    assert e.take_advice(frozenset({Priority.P1})) == []
    recs = [d for d in e.decisions() if isinstance(d, ev.Recommended)]
    assert [r.incident_id for r in recs] == ["I1"] and recs[0].options


def test_a_unit_taken_meanwhile_is_left_out(router: Router) -> None:
    """Ranked before A1 went to another call, the advice comes back without A1."""
    e = _engine(router)
    first = _call(e, "I1", 1.0)
    [job] = e.take_advice()
    options = advise(router, job)
    second = _call(e, "I2", 2.0)
    e.receive(ev.UnitAssigned(second, UnitId("A1")), 3.0)
    advice = e.advice_taken(job, options)
    assert advice is not None and advice.incident_id == first
    assert [o.unit_id for o in advice.options] == ["B2", "A3"]


def test_an_incident_assigned_meanwhile_gets_no_advice(router: Router) -> None:
    """A dispatcher sent a unit before the ranking came back: no recommendation is shown."""
    e = _engine(router)
    iid = _call(e, "I1", 1.0)
    [job] = e.take_advice()
    e.receive(ev.UnitAssigned(iid, UnitId("A3")), 2.0)
    assert e.advice_taken(job, advise(router, job)) is None


def test_searches_on_two_threads_agree_with_one(router: Router) -> None:
    """Each thread ranks with its own search space: 50 jobs on two threads at once give the
    answers they give one at a time."""
    e = _engine(router)
    jobs = []
    for i in range(50):
        _call(e, f"I{i}", 1.0 + i)
        jobs += e.take_advice()
    alone = [advise(router, j) for j in jobs]
    together: dict[int, list[object]] = {}

    def work(parity: int) -> None:
        for _ in range(5):
            for i in range(parity, len(jobs), 2):
                together[i] = list(advise(router, jobs[i]))

    threads = [threading.Thread(target=work, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [together[i] for i in range(len(jobs))] == alone
