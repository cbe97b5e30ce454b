"""The per-setting evaluation report: figures against the issue's targets, as Markdown.

`evaluate_settings` runs `location_fusion.evaluate` on each named generator setting
(`eval_settings`) over one seed range; `checks` judges one setting's figures against the
targets (`TARGETS`, the same values as `[location]` in benchmarks/targets.toml); `markdown`
writes the summary table, then per setting the methods side by side (fused, GPS-only,
cell-only, a plain average), the conflict alarm against the planted truth and calibration
per evidence mix. Pure apart from the clock read for timing in `evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from location_fusion.cells import CellTable
from location_fusion.eval_settings import PROJECT_SETTING, SETTINGS
from location_fusion.evaluate import (
    METHODS,
    AlarmSummary,
    MixSummary,
    Outcome,
    Summary,
    run_calls,
    summarise,
)
from location_fusion.locate import Locator
from location_fusion.planted import DISAGREE_M
from location_fusion.scenario import CallMaker

MIX_MIN_CALLS = 100  # a mix's calibration is judged from this many calls (s.e. ~2 points)


@dataclass(frozen=True)
class Targets:
    """The issue-19 acceptance figures (benchmarks/targets.toml [location] holds the same)."""

    within_50m_min: float = 0.85  # on the project's mix
    biased_gain_points_min: float = 5.0  # over GPS-only, on calls with a biased GNSS fix
    calibration_min: float = 0.90  # every evidence mix with >= MIX_MIN_CALLS calls
    calibration_max: float = 0.98
    lone_ratio_max: float = 3.0  # a lone good GNSS fix: median r95 / claimed accuracy
    precision_min: float = 0.80
    recall_min: float = 0.90
    false_alarm_clean_max: float = 0.03


TARGETS = Targets()


@dataclass(frozen=True)
class Check:
    """One figure against its target."""

    name: str
    value: float
    target: str
    passed: bool


def evaluate_settings(
    maker: CallMaker,
    locator: Locator,
    cells: CellTable,
    names: list[str],
    calls: int,
    seed: int,
    progress: Callable[[str, Iterator[int]], Iterator[int]] | None = None,
) -> dict[str, tuple[dict[str, object], list[Outcome]]]:
    """Each setting's summary and outcomes, calls `seed .. seed + calls - 1`."""
    out = {}
    for name in names:
        wrap = None
        if progress is not None:
            wrap = lambda it, n=name: progress(n, it)  # noqa: E731
        outcomes = run_calls(maker.with_mix(SETTINGS[name].mix), locator, cells, calls, seed, wrap)
        out[name] = (summarise(outcomes), outcomes)
    return out


def checks(result: dict[str, object], setting: str, t: Targets = TARGETS) -> list[Check]:
    """The setting's figures against the targets; within-50 m only on the project's mix."""
    fused = _summary(result, "fused")
    alarm = result["alarm"]
    assert isinstance(alarm, AlarmSummary)
    out = []
    if setting == PROJECT_SETTING:
        out.append(
            Check(
                "within 50 m",
                fused.within_50m,
                f">= {t.within_50m_min:.0%}",
                fused.within_50m >= t.within_50m_min,
            )
        )
    gain = 100 * (
        _f(result, "biased_gnss_fused_within_50m") - _f(result, "biased_gnss_gps_only_within_50m")
    )
    out.append(
        Check(
            "biased GNSS: gain over GPS-only (points)",
            gain,
            f">= +{t.biased_gain_points_min:.0f}",
            gain >= t.biased_gain_points_min,
        )
    )
    mixes = _judged_mixes(result)
    if mixes:
        lo = min(m.calibration for m in mixes.values())
        hi = max(m.calibration for m in mixes.values())
        span = f"{t.calibration_min:.0%}-{t.calibration_max:.0%}"
        out.append(Check("95 % calibration, lowest mix", lo, span, lo >= t.calibration_min))
        out.append(Check("95 % calibration, highest mix", hi, span, hi <= t.calibration_max))
    lone = _f(result, "lone_gnss_radius_ratio_median")
    if math.isfinite(lone):
        out.append(
            Check(
                "lone good GNSS: r95 / claim",
                lone,
                f"<= {t.lone_ratio_max:g}",
                lone <= t.lone_ratio_max,
            )
        )
    out.append(
        Check(
            "alarm precision",
            alarm.precision,
            f">= {t.precision_min:.0%}",
            alarm.precision >= t.precision_min,
        )
    )
    out.append(
        Check("alarm recall", alarm.recall, f">= {t.recall_min:.0%}", alarm.recall >= t.recall_min)
    )
    out.append(
        Check(
            "false alarms on clean calls",
            alarm.false_alarm_clean,
            f"<= {t.false_alarm_clean_max:.0%}",
            alarm.false_alarm_clean <= t.false_alarm_clean_max,
        )
    )
    return [c for c in out if math.isfinite(c.value)]  # too few calls: not judged


