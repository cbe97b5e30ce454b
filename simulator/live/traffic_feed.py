"""The traffic feed of a live run: the city's traffic model posted to the server's endpoint.

Every `period_s` wall seconds the feed asks the model (`simulator.world.traffic_model`) what holds
at the current city time and posts what is due to `POST /api/v1/traffic` with the traffic
token, exactly as a real feed would: a factor on edge ids with an `expires_in_s`, converted
from city to wall seconds with the run's speed (the server's clock is the wall clock).

What is due (`FeedPlan`, pure): a class report the server has not had, whose factor changed,
or that has less than half its validity left; a road incident when it starts; and every
incident in force again after any class report, because on the server the newest report on
an edge wins and an incident must stay on top of its street's class factor. Answers are
counted in the run's tally (`traffic reports accepted` / `traffic reports refused`); a
refusal is also an error of the run.

The city's own roads follow the same reports: each is also written into the simulator's router
(through a `dispatch.core.traffic.TrafficBook` on the city clock, so the newest report wins and an
incident's street goes back to its class factor when it ends, as on the server). The tablets'
routes come from that router, so units drive slower at the peaks and through road incidents,
and their positions show the server what the feed reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.core.traffic import TrafficBook
from routing.router import Router
from simulator.live.context import LiveContext
from simulator.world.traffic_model import Report, TrafficModel

PERIOD_S = 2.0  # wall seconds between looks at the model
MIN_EXPIRES_S = 1.0  # wall seconds: the shortest lifetime a report is posted with
ACCEPTED = "traffic reports accepted"
REFUSED = "traffic reports refused"


@dataclass
class Sent:
    factor: float
    expires_at_s: float  # city seconds


class FeedPlan:
    """What the server has been told (by report key), and what is due next."""

    def __init__(self, refresh_share: float = 0.5) -> None:
        self.refresh_share = refresh_share
        self._sent: dict[str, Sent] = {}

    def due(self, reports: list[Report], t_s: float) -> list[Report]:
        """The reports to post at city time t_s, class reports first, then incidents."""
        classes = [r for r in reports if not r.is_incident and self._stale(r, t_s)]
        incidents = [r for r in reports if r.is_incident]
        if not classes:
            incidents = [r for r in incidents if r.key not in self._sent]
        for r in classes + incidents:
            self._sent[r.key] = Sent(r.factor, t_s + r.expires_in_s)
        for key in [k for k, s in self._sent.items() if s.expires_at_s <= t_s]:
            del self._sent[key]
        return classes + incidents

    def _stale(self, r: Report, t_s: float) -> bool:
        sent = self._sent.get(r.key)
        return (
            sent is None
            or sent.factor != r.factor
            or sent.expires_at_s - t_s < self.refresh_share * r.expires_in_s
        )


def body(report: Report, speed: float) -> dict[str, object]:
    """The JSON a report is posted as; its lifetime in wall seconds."""
    return {
        "factor": report.factor,
        "expires_in_s": max(report.expires_in_s / speed, MIN_EXPIRES_S),
        "edges": report.edges.tolist(),
    }


class CityRoads:
    """The simulator's router under the reports the feed posts (city time, newest wins)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.book = TrafficBook()

    def report(self, report: Report, t_s: float) -> None:
        entry = self.book.add("edges", report.edges, report.factor, t_s, report.expires_in_s)
        for write in self.book.written(entry):
            self.router.set_congestion(write.edges, write.factor)

    def expire(self, t_s: float) -> None:
        for restore in self.book.expire(t_s):
            self.router.set_congestion(restore.edges, restore.factor)


async def run_traffic_feed(
    ctx: LiveContext, model: TrafficModel, period_s: float = PERIOD_S
) -> None:
    """Post the model's due reports every `period_s` wall seconds until the run stops."""
    token = str(ctx.endpoints.tokens["traffic"])
    plan = FeedPlan()
    roads = CityRoads(ctx.router)
    while True:
        t_s = ctx.city_s()
        roads.expire(t_s)
        for report in plan.due(model.reports(t_s), t_s):
            if ctx.stop.is_set():
                return
            roads.report(report, t_s)
            r = await ctx.api("POST", "/api/v1/traffic", token, body(report, ctx.speed))
            ctx.tally.count(ACCEPTED if r is not None and r.status_code == 201 else REFUSED)
        if not await ctx.pause(period_s):
            return
