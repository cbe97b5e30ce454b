"""The ambulance speed model and the error tree."""

from __future__ import annotations

import numpy as np
import pytest

from routing import errors
from routing.compile import ambulance_time_s
from routing.params import SpeedModel


def test_speed_bands() -> None:
    """100 m at free-flow 15/25/40/54/64 km/h becomes 15/27.5/48/67.5/80 km/h."""
    car_kph = np.array([15.0, 25.0, 40.0, 54.0, 64.0])
    length = np.full(5, 100.0)
    t = ambulance_time_s(length, length / (car_kph / 3.6), SpeedModel())
    assert np.allclose(length / t * 3.6, [15.0, 27.5, 48.0, 67.5, 80.0])


def test_speed_cap_and_floor() -> None:
    """Speed is capped at max_kph; a zero-length edge still costs min_edge_s."""
    model = SpeedModel(max_kph=60.0, min_edge_s=0.2)
    t = ambulance_time_s(np.array([1000.0, 0.0]), np.array([30.0, 0.0]), model)
    assert np.isclose(t[0], 1000 / (60 / 3.6))
    assert t[1] == 0.2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speedup": (1.0, 1.1)},
        {"band_floor_kph": (5.0, 20.0, 35.0, 50.0)},
        {"speedup": (1.0, 1.1, -1.0, 1.25)},
        {"max_kph": 0.0},
        {"min_edge_s": float("nan")},
    ],
)
def test_bad_speed_models_are_refused(kwargs: dict[str, object]) -> None:
    """Mismatched bands, negative speed-ups and non-positive limits are refused."""
    with pytest.raises(errors.InvalidArgument):
        SpeedModel(**kwargs)  # type: ignore[arg-type]


def test_errors_refine_builtins() -> None:
    """Each routing error is also the builtin it refines, so callers may catch either."""
    assert issubclass(errors.OutsideNetwork, ValueError)
    assert issubclass(errors.InvalidCoordinate, ValueError)
    assert issubclass(errors.UnknownId, KeyError)
    assert issubclass(errors.NetworkLoadError, OSError)
    for cls in (errors.OutsideNetwork, errors.InvalidCoordinate, errors.UnknownId):
        assert issubclass(cls, errors.RoutingError)
    assert str(errors.UnknownId("no street named 'x'")) == "no street named 'x'"
