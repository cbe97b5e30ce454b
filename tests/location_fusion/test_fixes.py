"""Device fixes: every accuracy convention normalised, no-fix recognised, bad input refused."""

from __future__ import annotations

import math

import pytest

from location_fusion.errors import InvalidInput
from location_fusion.fixes import (
    device_fix,
    normalise_confidence,
    radius_to_sigma,
    sigma_to_radius,
)


@pytest.mark.parametrize(
    ("given", "fraction"),
    [(None, 0.68), (68, 0.68), (95, 0.95), ("68", 0.68), (0.68, 0.68), (0.95, 0.95), (1, 0.01)],
)
def test_confidence_forms(given: object, fraction: float) -> None:
    """AML percent (68, 95), ELS fractions (0.68) and 'not given' all mean the same thing."""
    assert normalise_confidence(given) == pytest.approx(fraction)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 100, 140, -5, math.nan, "high", math.inf])
def test_impossible_confidences_are_refused(bad: object) -> None:
    """0 %, 100 % and beyond, negatives, NaN and words are not confidences."""
    with pytest.raises(InvalidInput):
        normalise_confidence(bad)  # type: ignore[arg-type]


def test_radius_sigma_round_trip() -> None:
    """A 68 % radius of 15.1 m is sigma ~10 m; its 95 % radius is ~24.5 m."""
    sigma = radius_to_sigma(15.096, 0.68)
    assert sigma == pytest.approx(10.0, rel=1e-3)
    assert sigma_to_radius(sigma, 0.95) == pytest.approx(24.477, rel=1e-3)


def test_same_fix_in_two_conventions_is_one_sigma() -> None:
    """10 m at 68 % and 16.2 m at 95 % describe the same Gaussian."""
    a = device_fix(30.3, 120.1, 10.0, confidence=68)
    b = device_fix(30.3, 120.1, sigma_to_radius(radius_to_sigma(10.0, 0.68), 0.95), confidence=0.95)
    assert a is not None and b is not None
    assert a.sigma_m == pytest.approx(b.sigma_m)


def test_no_fix_forms() -> None:
    """A fix at 0,0 or with no accuracy is no fix (None), not a point."""
    assert device_fix(0.0, 0.0, 5.0) is None
    assert device_fix(30.3, 120.1, None) is None


@pytest.mark.parametrize(
    ("lat", "lon", "acc"),
    [(math.nan, 120.1, 5.0), (95.0, 120.1, 5.0), (30.3, 181.0, 5.0), (30.3, 120.1, -3.0),
     (30.3, 120.1, 0.0), (30.3, 120.1, math.nan), (30.3, 120.1, 1e9)],
)  # fmt: skip
def test_bad_fixes_are_refused(lat: float, lon: float, acc: float) -> None:
    """NaN, lat 95, lon 181, accuracy -3, 0, NaN or 1e9 m raise InvalidInput."""
    with pytest.raises(InvalidInput):
        device_fix(lat, lon, acc)


def test_unknown_source_is_refused() -> None:
    """The source must be one of gnss, wifi, cell, fused."""
    with pytest.raises(InvalidInput):
        device_fix(30.3, 120.1, 5.0, source="psychic")
