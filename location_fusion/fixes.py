"""Device fixes: a handset's position report, its accuracy normalised to one meaning.

Handsets and the emergency-location standards state accuracy in different ways: Android's
`getAccuracy()` is a 68 % radius, AML sends a confidence in percent (often 68 or 95), ELS and
some apps a fraction in 0-1. Here every fix becomes a radius at a stated confidence and, from
it, `sigma_m`: the per-axis standard deviation of a circular 2-D Gaussian, since the radius that
holds probability p is r = sigma * sqrt(-2 ln(1 - p)). A fix at 0,0 or with no accuracy is
"no fix" (None), never a point in the Gulf of Guinea.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from location_fusion.errors import InvalidInput
from location_fusion.geo import check_lat_lon

SOURCES = ("gnss", "wifi", "cell", "fused")
DEFAULT_CONFIDENCE = 0.68  # Android's and most apps' radius when none is given
MAX_ACCURACY_M = 100_000.0


def normalise_confidence(value: float | int | str | None) -> float:
    """A confidence in any common form as a fraction in (0, 1).

    None -> 0.68; values in (0, 1) are fractions (ELS: 0.68); values in [1, 100) are percent
    (AML: 68, 95). 0, 100 and above, negatives and NaN are refused: no radius holds 100 %.
    """
    if value is None:
        return DEFAULT_CONFIDENCE
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"confidence {value!r} is not a number") from exc
    if not math.isfinite(v) or v <= 0 or v >= 100:
        raise InvalidInput(f"confidence {value!r} must be a fraction in (0, 1) or percent <100")
    return v if v < 1 else v / 100.0


def radius_to_sigma(radius_m: float, confidence: float) -> float:
    """Per-axis sigma of a circular 2-D Gaussian whose `confidence` circle has this radius."""
    return radius_m / math.sqrt(-2.0 * math.log1p(-confidence))


def sigma_to_radius(sigma_m: float, confidence: float) -> float:
    return sigma_m * math.sqrt(-2.0 * math.log1p(-confidence))


@dataclass(frozen=True)
class DeviceFix:
    """One position report from the caller's handset."""

    lat: float
    lon: float
    accuracy_m: float  # radius holding `confidence` of the probability
    confidence: float  # fraction in (0, 1)
    source: str  # gnss | wifi | cell | fused
    observed_at_s: float

    def __post_init__(self) -> None:
        check_lat_lon(self.lat, self.lon, "device fix")
        a = self.accuracy_m
        if not (isinstance(a, int | float) and math.isfinite(a) and 0 < a <= MAX_ACCURACY_M):
            raise InvalidInput(f"device fix: accuracy {a!r} m must be in (0, {MAX_ACCURACY_M:g}]")
        if not (isinstance(self.confidence, float) and 0 < self.confidence < 1):
            raise InvalidInput(f"device fix: confidence {self.confidence!r} must be in (0, 1)")
        if self.source not in SOURCES:
            raise InvalidInput(f"device fix: source {self.source!r} not one of {SOURCES}")
        if not (isinstance(self.observed_at_s, int | float) and math.isfinite(self.observed_at_s)):
            raise InvalidInput("device fix: observed_at_s must be a finite time")

    @property
    def sigma_m(self) -> float:
        return radius_to_sigma(self.accuracy_m, self.confidence)


def device_fix(
    lat: float,
    lon: float,
    accuracy_m: float | None,
    *,
    confidence: float | int | str | None = None,
    source: str = "gnss",
    observed_at_s: float = 0.0,
) -> DeviceFix | None:
    """A validated fix, or None for "no fix" (0,0 or a missing accuracy).

    Missing means None; a NaN, negative or zero accuracy is a malformed report and raises.
    """
    check_lat_lon(lat, lon, "device fix")
    if accuracy_m is None or (lat == 0.0 and lon == 0.0):
        return None
    return DeviceFix(
        lat=float(lat),
        lon=float(lon),
        accuracy_m=float(accuracy_m) if isinstance(accuracy_m, int | float) else accuracy_m,
        confidence=normalise_confidence(confidence),
        source=source,
        observed_at_s=float(observed_at_s) if isinstance(observed_at_s, int) else observed_at_s,
    )
