"""Advice as a job: what ranking units for one incident needs, frozen, so it can run elsewhere.

The engine owes a recommendation after a call, a triage or a new place. Ranking is the costliest
thing it does (a road search of a few milliseconds), so the server works it out on another
thread while the event loop goes on: `Engine.take_advice` freezes what the search reads (the
incident's view, a `UnitView` of every unit that may take it, the parameters), `advise` ranks it
anywhere, and `Engine.advice_taken` checks the answer against the state it comes back to. Pure:
the router's arrays are only read, and each thread searches with its own scratch space.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.core.model import IncidentId, IncidentView, UnitView
from dispatch.core.recommend import Option, RecommendParams, rank_options
from routing.router import Router


@dataclass(frozen=True)
class AdviceJob:
    """One recommendation to work out: `view` None for an incident not placed yet (no
    ranking: the answer is no option)."""

    incident_id: IncidentId
    at_s: float
    view: IncidentView | None
    units: tuple[UnitView, ...]
    params: RecommendParams


def advise(router: Router, job: AdviceJob) -> list[Option]:
    """The job's options, best first (`rank_options`); [] for an incident not placed."""
    if job.view is None:
        return []
    return rank_options(router, job.units, job.view, job.at_s, job.params)