def markdown(results: dict[str, dict[str, object]], calls: int, seed: int) -> str:
    """The whole report: one summary row per setting, then each setting in detail."""
    head = [
        "setting",
        "fused ≤50 m",
        "GPS-only ≤50 m",
        "cell-only ≤50 m",
        "fused 95 % holds",
        "biased GNSS: fused / GPS-only ≤50 m",
        "alarm P / R",
        "false alarms (clean)",
        "lone fix r95/claim",
        "targets missed",
    ]
    lines = [
        f"SYNTHETIC calls: {calls} per setting, seeds {seed}-{seed + calls - 1}; a call truly",
        f"conflicts when a source planted wrong lies more than {DISAGREE_M:.0f} m from the truth.",
        "",
        _row(head),
        "|" + "---|" * len(head),
    ]
    for name, r in results.items():
        a = r["alarm"]
        assert isinstance(a, AlarmSummary)
        missed = [c.name for c in checks(r, name) if not c.passed]
        lines.append(
            _row(
                [
                    f"`{name}`",
                    _pct(_summary(r, "fused").within_50m),
                    _pct(_summary(r, "gps_only").within_50m),
                    _pct(_summary(r, "cell_only").within_50m),
                    _pct(_summary(r, "fused").calibration),
                    f"{_pct(_f(r, 'biased_gnss_fused_within_50m'))} / "
                    f"{_pct(_f(r, 'biased_gnss_gps_only_within_50m'))}",
                    f"{_pct(a.precision)} / {_pct(a.recall)}",
                    _pct(a.false_alarm_clean),
                    f"{_f(r, 'lone_gnss_radius_ratio_median'):.2f}",
                    "; ".join(missed) or "none",
                ]
            )
        )
    for name, r in results.items():
        lines += ["", f"### `{name}`: {SETTINGS[name].about}", "", *setting_tables(r, name)]
    return "\n".join(lines)


def setting_tables(r: dict[str, object], name: str) -> list[str]:
    """One setting: methods side by side, the alarm, per-mix calibration, the checks."""
    head = ["method", "≤50 m", "median", "p90", "95 % holds", "answered"]
    lines = [_row(head), "|" + "---|" * len(head)]
    for m in METHODS:
        s = _summary(r, m)
        lines.append(
            _row(
                [
                    m,
                    _pct(s.within_50m),
                    f"{s.median_m:.0f} m",
                    f"{s.p90_m:.0f} m",
                    _pct(s.calibration),
                    _pct(s.answered),
                ]
            )
        )
    a = r["alarm"]
    assert isinstance(a, AlarmSummary)
    lines += [
        "",
        f"Conflict alarm: precision {_pct(a.precision)}, recall {_pct(a.recall)} "
        f"({a.conflicts} calls truly in conflict, {a.alarms} alarms); false alarms on "
        f"{a.clean} clean calls {_pct(a.false_alarm_clean)}; on {a.grey} calls planted wrong "
        f"by at most {DISAGREE_M:.0f} m it fired on {_pct(a.alarm_grey)}. Calls with a biased "
        f"GNSS fix ({r['biased_gnss_calls']}): fused {_pct(_f(r, 'biased_gnss_fused_within_50m'))}"
        f" within 50 m, GPS-only {_pct(_f(r, 'biased_gnss_gps_only_within_50m'))}.",
        "",
    ]
    head = [
        "evidence mix",
        "calls",
        "fused ≤50 m",
        "fused 95 % holds",
        "median radius",
        "GPS-only holds",
        "cell-only holds",
    ]
    lines += [_row(head), "|" + "---|" * len(head)]
    by_mix = r["by_mix"]
    assert isinstance(by_mix, dict)
    for mix, ms in by_mix.items():
        assert isinstance(ms, MixSummary)
        lines.append(
            _row(
                [
                    mix,
                    str(ms.calls),
                    _pct(ms.within_50m),
                    _pct(ms.calibration),
                    f"{ms.median_radius_m:.0f} m",
                    _pct(ms.gps_only_calibration),
                    _pct(ms.cell_only_calibration),
                ]
            )
        )
    lines += [
        "",
        "Targets: "
        + "; ".join(
            f"{c.name} {_fmt(c)} (target {c.target}) {'met' if c.passed else '**missed**'}"
            for c in checks(r, name)
        )
        + ".",
    ]
    return lines


def _judged_mixes(result: dict[str, object]) -> dict[str, MixSummary]:
    by_mix = result["by_mix"]
    assert isinstance(by_mix, dict)
    return {k: v for k, v in by_mix.items() if v.calls >= MIX_MIN_CALLS}


def _summary(result: dict[str, object], method: str) -> Summary:
    s = result[method]
    assert isinstance(s, Summary)
    return s


def _f(result: dict[str, object], key: str) -> float:
    v = result[key]
    assert isinstance(v, float | int)
    return float(v)


def _fmt(c: Check) -> str:
    return (
        f"{c.value:+.1f}"
        if "points" in c.name
        else f"{c.value:.2f}"
        if "/" in c.name
        else _pct(c.value)
    )


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.1%}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
