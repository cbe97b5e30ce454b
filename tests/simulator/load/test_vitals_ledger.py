"""The vitals load's ledger and figures: what was sent, what each hospital got, per phase, and
the memory growth the design explains; hand-checkable samples, no socket and no clock."""

from __future__ import annotations

import pytest

from simulator.load.vitals.figures import figures
from simulator.load.vitals.hospitals import HospitalClient
from simulator.load.vitals.ledger import Ledger, clean, history_growth_mb, merged, tally

# Two hospitals, one unit each: u1 -> H1, u2 -> H2.
DEST = {"u1": "H1", "u2": "H2"}


def two_units_one_phase() -> Ledger:
    """Phase 1: u1 sends seq 1 at 10.0 and seq 2 at 11.0; u2 sends seq 1 at 10.5."""
    ledger = Ledger(phase=1)
    ledger.note_sent("u1", 1, 10.0, due_s=10.0)
    ledger.note_sent("u1", 2, 11.0, due_s=10.9)
    ledger.note_sent("u2", 1, 10.5, due_s=10.5)
    return ledger


def test_note_sent_keeps_the_phase_and_how_late_the_send_was() -> None:
    """A send 0.1 s behind its schedule is noted as 0.1 s late, in the phase it was made."""
    ledger = two_units_one_phase()
    assert ledger.sent[("u1", 2)] == (11.0, 1)
    assert ledger.late_sends == pytest.approx([0.0, 0.1, 0.0])


def test_an_accepted_reply_is_timed_from_its_send_and_an_unknown_one_ignored() -> None:
    """u1's seq 1 accepted at 10.025: 25 ms in phase 1; a reply to a seq never sent is dropped."""
    ledger = two_units_one_phase()
    ledger.note_accepted("u1", 1, 10.025)
    ledger.note_accepted("u1", 99, 12.0)
    assert len(ledger.accepted) == 1
    assert ledger.accepted[0][0] == pytest.approx(0.025) and ledger.accepted[0][1] == 1
    assert ledger.accepted_in(1)["n"] == 1 and ledger.accepted_in(2)["n"] == 0


def test_tally_counts_lost_duplicated_misrouted_and_out_of_order() -> None:
    """H1 gets u1 seq 2 (at 11.02), then seq 1 (10.05: out of order), then seq 2 again
    (duplicated) and u2's seq 1 (misrouted); H2 gets nothing (its one sample lost)."""
    ledger = two_units_one_phase()
    got = {
        "H1": [("u1", 2, 11.02), ("u1", 1, 10.05), ("u1", 2, 11.5), ("u2", 1, 10.6)],
        "H2": [],
    }
    per = tally(ledger.sent, DEST, got, 1, slow_id="H2")
    h1, h2 = per["H1"], per["H2"]
    assert (h1["sent"], h1["received"], h1["lost"]) == (2, 2, 0)
    assert (h1["duplicated"], h1["misrouted"], h1["out_of_order"]) == (1, 1, 1)
    assert h1["latency_s"] == pytest.approx([0.02, 0.05])
    assert (h2["sent"], h2["received"], h2["lost"], h2["slow"]) == (1, 0, 1, True)
    both = merged(per, ["H1", "H2"])
    assert (both["sent"], both["received"], both["lost"]) == (3, 2, 1)
    assert both["latency"]["n"] == 2 and both["latency"]["max_ms"] == pytest.approx(50.0)
    assert not clean(both) and not clean(merged(per, ["H1"]))


def test_samples_of_another_phase_are_not_counted() -> None:
    """A phase-2 send received by its hospital is not in the phase-1 tally."""
    ledger = two_units_one_phase()
    ledger.phase = 2
    ledger.note_sent("u2", 2, 12.0, due_s=12.0)
    got = {"H1": [], "H2": [("u2", 1, 10.51), ("u2", 2, 12.01)]}
    p1, p2 = tally(ledger.sent, DEST, got, 1), tally(ledger.sent, DEST, got, 2)
    assert (p1["H2"]["sent"], p1["H2"]["received"]) == (1, 1)
    assert (p2["H2"]["sent"], p2["H2"]["received"]) == (1, 1)
    assert clean(merged(p2, ["H2"])) and not clean(merged(p2, ["H1"]))


def test_history_growth_fills_each_topic_up_to_its_cap() -> None:
    """History of 4 frames, 1 MiB a frame, one patient a hospital (one frame already kept).
    H1: 1 warm-up frame (kept 2), 1 in phase 1 (3: +1 MiB), 5 in phase 2 (cap 4: +1 MiB);
    H2: nothing before phase 2, 2 in phase 2 (+2 MiB). So 1 MiB, then 3 MiB."""
    sent = {("u1", 0): (0.0, 0), ("u1", 1): (1.0, 1)}
    sent |= {("u1", k): (float(k), 2) for k in range(2, 7)}
    sent |= {("u2", 1): (2.0, 2), ("u2", 2): (3.0, 2)}
    assert history_growth_mb(sent, DEST, 2**20, history=4) == pytest.approx((1.0, 3.0))


def test_figures_put_the_phases_memory_and_the_slow_hospital_into_the_report() -> None:
    """H1 (slow) and H2 each get their phase-1 sample; in phase 2 H2 gets its sample and H1
    none. Marks one second apart, the server using 0.5 s of CPU and growing 1 MB a phase."""
    ledger = two_units_one_phase()
    ledger.phase = 2
    ledger.note_sent("u1", 3, 13.0, due_s=13.0)
    ledger.note_sent("u2", 2, 13.5, due_s=13.5)
    ledger.marks = [
        {"t": float(t), "cpu_s": 0.5 * t, "rss_mb": 100.0 + t, "peak_rss_mb": 105.0, "gen_cpu_s": 0}
        for t in range(5)
    ]
    h1 = HospitalClient("H1", slow=True, frames=2, frame_bytes=2000)
    h1.got += [("u1", 1, 10.01), ("u1", 2, 11.01)]
    h2 = HospitalClient("H2", slow=False, frames=2, frame_bytes=2000)
    h2.got += [("u2", 1, 10.52), ("u2", 2, 13.52)]
    report = figures(ledger, DEST, [h1, h2], {"slow": {"close_code": None}}, "1hz", 32.0)
    assert report["hospitals"] == ["H1", "H2"] and report["slow_hospital"] == "H1"
    assert report["phase1"]["all"]["received"] == 3 and report["phase1"]["others"]["sent"] == 1
    assert report["phase2"]["others"]["received"] == 1 and report["phase2"]["slow"]["lost"] == 1
    assert report["phase1"]["server_cpu_share"] == pytest.approx(0.5)
    assert report["rss_growth_mb"] == {"phase1": 1.0, "phase2": 1.0}
    assert report["mean_frame_bytes"] == 1000.0
    assert report["phase1"]["per_hospital"]["H2"]["latency"]["n"] == 1
    slow = report["slow_client"]
    assert slow["received_live"] == 0 and slow["last_sample_sent_s_into_phase2"] is None
    assert report["rss_expected_mb"]["bound_phase2"] == pytest.approx(
        report["rss_expected_mb"]["history_phase2"] + report["rss_expected_mb"]["queue"] + 32.0
    )
