"""`jijiu study headline`: the report's tables are a fresh computation's, and the before/after
differ the way the mechanisms guarantee."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.studies import headline_cli
from simulator.studies.headline import run_study
from simulator.studies.headline_report import cause_table, main_table

ARGS = ["--seeds", "2", "--hours", "2", "--pool-calls", "30", "--jobs", "1"]


@pytest.mark.slow
def test_report_matches_a_fresh_computation(tmp_path: Path) -> None:
    """The report written for seeds 1-2 (2 h each, Hangzhou) holds exactly the before/after
    and cause tables recomputed from scratch; on every seed one tap answers no later (a
    shorter handling cannot lengthen the call-takers' queue), answering depends on the one
    tap alone (not on the recommendation), volunteers only add arrests reached, and the
    fixes raise the share located within 50 m."""
    out, img = tmp_path / "outcomes.md", tmp_path / "img"
    code = headline_cli.main([*ARGS, "--out", str(out), "--img", str(img)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert sorted(p.name for p in img.iterdir()) == [
        "before-after.png",
        "causes.png",
        "distributions.png",
    ]

    world = headline_cli.build(headline_cli._parser().parse_args(ARGS))
    fresh = run_study(world, [1, 2])
    assert main_table(fresh) in text
    assert cause_table(fresh) in text

    by = {(r.seed, r.variant): r for r in fresh}
    for seed in (1, 2):
        before, after = by[seed, "before"].figures, by[seed, "after"].figures
        for key in ("answer_mean", "answer_p50", "answer_p90"):
            assert after[key] <= before[key]
        assert by[seed, "+location"].figures["answer_mean"] == after["answer_mean"]
        assert by[seed, "+recommendation"].figures["answer_mean"] == before["answer_mean"]
        vols, alone = by[seed, "+volunteers"].arrests, by[seed, "before"].arrests
        assert all(v or not b for v, b in zip(vols, alone, strict=True))
    # The location switch is where the fixes are: the pooled located share rises.
    located = {v: sum(by[s, v].figures["located"] for s in (1, 2)) for v in ("before", "after")}
    assert located["after"] > located["before"]
