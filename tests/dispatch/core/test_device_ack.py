"""Crew devices acknowledging an offer one by one, and a crew status resent by an offline queue."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import Capability, IncidentId, Step, UnitId, UnitStatus
from dispatch.errors import IllegalTransition
from routing.load import load_network
from routing.router import Router

INCIDENT = (30.2803, 120.1465)  # near 文三路 in the Wulin fixture (lat, lon)
STATION = (30.2790, 120.1480)
I1, A1 = IncidentId("I1"), UnitId("A1")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """One router on the Wulin network for every engine in this module (engines never write it)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


@pytest.fixture
def offered(router: Router) -> Engine:
    """Unit A1 (devices tablet, doctor, driver) offered incident I1 at t=10."""
    e = Engine(router)
    e.receive(ev.UnitRegistered(A1, Capability.ALS, *STATION), 0.0)
    e.receive(ev.CallReceived(I1, *INCIDENT, 20.0), 1.0)
    e.receive(ev.UnitAssigned(I1, A1), 10.0)
    e.decisions()
    return e


def acks(e: Engine) -> list[ev.DeviceAcked]:
    return [d for d in e.decisions() if isinstance(d, ev.DeviceAcked)]


def test_each_new_device_is_announced_with_all_that_acknowledged_so_far(offered: Engine) -> None:
    """doctor at 12 s, then "default" (the unit's shared token) at 13 s: two DeviceAcked
    listing (doctor) then (default, doctor); the doctor again announces nothing."""
    offered.receive(ev.OfferAcknowledged(I1, A1, "doctor"), 12.0)
    assert acks(offered) == [ev.DeviceAcked(I1, A1, "doctor", ("doctor",))]
    offered.receive(ev.OfferAcknowledged(I1, A1, "default"), 13.0)
    assert acks(offered) == [ev.DeviceAcked(I1, A1, "default", ("default", "doctor"))]
    offered.receive(ev.OfferAcknowledged(I1, A1, "doctor"), 14.0)
    assert acks(offered) == []
    inc = offered.incident(I1)
    assert inc.acked_devices == {"doctor", "default"}
    assert inc.timeline[Step.UNIT_ACKNOWLEDGED] == 12.0 and inc.offer_deadline_s is None


def test_a_device_named_by_its_token_need_not_be_registered_with_the_unit(offered: Engine) -> None:
    """A device added later ("zhang-phone", not in UnitRegistered.devices) is accepted: which
    device may ack is its token's to say, checked in the shell."""
    offered.receive(ev.OfferAcknowledged(I1, A1, "zhang-phone"), 12.0)
    assert offered.incident(I1).acked_devices == {"zhang-phone"}


def test_a_resent_status_is_an_idempotent_success(offered: Engine) -> None:
    """en_route at 20 s, then en_route again at 25 s (a queue resending): no error, no
    decision, the timeline keeps 20 s; on_scene after it still works."""
    offered.receive(ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE), 20.0)
    offered.decisions()
    offered.receive(ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE), 25.0)
    assert offered.decisions() == []
    assert offered.incident(I1).timeline[Step.EN_ROUTE] == 20.0
    offered.receive(ev.UnitStatusReported(A1, UnitStatus.ON_SCENE), 30.0)
    assert offered.unit(A1).status is UnitStatus.ON_SCENE


def test_a_status_out_of_order_is_still_refused(offered: Engine) -> None:
    """on_scene then en_route (a step back, not a repeat) is still an illegal transition."""
    offered.receive(ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE), 20.0)
    offered.receive(ev.UnitStatusReported(A1, UnitStatus.ON_SCENE), 30.0)
    with pytest.raises(IllegalTransition):
        offered.receive(ev.UnitStatusReported(A1, UnitStatus.EN_ROUTE), 31.0)
