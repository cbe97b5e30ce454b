"""The queue as the console is shown it: order and the overdue alarm on an injected clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, UnitId
from dispatch.service.views import Views
from dispatch.settings import Settings
from routing.load import load_network
from routing.router import Router

HERE = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine in this module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


class Clock:
    """The service's clock, set by hand (engine seconds)."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def calls(router: Router, clock: Clock, settings: Settings) -> tuple[Engine, Views]:
    """A P1 called at 10 s, a P2 at 20 s and a P2 at 30 s (the P1 triaged as it came in),
    and the views over that engine with `clock` as the service's clock."""
    e = Engine(router)
    e.receive(ev.UnitRegistered(UnitId("A1"), Capability.ALS, 30.2790, 120.1480), 0.0)
    for iid, t in (("arrest", 10.0), ("old", 20.0), ("new", 30.0)):
        e.receive(ev.CallReceived(IncidentId(iid), *HERE, 20.0), t)
    e.receive(ev.IncidentTriaged(IncidentId("arrest"), Priority.P1, Complaint.CARDIAC_ARREST), 30.0)
    svc = SimpleNamespace(engine=e, settings=settings, now=clock)
    return e, Views(svc)  # type: ignore[arg-type]


def test_the_p1_older_than_the_p2s_is_first_and_overdue_at_60_s(router: Router) -> None:
    """At 69 s: arrest, old, new and none overdue; at 70 s the P1 (called at 10 s) is overdue
    and the P2s (180 s) are not; at 200 s the P2 of 20 s is too, the one of 30 s not yet."""
    clock = Clock(69.0)
    _, views = calls(router, clock, Settings())
    q = views.queue()
    assert [r["incident_id"] for r in q] == ["arrest", "old", "new"]
    assert [r["overdue"] for r in q] == [False, False, False]
    assert q[0]["overdue_at_s"] == 70.0 and q[0]["waited_s"] == 59.0
    clock.now_s = 70.0
    assert [r["overdue"] for r in views.queue()] == [True, False, False]
    clock.now_s = 200.0
    assert [r["overdue"] for r in views.queue()] == [True, True, False]


def test_the_limits_come_from_the_settings_and_a_unit_ends_the_alarm(router: Router) -> None:
    """JIJIU_OVERDUE_P1_S=30: the P1 is overdue at 40 s; once A1 is sent it leaves the queue."""
    clock = Clock(40.0)
    settings = Settings.from_env({"JIJIU_OVERDUE_P1_S": "30"})
    assert (settings.overdue_p1_s, settings.overdue_p2_s, settings.overdue_p3_s) == (30, 180, 600)
    e, views = calls(router, clock, settings)
    assert views.queue()[0] == {
        "incident_id": "arrest",
        "priority": 1,
        "waited_s": 30.0,
        "overdue_at_s": 40.0,
        "overdue": True,
    }
    e.receive(ev.UnitAssigned(IncidentId("arrest"), UnitId("A1")), 40.0)
    assert [r["incident_id"] for r in views.queue()] == ["old", "new"]


def test_an_overdue_limit_that_is_not_positive_is_refused() -> None:
    """JIJIU_OVERDUE_P2_S=0 is not a setting."""
    with pytest.raises(ValueError):
        Settings.from_env({"JIJIU_OVERDUE_P2_S": "0"})
