"""Turning spoken or typed location text into normalised tokens and tone-less fuzzy pinyin.

A phrase becomes (character, fuzzy syllable) tokens: a Chinese character with its tone-less
pinyin, a typed pinyin word split into syllables (with "" for the character), or a number.
Syllables are folded to the usual fuzzy classes (z/zh, c/ch, s/sh, n/l, an/ang, en/eng, in/ing)
so names that sound alike read alike. English street words become Chinese ("road" is 路),
filler words are blanked, and street and place names get their canonical and shorter forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from pypinyin import Style, lazy_pinyin, pinyin

from location_fusion.phrases import chinese_number

SUFFIXES = "路街巷弄道"  # generic endings people drop when speaking
#: Syllables of generic endings: a name is looked up by pairs without them when it has such pairs.
GENERIC_SYLLABLES = frozenset({"lu", "jie", "xian", "long", "dao"})
PLACE_PREFIXES = ("浙江省", "浙江", "杭州市", "杭州", "省", "市")
#: Words that carry no location; removed when no name of the gazetteer contains them.
FILLERS = (
    "我现在在", "我们在", "我在", "现在", "这里是", "这里", "这边", "那边", "这儿", "那儿",
    "附近", "旁边", "门口", "对面", "快来", "快点", "请", "嗯", "呃", "啊", "那个", "就是",
    "位置", "地址", "救命", "救护车", "一下", "麻烦", "帮忙", "有人", "晕倒了", "在", "是",
    "的", "了", "呢", "吧", "一带", "那里", "靠近", "十字", "交叉口", "交叉", "交界处", "交界",
    "交汇处", "交汇", "地方", "这个",
)  # fmt: skip
ENGLISH = {
    "road": "路", "rd": "路", "street": "街", "st": "街", "avenue": "大道", "ave": "大道",
    "lane": "巷", "alley": "弄", "bridge": "桥", "west": "西", "east": "东", "north": "北",
    "south": "南", "middle": "中", "and": "和", "near": "靠近", "hospital": "医院",
    "people's": "人民", "peoples": "人民", "provincial": "省", "intersection": "路口",
    "junction": "路口", "crossing": "路口", "corner": "路口", "of": "", "the": "", "at": "",
    "on": "", "in": "", "i": "", "i'm": "", "im": "", "am": "", "is": "", "here": "",
    "please": "", "help": "", "come": "",
}  # fmt: skip
_WORD = re.compile(r"[a-z']+")
_TOKEN = re.compile(r"[\u3400-\u9fff]|[a-z]+|\d+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PARENS = re.compile(r"[(（][^)）]*[)）]")
# "上塘路一百五十八号": numerals right after a street's generic ending, before 号
_HOUSE_NUMERALS = re.compile(r"(?<=[路街巷弄道])([零一二两三四五六七八九十百千]+)号")
# "文三路上": 上 before the end, a comma or "near" is "on"; a space may split 上 塘路, so not that.
_TRAILING_SHANG = re.compile(r"上(?=$|[，,。.!！?？、;；]|靠近|近|旁|附近)")


def fuzzy_syllable(syllable: str) -> str:
    """Fold a tone-less syllable to its fuzzy class (zh→z ch→c sh→s n→l ang→an eng→en ing→in)."""
    s = syllable.lower().replace("ü", "v")
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[2:]
    elif s.startswith("n") and not s.startswith("ng"):
        s = "l" + s[1:]
    if len(s) > 2 and s.endswith("ng") and s[-3] in "aei":
        s = s[:-1]
    return s


def canonical_street(raw: str) -> str:
    """The street name without a parenthesised part or an English tail ("" if none is left)."""
    name = _PARENS.sub("", unicodedata.normalize("NFKC", raw)).strip()
    if _CJK.search(name):
        name = re.split(r"[A-Za-z]", name, maxsplit=1)[0].strip()
    return name


def place_aliases(name: str) -> list[str]:
    """Shorter ways to say a place: without brackets, "浙江/杭州/省/市" or the part before 附属."""
    out: list[str] = [name]
    base = _PARENS.sub("", name).strip()
    todo = [base, base.split("附属", 1)[1]] if "附属" in base else [base]
    while todo:
        alias = todo.pop()
        if len(alias) >= 3 and alias != "医院":
            if alias not in out:
                out.append(alias)
            cut = (alias[len(p) :] for p in PLACE_PREFIXES if alias.startswith(p))
            todo.extend(c for c in cut if not c.startswith("立"))  # 省立同德 is not 立同德
    return out


@cache
def _char_syllable(ch: str) -> str:
    return fuzzy_syllable(lazy_pinyin(ch)[0])


@cache
def _pinyin_syllables() -> frozenset[str]:
    """Every tone-less pinyin syllable pypinyin knows (to split typed pinyin like "wensanlu")."""
    from pypinyin.pinyin_dict import pinyin_dict

    marked = unicodedata.normalize("NFKD", ",".join(pinyin_dict.values())).replace("u\u0308", "v")
    plain = "".join(c for c in marked if not unicodedata.combining(c))
    return frozenset(plain.split(","))


@cache
def _segment(word: str) -> tuple[str, ...]:
    """Split typed pinyin into the fewest valid syllables; the word itself if it cannot be."""
    valid = _pinyin_syllables()
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for i in range(1, len(word) + 1):
        for j in range(max(0, i - 6), i):
            prev = best[j]
            if prev is not None and word[j:i] in valid:
                cand = (*prev, word[j:i])
                cur = best[i]
                if cur is None or len(cand) < len(cur):
                    best[i] = cand
    found = best[-1]
    return found if found else (word,)


def _english(text: str) -> str:
    return _WORD.sub(lambda m: ENGLISH.get(m.group(0), m.group(0)), text)


def tokenize(text: str) -> list[tuple[str, str]]:
    """The phrase as (character or "", fuzzy syllable) tokens; punctuation and spaces vanish."""
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if _CJK.match(tok):
            tokens.append((tok, _char_syllable(tok)))
        elif tok.isdigit():
            tokens.append((tok, tok))
        else:
            tokens.extend(("", fuzzy_syllable(s)) for s in _segment(tok))
    return tokens


def readings(name: str) -> list[tuple[str, ...]]:
    """Fuzzy syllables of a name: char by char, in phrase context, and with other readings."""
    tokens = tokenize(_english(name.lower()))
    base = tuple(s for _, s in tokens)
    out = [base]
    if all(c for c, _ in tokens) and len(tokens) == len(name):
        out.append(tuple(fuzzy_syllable(s) for s in lazy_pinyin(name)))
        for i, alts in enumerate(pinyin(name, style=Style.NORMAL, heteronym=True)):
            if name[i] not in SUFFIXES:
                out.extend((*base[:i], fuzzy_syllable(a), *base[i + 1 :]) for a in alts[1:3])
    return list(dict.fromkeys(out))[:6]


def filler_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """The FILLERS that occur in none of `names`, as one pattern; None if every one does."""
    everything = list(names)
    kept = [w for w in FILLERS if not any(w in s for s in everything)]
    return re.compile("|".join(map(re.escape, kept))) if kept else None


def spoken_house_numbers(text: str) -> str:
    """A house number said in numerals after a street ("上塘路一百五十八号") in digits, as the
    places layer writes it ("上塘路158号")."""

    def digits(m: re.Match[str]) -> str:
        value = chinese_number(m.group(1))
        return m.group(0) if value is None or value != int(value) else f"{int(value)}号"

    return _HOUSE_NUMERALS.sub(digits, text)


def normalise_phrase(text: str, fillers: re.Pattern[str] | None) -> str:
    """The phrase in NFKC lower case, English words in Chinese, house numbers in digits, 上
    ("on") and fillers blanked."""
    clean = spoken_house_numbers(_english(unicodedata.normalize("NFKC", text).lower()))
    clean = _TRAILING_SHANG.sub(" ", clean)
    if fillers is not None:
        clean = fillers.sub(" ", clean)
    return clean
