"""Ranking off the loop: a call's recommendation is worked out on the worker thread and reaches
the console after the call, exactly as ranking on the loop would show it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService
from dispatch.settings import Settings
from tests.support.server import new_call, recv_until, start


def _recommended(settings: Settings) -> tuple[list[dict[str, Any]], DispatchService]:
    """Three calls on a fresh server; each one's recommendation as the console saw it."""
    opened: list[DispatchService] = []

    def open_service(config: Settings, hub: Hub) -> DispatchService:
        opened.append(DispatchService.open(config, hub))
        return opened[0]

    live = start(settings, open_service)
    try:
        with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
            json.loads(console.recv(timeout=10))  # the snapshot
            recs = []
            for key in ("advice-1", "advice-2", "advice-3"):
                iid = new_call(live, key).json()["incident_id"]
                rec = recv_until(
                    console,
                    lambda f, iid=iid: (
                        f["type"] == "incident.recommended" and f["incident_id"] == iid
                    ),
                )
                recs.append(rec)
    finally:
        live.stop()
    return recs, opened[0]


def test_a_call_is_ranked_on_the_worker_as_the_loop_would_rank_it(
    settings: Settings, tmp_path: Path
) -> None:
    """Off the loop (JIJIU_OFF_LOOP=1) three chest-pain calls are ranked by the worker; the
    recommendations the console gets list the same units in the same order as on the loop
    (the default), where nothing is ranked on the worker."""
    off, off_svc = _recommended(replace(settings, off_loop=True))
    fresh = f"sqlite:///{tmp_path / 'on-loop.db'}"
    on, on_svc = _recommended(replace(settings, off_loop=False, store_url=fresh))
    assert off_svc.advisor.jobs == 3 and off_svc.advisor.busy_s > 0
    assert on_svc.advisor.jobs == 0
    assert all(r["options"] for r in off)
    units = [[o["unit_id"] for o in r["options"]] for r in off]
    assert units == [[o["unit_id"] for o in r["options"]] for r in on]
