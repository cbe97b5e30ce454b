"""The evaluation's named generator settings and its seed ranges (SYNTHETIC calls).

Each setting is a `ScenarioMix`: `baseline` is the project's evaluation mix (the one the
fusion was tuned on); the others each stress one way the real world differs from it; and
`independent` changes everything at once, with parameters deliberately unlike the defaults
(a log-normal canyon tail instead of a uniform one, more indoor calls and Wi-Fi, fewer words,
callers up to 120 m off the street they name, a little of every fault). Parameters are tuned
on `TUNING_SEEDS` only; the report and the benchmark use `HELD_OUT_SEEDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from location_fusion.scenario import ScenarioMix

TUNING_SEEDS = range(0, 1_000_000)  # call k of a tuning run is made from seed k
HELD_OUT_SEEDS = range(1_000_000, 2_000_000)  # never used while tuning


@dataclass(frozen=True)
class Setting:
    """A named generator setting and what it stresses."""

    name: str
    mix: ScenarioMix
    about: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("baseline", ScenarioMix(), "the project's mix (the tuning default)"),
        Setting(
            "heavy_tail",
            ScenarioMix(
                good_sky=0.4, urban_canyon=0.45, indoor=0.15, canyon_bias_lognormal=(120.0, 0.8)
            ),
            "urban-canyon GNSS errors log-normal (median 120 m, 10 % beyond 335 m)",
        ),
        Setting(
            "stale_fixes",
            ScenarioMix(stale_fix_p=0.6),
            "60 % of calls carry a 3-10 min old fix from up to 1.2 km away; half of those "
            "have no fresh GNSS fix",
        ),
        Setting(
            "wrong_claimed_accuracy",
            ScenarioMix(wrong_claim_p=0.6),
            "60 % of handsets claim 3x too small or 3x too large an accuracy",
        ),
        Setting(
            "gcj02_input",
            ScenarioMix(gcj02_p=0.7, gcj02_unlabelled_p=0.15),
            "70 % of calls send GCJ-02 positions (map SDKs); 15 % of those label them WGS-84",
        ),
        Setting(
            "speech_errors",
            ScenarioMix(wrong_street_p=0.1, misheard_p=0.15, partial_name_p=0.2, noise_level=1.3),
            "wrong streets 10 %, misheard names 15 %, partial names 20 %, noisier recognition",
        ),
        Setting(
            "independent",
            ScenarioMix(
                good_sky=0.4,
                urban_canyon=0.3,
                indoor=0.3,
                canyon_wifi_p=0.7,
                indoor_wifi_p=0.8,
                second_fix_p=0.3,
                cell_p=0.9,
                speech_p=0.7,
                wrong_street_p=0.04,
                off_road_m=120.0,
                good_acc_m=(4.0, 25.0),
                canyon_claim_m=(5.0, 40.0),
                canyon_bias_lognormal=(90.0, 0.9),
                wifi_acc_m=(20.0, 80.0),
                cell_neighbor_p=0.2,
                stale_fix_p=0.1,
                wrong_claim_p=0.15,
                gcj02_p=0.3,
                gcj02_unlabelled_p=0.05,
                far_cell_p=0.03,
                misheard_p=0.04,
                partial_name_p=0.1,
                noise_level=1.2,
            ),
            "every parameter unlike the defaults: other tail shape, other shares of sources",
        ),
    )
}
PROJECT_SETTING = "baseline"  # where the within-50 m and calibration targets apply


def setting_names(name: str) -> list[str]:
    """The settings `name` stands for ("all": every one); KeyError for an unknown name."""
    if name == "all":
        return list(SETTINGS)
    if name not in SETTINGS:
        raise KeyError(name)
    return [name]
