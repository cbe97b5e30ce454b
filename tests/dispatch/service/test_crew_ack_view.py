"""The console's prompt to phone a crew, worked out from the offer's time and a given clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.model import Capability, IncidentId, UnitId
from dispatch.service.views import CALL_CREW_AFTER_S, Views
from routing.load import load_network
from routing.router import Router

I1, A1 = IncidentId("I1"), UnitId("A1")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine in this module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


@pytest.fixture
def offered(router: Router) -> tuple[Engine, Views]:
    """A1 offered I1 at t=100 s with the engine's ack timeout at an hour (no escalation), and
    the views over that engine alone (the prompt needs nothing else)."""
    e = Engine(router, EngineSettings(ack_timeout_s=3600.0))
    e.receive(ev.UnitRegistered(A1, Capability.ALS, 30.2790, 120.1480), 0.0)
    e.receive(ev.CallReceived(I1, 30.2803, 120.1465, 20.0), 1.0)
    e.receive(ev.UnitAssigned(I1, A1), 100.0)
    return e, Views(SimpleNamespace(engine=e))  # type: ignore[arg-type]


def test_no_acknowledgement_for_30_s_prompts_a_phone_call(offered: tuple[Engine, Views]) -> None:
    """Offered at 100 s: at 129.9 s no prompt yet, at 130 s (30 s on) the prompt, both with
    offered_at_s = 100."""
    e, views = offered
    assert CALL_CREW_AFTER_S == 30.0
    inc = e.incident(I1)
    assert views.crew_ack(inc, 129.9) == {"offered_at_s": 100.0, "call_crew": False}
    assert views.crew_ack(inc, 130.0) == {"offered_at_s": 100.0, "call_crew": True}


def test_one_device_acknowledging_ends_the_prompt(offered: tuple[Engine, Views]) -> None:
    """The driver acknowledges at 140 s: at 200 s there is nothing to phone about."""
    e, views = offered
    e.receive(ev.OfferAcknowledged(I1, A1, "driver"), 140.0)
    assert views.crew_ack(e.incident(I1), 200.0) == {"offered_at_s": None, "call_crew": False}
