"""The simulated phone's fix: about its stated accuracy from the caller, as a 68 % radius says."""

from __future__ import annotations

import numpy as np

from location_fusion.geo import LocalFrame
from simulator.live.caller import phone_fix


def test_a_fix_is_within_its_68_percent_radius_68_percent_of_the_time() -> None:
    """2000 fixes of a caller at Wulin Square: 60-76 % within their own accuracy, every
    accuracy within 5-150 m, and about 60 % of them open-sky (at most 15 m)."""
    rng = np.random.default_rng(2)
    frame = LocalFrame(120.1636, 30.2745)
    inside, open_sky = 0, 0
    for _ in range(2000):
        lat, lon, acc = phone_fix(rng, 30.2745, 120.1636)
        x, y = frame.to_xy(lon, lat)
        inside += float(np.hypot(x, y)) <= acc
        open_sky += acc <= 15.0
        assert 5.0 <= acc <= 150.0
    assert 0.60 <= inside / 2000 <= 0.76
    assert 0.55 <= open_sky / 2000 <= 0.65


def test_same_seed_same_fixes() -> None:
    """Two generators with one seed give the same fixes."""
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [phone_fix(a, 30.28, 120.15) for _ in range(5)] == [
        phone_fix(b, 30.28, 120.15) for _ in range(5)
    ]
