"""Benchmark targets can fail: the file is validated, every key can be missed, a miss exits 1.

The unit tests need no benchmark run. The acceptance test runs the routing benchmark's quick
mode once as a subprocess (~20 s) against a copy of `benchmarks/targets.toml` with one floor
raised out of reach and one ceiling lowered out of reach; it must exit non-zero, and its
recorded figures are then re-judged, without running anything, with every key of the table
missed in turn.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from benchmarks import targets
from benchmarks.targets import MissingTarget, Scorecard, TargetError, Targets, judge, load, parse

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("routing", "fusion", "server", "vitals", "aed", "console", "startup")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def beyond(key: str, limit: float) -> float:
    """A limit no honest figure reaches: a floor 1e9 times higher, a ceiling far below zero."""
    return abs(limit) * 1e9 + 1e9 if key.endswith("_min") else -1e9


def missed_copy(tmp_path: Path, bench: str, *keys: str) -> Path:
    """targets.toml copied with each of `keys` in `[bench]` moved out of reach."""
    data = tomllib.loads(targets.DEFAULT_PATH.read_text(encoding="utf-8"))
    lines = []
    for name, table in data.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            new = beyond(key, value) if name == bench and key in keys else value
            lines.append(f"{key} = {new!r}")
    return write(tmp_path / "targets.toml", "\n".join(lines) + "\n")


# --- targets.py --------------------------------------------------------------------------


def test_every_table_of_the_shipped_file_loads() -> None:
    """targets.toml has a table per benchmark, each valid and not empty."""
    for bench in TABLES:
        assert load(bench).limits, bench


def test_a_key_without_min_or_max_is_refused(tmp_path: Path) -> None:
    """`p99_ms = 20` (no _min/_max suffix) is an error naming the key and the file."""
    path = write(tmp_path / "t.toml", "[server]\np99_ms = 20\n")
    with pytest.raises(TargetError, match=r"\[server\] p99_ms in .*_min or _max"):
        load("server", path)


@pytest.mark.parametrize("value", ['"20"', "true", "nan", "[1, 2]"])
def test_a_value_that_is_not_a_number_is_refused(tmp_path: Path, value: str) -> None:
    """A string, a boolean, NaN or a list as a limit is an error naming the key."""
    path = write(tmp_path / "t.toml", f"[server]\np99_ms_max = {value}\n")
    with pytest.raises(TargetError, match=r"p99_ms_max .* is not a number"):
        load("server", path)


def test_a_missing_table_or_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    """No [vitals] table, a file that is not TOML, and no file at all are TargetErrors."""
    with pytest.raises(TargetError, match=r"no \[vitals\] table"):
        load("vitals", write(tmp_path / "a.toml", "[server]\np99_ms_max = 20\n"))
    with pytest.raises(TargetError, match=r"cannot read"):
        load("vitals", write(tmp_path / "b.toml", "[vitals\n"))
    with pytest.raises(TargetError, match=r"cannot read"):
        load("vitals", tmp_path / "absent.toml")


def test_checking_a_key_the_file_lacks_names_it() -> None:
    """check('p50_ms_max') on a table holding only p99_ms_max raises MissingTarget (a KeyError)."""
    t = parse({"server": {"p99_ms_max": 20}}, "server", "t.toml")
    with pytest.raises(MissingTarget, match=r"no target 'p50_ms_max' in \[server\] of t.toml"):
        t.check("p50_ms_max", 1.0)
    with pytest.raises(KeyError):
        t.limit("p50_ms_max")


def test_a_ceiling_passes_at_and_below_and_fails_above() -> None:
    """p99_ms_max = 20: 12.5 and 20 pass, 20.1 and NaN fail; the text reads `≤ 20 ms`."""
    t = parse({"server": {"p99_ms_max": 20}}, "server")
    assert t.check("p99_ms_max", 12.5) == targets.Check("p99_ms_max", 12.5, 20.0, True, "≤ 20 ms")
    assert t.check("p99_ms_max", 20).passed is True
    assert t.check("p99_ms_max", 20.1).passed is False
    assert t.check("p99_ms_max", math.nan).passed is False


def test_a_floor_passes_at_and_above_and_fails_below() -> None:
    """ratio_vs_networkx_min = 100: 100 and inf pass, 99 and NaN fail; the text reads `≥ 100x`."""
    t = parse({"routing": {"ratio_vs_networkx_min": 100}}, "routing")
    assert t.text("ratio_vs_networkx_min") == "≥ 100x"
    assert [t.check("ratio_vs_networkx_min", v).passed for v in (100, math.inf, 99, math.nan)] == [
        True,
        True,
        False,
        False,
    ]


def test_an_unjudged_check_has_no_verdict_and_says_why() -> None:
    """A miss in a quick run is shown with its note and neither passes nor fails."""
    t = parse({"aed": {"nearest_p50_ms_max": 2}}, "aed")
    c = t.check("nearest_p50_ms_max", 9.0, unjudged=targets.QUICK)
    assert c.passed is None and c.label == "≤ 2 ms (quick: not judged)"
    assert "9 ms" in c.line() and "not judged" in c.line()


def test_the_environment_variable_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With JIJIU_BENCH_TARGETS set, load() reads that file instead of targets.toml."""
    path = write(tmp_path / "t.toml", "[aed]\nnearest_p50_ms_max = 0.5\n")
    monkeypatch.setenv(targets.ENV, str(path))
    assert load("aed").limits == {"nearest_p50_ms_max": 0.5}
    assert load("aed").source == str(path)


