"""Synthetic spoken locations: how callers name a street, a junction or a place, garbled by ASR.

SYNTHETIC DATA for tests and the evaluation only: the phrase forms are written by hand after
the ways people in Hangzhou commonly say where they are, and the noise imitates what a speech
recogniser does to them (characters that sound alike, a dropped 路 or 街, hesitations, stray
spaces). Nothing here comes from real calls; it never runs in the dispatch path.

Every function takes a seeded `numpy.random.Generator`, so a test or an evaluation run is
reproducible phrase for phrase.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pypinyin import lazy_pinyin

INTERSECTION_FORMS = (
    "{a}与{b}交叉口", "{a}和{b}路口", "{a} {b}口", "我在{a}跟{b}交界这里", "{a}{b}路口",
    "{a}和{b}的路口", "{a}与{b}十字路口", "在{a}跟{b}交叉的地方", "{a}、{b}交汇处",
    "快来{a}和{b}这个路口", "{a}{b}交叉口附近", "请到{a}与{b}路口", "我们在{a}和{b}这边",
    "{a}跟{b}路口这里", "这里是{a}与{b}交叉口",
)  # fmt: skip
STREET_FORMS = (
    "{a}上", "我在{a}", "{a}这边", "在{a}附近", "{a}这里", "快来{a}", "我们在{a}上",
    "这里是{a}", "请到{a}", "{a}，快点",
)  # fmt: skip
PLACE_FORMS = ("{p}附近", "我在{p}门口", "{p}对面", "{p}旁边", "快来{p}", "在{p}这里")
STREET_PLACE_FORMS = (
    "{s}上，靠近{p}", "在{s}，{p}旁边", "{s}靠近{p}这里", "我在{s}上，{p}附近", "{s}，{p}对面",
)  # fmt: skip

#: Confusions a recogniser makes between characters that sound alike (some only fuzzily:
#: 三/山 differ by s/sh, 新/星 by in/ing, 南/兰 by n/l).
CONFUSIONS = {
    "三": "山叁", "山": "三衫", "文": "闻问纹", "学": "雪穴", "院": "园元", "路": "陆露",
    "街": "接阶", "西": "溪希", "东": "冬", "南": "男兰", "北": "贝", "湖": "胡", "州": "洲舟",
    "江": "姜", "天": "田", "中": "钟宗", "华": "花", "新": "心星", "河": "和合", "塘": "堂唐",
    "桥": "乔", "石": "时十", "金": "今津", "德": "得", "祥": "翔", "龙": "隆", "凤": "风",
    "宝": "保", "城": "成陈", "林": "临宁", "庆": "亲", "生": "声森",
}  # fmt: skip
FILLERS = ("嗯", "那个", "呃", "就是", "嗯嗯")
BOUNDARIES = "与和跟，、 "  # a hesitation falls between words, not inside a name
SWAP_P = 0.12  # per character, at level 1
DROP_SUFFIX_P = 0.25  # per 路 or 街 not followed by 口, at level 1
FILLER_P = 0.4
SPACE_P = 0.3


def phrase_for_intersection(a: str, b: str, rng: np.random.Generator) -> str:
    """How a caller names the junction of streets a and b (in either order)."""
    if rng.random() < 1 / 3:
        a, b = b, a
    return str(INTERSECTION_FORMS[rng.integers(len(INTERSECTION_FORMS))]).format(a=a, b=b)


def phrase_for_street(a: str, rng: np.random.Generator) -> str:
    """How a caller says they are somewhere on street a."""
    return str(STREET_FORMS[rng.integers(len(STREET_FORMS))]).format(a=a)


def phrase_for_place(place: str, street: str | None, rng: np.random.Generator) -> str:
    """How a caller names a place, alone or as "on street S, near place P"."""
    forms = PLACE_FORMS if street is None else STREET_PLACE_FORMS
    return str(forms[rng.integers(len(forms))]).format(p=place, s=street)


@cache
def _same_sound() -> dict[str, tuple[str, ...]]:
    """Common characters by tone-less pinyin (common: in 25+ of pypinyin's phrases)."""
    from pypinyin.phrases_dict import phrases_dict

    counts: dict[str, int] = {}
    for phrase in phrases_dict:
        for ch in phrase:
            counts[ch] = counts.get(ch, 0) + 1
    by_sound: dict[str, list[str]] = {}
    for ch, n in counts.items():
        if n >= 25 and "\u4e00" <= ch <= "\u9fff":
            by_sound.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {k: tuple(v) for k, v in by_sound.items()}


def _swap(ch: str, rng: np.random.Generator) -> str:
    """A character the recogniser might write instead of ch (ch itself if none)."""
    if ch in CONFUSIONS and rng.random() < 0.6:
        alts = CONFUSIONS[ch]
        return alts[rng.integers(len(alts))]
    same = [c for c in _same_sound().get(lazy_pinyin(ch)[0], ()) if c != ch]
    return same[rng.integers(len(same))] if same else ch


def add_speech_noise(text: str, rng: np.random.Generator, level: float = 1.0) -> str:
    """The text as a recogniser might write it; level 0 leaves it alone, 1 is a noisy line."""
    if not text.strip():
        return "嗯"  # a hesitation: still something said
    out: list[str] = []
    for i, ch in enumerate(text):  # drop a spoken-away 路/街 ("文三" for 文三路), keep 路口
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch in "路街" and nxt != "口" and rng.random() < DROP_SUFFIX_P * level:
            continue
        out.append(ch)
    for i, ch in enumerate(out):
        swap = "\u4e00" <= ch <= "\u9fff" and rng.random() < SWAP_P * level
        if swap and (ch not in "路街" or rng.random() < 0.2):  # 路 heard as 陆 only rarely
            out[i] = _swap(ch, rng)
    if rng.random() < FILLER_P * level:
        spots = [0, len(out)] + [i + 1 for i, ch in enumerate(out) if ch in BOUNDARIES]
        pos = spots[rng.integers(len(spots))]
        out.insert(pos, FILLERS[rng.integers(len(FILLERS))])
    if rng.random() < SPACE_P * level and len(out) > 1:
        out.insert(int(rng.integers(1, len(out))), " ")
    noisy = "".join(out)
    return noisy if noisy.strip() else text
