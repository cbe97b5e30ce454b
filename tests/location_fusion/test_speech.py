"""Tests for the synthetic speech phrases and the recogniser-style noise added to them."""

from __future__ import annotations

import numpy as np
import pytest

from location_fusion.speech import (
    add_speech_noise,
    phrase_for_intersection,
    phrase_for_place,
    phrase_for_street,
)


def test_intersection_phrases_name_both_streets_in_either_order() -> None:
    """Over 60 phrases both names always appear, and each comes first at least once."""
    rng = np.random.default_rng(1)
    phrases = [phrase_for_intersection("文三路", "学院路", rng) for _ in range(60)]
    assert all("文三路" in p and "学院路" in p for p in phrases)
    assert any(p.index("文三路") < p.index("学院路") for p in phrases)
    assert any(p.index("学院路") < p.index("文三路") for p in phrases)
    assert len(set(phrases)) >= 10


def test_street_and_place_phrases() -> None:
    """Street phrases contain the street; place phrases the place, and the street when given."""
    rng = np.random.default_rng(2)
    assert all("文三路" in phrase_for_street("文三路", rng) for _ in range(20))
    assert all("省人民医院" in phrase_for_place("省人民医院", None, rng) for _ in range(20))
    both = [phrase_for_place("省人民医院", "上塘路", rng) for _ in range(20)]
    assert all("省人民医院" in p and "上塘路" in p for p in both)


def test_noise_is_seeded_and_level_zero_is_identity() -> None:
    """The same seed gives the same noisy text; level 0 changes nothing."""
    text = "文三路与学院路交叉口"
    one = add_speech_noise(text, np.random.default_rng(5))
    two = add_speech_noise(text, np.random.default_rng(5))
    assert one == two
    assert add_speech_noise(text, np.random.default_rng(5), level=0.0) == text


def test_noise_changes_text_in_the_expected_ways() -> None:
    """Over 200 seeds: homophones (文三 → 闻/山...), a dropped 路, fillers and spaces all occur."""
    noisy = [add_speech_noise("文三路和学院路路口", np.random.default_rng(s)) for s in range(200)]
    assert sum(n != "文三路和学院路路口" for n in noisy) > 100
    assert any("文三和" in n for n in noisy)  # 路 dropped
    assert any(any(f in n for f in ("嗯", "那个", "呃", "就是")) for n in noisy)
    assert any(" " in n for n in noisy)
    assert any("山" in n or "闻" in n or "雪" in n or "园" in n for n in noisy)


@pytest.mark.parametrize("text", ["路", "街", "文", " ", ""])
def test_noise_never_returns_empty(text: str) -> None:
    """Even a one-character phrase or an empty one comes back non-empty."""
    for seed in range(50):
        assert add_speech_noise(text, np.random.default_rng(seed), level=1.0).strip()