def test_a_scorecard_prints_each_figure_next_to_its_target_and_lists_misses() -> None:
    """Two checks, one missed: both printed, the miss in `failed` and in the recorded dict."""
    printed: list[str] = []
    t = parse({"aed": {"nearest_p50_ms_max": 2, "answers_differing_max": 0}}, "aed")
    card = Scorecard(t, printed.append)
    card.check("nearest_p50_ms_max", 0.7)
    card.check("answers_differing_max", 3)
    assert card.failed == ["answers_differing_max"]
    assert "0.7 ms" in printed[0] and "≤ 2 ms: pass" in printed[0]
    assert "FAIL" in printed[1]
    assert card.as_dict()["figures"] == {"nearest_p50_ms_max": 0.7, "answers_differing_max": 3}


@pytest.mark.parametrize("bench", TABLES)
def test_every_key_of_every_table_can_be_missed(bench: str) -> None:
    """For each key: a figure at its limit passes, one on the wrong side fails (pure `judge`)."""
    t = load(bench)
    for key, limit in t.limits.items():
        step = max(abs(limit), 1.0)
        wrong = limit - step if key.endswith("_min") else limit + step
        assert [c.passed for c in judge({key: limit}, t)] == [True], key
        assert [c.passed for c in judge({key: wrong}, t)] == [False], key


# --- acceptance: a missed routing target exits non-zero -----------------------------------


@pytest.fixture(scope="module")
def missed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`benchmarks.run --only routing --quick` against a copy of targets.toml whose
    `rank_ratio_vs_networkx_min` is raised and `network_arrays_mb_max` lowered out of reach:
    the exit status, the output and the recorded report."""
    tmp = tmp_path_factory.mktemp("missed")
    path = missed_copy(tmp, "routing", "rank_ratio_vs_networkx_min", "network_arrays_mb_max")
    out = tmp / "report"
    cmd = [sys.executable, "-m", "benchmarks.run", "--only", "routing", "--quick"]
    proc = subprocess.run(
        [*cmd, "--report", str(out)],
        cwd=ROOT,
        env={**os.environ, targets.ENV: str(path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = json.loads((out / "routing.json").read_text())
    return {"code": proc.returncode, "stdout": proc.stdout, "report": report}


@pytest.mark.slow
def test_a_floor_and_a_ceiling_out_of_reach_make_the_run_exit_non_zero(
    missed_run: dict[str, Any],
) -> None:
    """Exit status 1, and the last line counts exactly the two moved targets as failed."""
    assert missed_run["code"] == 1, missed_run["stdout"][-2000:]
    last = missed_run["stdout"].strip().splitlines()[-1]
    assert re.match(r"2 target\(s\) failed in routing", last), last
    assert "rank_ratio_vs_networkx_min" in last and "network_arrays_mb_max" in last


@pytest.mark.slow
def test_every_routing_key_is_measured_and_judged_quick_or_says_why(
    missed_run: dict[str, Any],
) -> None:
    """The quick report holds a figure for every [routing] key; at least the ratios to networkx,
    the answer checks, memory and failed queries are judged; the others carry a reason."""
    recorded = missed_run["report"]["targets"]
    table = load("routing")
    assert set(recorded["figures"]) == set(table.limits)
    judged = set(table.limits) - set(recorded["unjudged"])
    assert {
        "rank_ratio_vs_networkx_min",
        "route_ratio_vs_networkx_min",
        "rank_eta_delta_vs_scipy_s_max",
        "route_eta_delta_vs_networkx_s_max",
        "network_arrays_mb_max",
        "failed_queries_max",
    } <= judged
    assert all(recorded["unjudged"].values())


@pytest.mark.slow
def test_moving_any_judged_routing_key_out_of_reach_fails_the_recorded_report(
    missed_run: dict[str, Any], tmp_path: Path
) -> None:
    """Re-judging the recorded quick figures: each judged key, moved out of reach alone, adds
    itself to the failures against the shipped file (on a quiet machine: none); an unjudged key
    adds nothing."""
    recorded = missed_run["report"]["targets"]
    figures, unjudged = recorded["figures"], recorded["unjudged"]

    def failed(table: Targets) -> set[str]:
        return {c.key for c in judge(figures, table, unjudged) if c.passed is False}

    baseline = failed(load("routing", targets.DEFAULT_PATH))
    for key in load("routing").limits:
        moved = failed(load("routing", missed_copy(tmp_path, "routing", key)))
        assert moved == baseline | ({key} if key not in unjudged else set()), key


def test_the_run_refuses_a_bad_targets_file_before_running(tmp_path: Path) -> None:
    """A targets file with a bad key stops `benchmarks.run` at once with a TargetError."""
    path = write(tmp_path / "t.toml", "[routing]\nratio = 3\n")
    cmd = [sys.executable, "-m", "benchmarks.run", "--only", "routing", "--quick"]
    proc = subprocess.run(
        [*cmd, "--report", str(tmp_path / "r")],
        cwd=ROOT,
        env={**os.environ, targets.ENV: str(path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "TargetError" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_a_loaded_table_is_read_only() -> None:
    """A loaded table's limits cannot be changed in place by a benchmark."""
    t = load("routing")
    assert isinstance(t, Targets)
    with pytest.raises(TypeError):
        t.limits["rank_p50_ms_max"] = 5.0  # type: ignore[index]
