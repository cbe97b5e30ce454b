"""The vitals load's figures: what `drive` recorded, tallied into the report's numbers.

Pure (no socket, no clock): per phase, the samples sent, received, lost, duplicated and
misrouted, their device-to-hospital latency (ms), the server's CPU share and memory at each
phase boundary, the memory growth the design explains (the hub's history filling up plus one
full client queue), and what became of the slow hospital.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from simulator.load.latency import pcts
from simulator.load.vitals.ledger import Ledger, history_growth_mb, merged, tally

if TYPE_CHECKING:
    from simulator.load.vitals.hospitals import HospitalClient

HUB_QUEUE = 256  # frames one subscriber may have queued (dispatch.live.hub.Hub default)


def share(a: Mapping[str, float], b: Mapping[str, float], key: str) -> float:
    """CPU seconds of `key` per wall second between two marks (1.0 = one core)."""
    return (b[key] - a[key]) / (b["t"] - a["t"])


def per_hospital(per: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tally as the report keeps it: the counts and the latency percentiles (ms)."""
    return {
        h: {**{k: v for k, v in r.items() if k != "latency_s"}, "latency": pcts(r["latency_s"])}
        for h, r in per.items()
    }


def slow_client(
    ledger: Ledger, slow: HospitalClient, slow_units: set[str], fate: Mapping[str, Any]
) -> dict[str, Any]:
    """The slow hospital's fate, and what it received live in phase 2 (before any reconnect):
    how many samples, and how far into the phase the last of them was sent."""
    live = slow.got[: slow.live_n]
    t2 = ledger.marks[2]["t"]
    sends = [ledger.sent.get((u, s)) for u, s, _ in live]
    last = max((x[0] for x in sends if x is not None and x[1] == 2), default=None)
    keys = {(u, q) for u, q, _ in live}
    received = sum(
        1 for (u, q), (_, p) in ledger.sent.items() if p == 2 and u in slow_units and (u, q) in keys
    )
    return {
        **fate.get("slow", {}),
        "last_sample_sent_s_into_phase2": None if last is None else last - t2,
        "resume": fate.get("resume"),
        "server_log": fate.get("server_log"),
        "received_live": received,
    }


def figures(
    ledger: Ledger,
    dest: Mapping[str, str],
    hs: Sequence[HospitalClient],
    fate: Mapping[str, Any],
    slow_mode: str,
    slack_mb: float,
) -> dict[str, Any]:
    """The report's numbers. `dest`: unit -> hospital; `hs`: the hospitals, the slow one first;
    `fate`: the slow one's (`slow`, `resume`, `server_log`); `slack_mb`: the allocator slack
    allowed over the designed memory growth. `ledger.marks` holds five marks: start, after
    the warm-up, after phase 1, after phase 2, after the drain."""
    marks = ledger.marks
    got = {h.hospital_id: h.got for h in hs}
    slow_id = hs[0].hospital_id
    p1 = tally(ledger.sent, dest, got, 1, slow_id)
    p2 = tally(ledger.sent, dest, got, 2, slow_id)
    everyone = [h.hospital_id for h in hs]
    others = everyone[1:]
    frames = sum(h.frames for h in hs)
    mean_frame = sum(h.frame_bytes for h in hs) / frames if frames else 0.0
    hist1, hist2 = history_growth_mb(ledger.sent, dest, mean_frame)
    queue_mb = HUB_QUEUE * mean_frame / 2**20
    grew1 = marks[2]["rss_mb"] - marks[1]["rss_mb"]
    grew2 = marks[3]["rss_mb"] - marks[2]["rss_mb"]
    slow_units = {u for u, h in dest.items() if h == slow_id}

    def phase(per: Mapping[str, Mapping[str, Any]], k: int) -> dict[str, Any]:
        return {
            "server_cpu_share": share(marks[k], marks[k + 1], "cpu_s"),
            "generator_cpu_share": share(marks[k], marks[k + 1], "gen_cpu_s"),
            "accepted_reply": ledger.accepted_in(k),
            "per_hospital": per_hospital(per),
        }

    return {
        "units": len(dest),
        "hospitals": everyone,
        "slow_hospital": slow_id,
        "slow_mode": slow_mode,
        "mean_frame_bytes": mean_frame,
        "phase1": {"all": merged(p1, everyone), "others": merged(p1, others), **phase(p1, 1)},
        "phase2": {"others": merged(p2, others), "slow": merged(p2, [slow_id]), **phase(p2, 2)},
        "rss_mb": [m["rss_mb"] for m in marks],
        "peak_rss_mb": marks[-1]["peak_rss_mb"],
        "rss_growth_mb": {"phase1": grew1, "phase2": grew2},
        "rss_expected_mb": {
            "history_phase1": hist1,
            "history_phase2": hist2,
            "queue": queue_mb,
            "bound_phase2": hist2 + queue_mb + slack_mb,
        },
        "slow_client": slow_client(ledger, hs[0], slow_units, fate),
        "tablet_errors": dict(ledger.errors),
        "late_sends": pcts(ledger.late_sends),
    }
