"""How far each piece of evidence is trusted: the fusion parameters, and each fix's age.

`FusionParams` holds every trust setting (the error model's priors and tails, the time rules)
and the sampler's size; the functions here apply the time rules to a call's fixes: which are
stale, how much each counts beside the newest of its kind, and how likely its kind is off
in the urban-canyon tail given how well its two newest agree. Pure; the error model is
explained in docs/location-fusion.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.geo import LocalFrame


@dataclass(frozen=True)
class FusionParams:
    """How much each kind of evidence is trusted, and how the posterior is computed.

    Each fix is a mixture (docs/location-fusion.md, "error model"): a Gaussian at its claimed
    accuracy with probability 1 - `outlier_p`, and an urban-canyon tail (`outlier_sigma_m`,
    multipath puts GNSS 100-300 m off while it claims 10 m) with probability `outlier_p`.
    The tail's prior is small, so a lone fix's 95 % circle stays a few times its claim (about
    2x for a 68 % claim); disagreeing evidence is what moves the posterior into the tail.
    GNSS (and the phone's `fused` fix, usually GNSS) is the usual offender, Wi-Fi rarely so:
    the ratio of the two priors decides which one of a disagreeing pair is believed. Fitted on
    the SYNTHETIC evaluation mix (`jijiu eval-location`, per-mix calibration); refit on real
    call logs.

    Time: a fix loses weight with its age behind the newest fix (`half_life_s`; the newest
    counts fully, since tempering a lone source only spreads it into its tail) and its sigma
    grows with its age (`drift_mps`). A fix
    older than `stale_after_s` is stale: listed (`SourceWeight.stale`) but not used for the
    position while any fresher evidence exists; alone it is used, widened by its drift.
    An older fix farther than `max_jump_m` from the newest of its kind is stale too (the
    handset moved on, or one of them is wild: the newest report wins). Older than `max_age_s`
    it is dropped.
    """

    outlier_p: tuple[tuple[str, float], ...] = (
        ("gnss", 0.04),
        ("wifi", 0.003),
        ("cell", 0.05),
        ("fused", 0.04),
    )
    outlier_sigma_m: float = 250.0
    outlier_mid_share: float = 0.25  # of outlier_p: a nearer tail, for fixes 30-150 m off
    outlier_mid_sigma_m: float = 60.0
    canyon_scatter_m: float = 40.0  # how far apart multipath puts a handset's successive fixes
    max_outlier_p: float = 0.6  # a fix's outlier share never exceeds this, however suspect
    min_sigma_m: float = 3.0
    drift_mps: float = 0.2  # callers mostly stay by the patient; sigma still grows with age
    half_life_s: float = 300.0  # a fix counts half as much per half-life older than the newest
    stale_after_s: float = 120.0  # older fixes are shown as stale, not used for the position
    max_jump_m: float = 1000.0  # an older fix this far from the newest of its kind is stale
    max_age_s: float = 1800.0  # older fixes are ignored
    speech_outlier_p: float = 0.15  # "said the wrong street"
    street_sigma_m: float = 30.0
    samples: int = 400
    bandwidth_m: float = 12.0  # mean-shift kernel; narrower around a sharp fix
    # The conflict alarm (location_fusion.conflict), tuned against the generator's planted
    # truth on the tuning seeds (docs/location-evaluation.md): it should fire when a source
    # is more than DISAGREE_M (250 m) off, and not for the 100-250 m a canyon fix or a caller
    # naming a street 120 m away is off every day. So regions are measured nearly from their
    # centres and the margin carries the threshold.
    conflict_margin_m: float = 225.0  # regions farther apart than this raise the alarm
    conflict_fix_sigmas: float = 0.5  # a fix's region for the alarm, in sigmas about it
    conflict_street_m: float = 15.0  # a named street's region for the alarm, m either side
    conflict_point_scale: float = 0.0  # a named junction's or place's region, x its r95
    conflict_speech_ratio: float = 0.95  # words: only candidates this close to the top count
    stale_conflict_m: float = 250.0  # a stale fix this far from the estimate raises it too
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "outlier_sigma_m",
            "canyon_scatter_m",
            "min_sigma_m",
            "half_life_s",
            "stale_after_s",
            "max_jump_m",
            "max_age_s",
            "street_sigma_m",
            "bandwidth_m",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InvalidInput(f"{name} must be positive")
        if not 0 <= self.outlier_mid_share <= 1 or not self.outlier_mid_sigma_m > 0:
            raise InvalidInput("outlier_mid_share must be in [0, 1], outlier_mid_sigma_m > 0")
        if not 0 < self.max_outlier_p < 1:
            raise InvalidInput("max_outlier_p must be in (0, 1)")
        if not 0 <= self.speech_outlier_p < 1 or self.samples < 100:
            raise InvalidInput("speech_outlier_p must be in [0, 1) and samples >= 100")
        for name in (
            "conflict_margin_m",
            "conflict_fix_sigmas",
            "conflict_street_m",
            "conflict_point_scale",
            "stale_conflict_m",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InvalidInput(f"{name} must be >= 0")
        if not 0 <= self.conflict_speech_ratio <= 1:
            raise InvalidInput("conflict_speech_ratio must be in [0, 1]")


def split_stale(
    fixes: list[DeviceFix], now_s: float, params: FusionParams, other_evidence: bool
) -> tuple[list[DeviceFix], list[DeviceFix]]:
    """(fixes to fuse, fixes set aside as stale), each in a canonical order.

    Fixes older than `max_age_s` are dropped; those older than `stale_after_s` are set aside
    while a fresher fix or `other_evidence` (a cell sector, words) can place the call. So is
    an older fix farther than `max_jump_m` from the newest of its kind: the handset has moved
    on (or one of them is wild), and the newest report wins. A fix stamped in the future (a
    handset clock ahead) counts as fresh.
    """
    key = lambda f: (f.observed_at_s, f.lat, f.lon, f.accuracy_m, f.source)  # noqa: E731
    kept = sorted((f for f in fixes if now_s - f.observed_at_s <= params.max_age_s), key=key)
    fresh = [f for f in kept if now_s - f.observed_at_s <= params.stale_after_s]
    stale = [f for f in kept if now_s - f.observed_at_s > params.stale_after_s]
    if not fresh and not other_evidence:
        fresh, stale = stale, []
    newest = {f.source: f for f in fresh}  # time order: the last of each kind stays
    jumped = [f for f in fresh if separation_m(f, newest[f.source]) > params.max_jump_m]
    if jumped:
        fresh = [f for f in fresh if f not in jumped]
        stale = sorted(stale + jumped, key=key)
    return fresh, stale


def recency(fix: DeviceFix, usable: list[DeviceFix], params: FusionParams) -> float:
    """1 for the newest fix, halving per `half_life_s` older."""
    return float(0.5 ** ((usable[-1].observed_at_s - fix.observed_at_s) / params.half_life_s))


def outlier_share(usable: list[DeviceFix], kind: str, params: FusionParams) -> float:
    """The outlier share of one kind's fixes, updated by how well its two newest agree.

    Multipath moves a handset's successive fixes together but not exactly: under it the two
    lie about `canyon_scatter_m` apart whatever they claim, in open sky within their claims.
    The odds of "in the tail" are the prior's (`outlier_p`) times the likelihood ratio of
    their separation under the two (circular 2-D Gaussians), capped at `max_outlier_p`. One
    fix alone says nothing beyond the prior.
    """
    prior = dict(params.outlier_p).get(kind, 0.2)
    mine = [f for f in usable if f.source == kind]
    if len(mine) < 2 or prior <= 0:
        return prior
    a, b = mine[-2], mine[-1]
    d2 = separation_m(a, b) ** 2
    v_open = max(a.sigma_m, params.min_sigma_m) ** 2 + max(b.sigma_m, params.min_sigma_m) ** 2
    v_canyon = v_open + params.canyon_scatter_m**2
    log_lr = math.log(v_open / v_canyon) + 0.5 * d2 * (1 / v_open - 1 / v_canyon)
    log_odds = math.log(prior / (1 - prior)) + min(log_lr, 50.0)
    return min(1 / (1 + math.exp(-log_odds)), params.max_outlier_p)


def separation_m(a: DeviceFix, b: DeviceFix) -> float:
    frame = LocalFrame(a.lon, a.lat)
    x, y = frame.to_xy(b.lon, b.lat)
    return float(math.hypot(float(x), float(y)))
