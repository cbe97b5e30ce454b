"""The pages' message catalogues (`dispatch/http/static/i18n/`): zh-CN and en hold the same keys,
every key a page uses exists in both, and the placeholders agree.

Keys are read from the files as a browser gets them: `data-i18n*="key"` attributes in the HTML
(templates included) and the string keys of every `t(...)` call in the scripts; a key built at
run time (`` t(`complaint.${k}`) ``) is checked for each entry of the table it localises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[3] / "dispatch" / "http" / "static"
PAGES = ("console", "cockpit", "hospital")
ATTRIBUTE = re.compile(r'data-i18n(?:-[a-z-]+)?="([^"]+)"')
T_CALL = re.compile(r"\bt\(((?:[^()]|\([^()]*\))*)\)")
KEY = re.compile(r'"([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)"')
DYNAMIC = re.compile(r"`([a-z0-9_]+\.[a-z0-9_]*)\$\{")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def table_keys(script: str, table: str) -> list[str]:
    """The keys of `const TABLE = { key: ..., }` in a page script."""
    body = re.search(rf"const {table} = \{{(.*?)\}};", script, re.S)
    assert body, f"no table {table}"
    return re.findall(r'(?:^|[{,])\s*"?([A-Za-z0-9_.]+)"?\s*:', body.group(1), re.M)


#: A key built at run time: its prefix, and the script table whose keys complete it.
TABLES = {
    "complaint.": "COMPLAINT",
    "status.": "STATUS",
    "step.": "STEP",
    "source.": "SOURCE_LABEL",
    "team.": "TEAM",
    "console.fatal_": "FATAL",
    "hospital.fatal_": "FATAL",
    "cockpit.iv_": "LABELS",
}
NEWS2_BANDS = ("none", "low", "single", "medium", "high")  # news2.js score().band, or ""


def used_keys() -> set[str]:
    """Every key the console, cockpit and hospital pages use (module docstring)."""
    keys: set[str] = set()
    for page in PAGES:
        keys |= set(ATTRIBUTE.findall((STATIC / f"{page}.html").read_text("utf-8")))
        script = (STATIC / f"{page}.js").read_text("utf-8")
        for call in T_CALL.findall(script):
            keys |= set(KEY.findall(call))
            for prefix in DYNAMIC.findall(call):
                if prefix == "news2.band_":
                    keys |= {prefix + band for band in NEWS2_BANDS}
                    continue
                assert prefix in TABLES, f"{page}.js builds keys {prefix}… from no known table"
                keys |= {prefix + k for k in table_keys(script, TABLES[prefix])}
    keys |= set(KEY.findall("".join(T_CALL.findall((STATIC / "i18n.js").read_text("utf-8")))))
    return keys


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    """zh-CN.json and en.json have one key set, no empty message, and each message names the
    same {placeholders} in both languages."""
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert sorted(zh) == sorted(en)
    for key in en:
        assert en[key].strip() and zh[key].strip(), key
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(zh[key])), key


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_key_the_pages_use_is_in_the_catalogue(lang: str) -> None:
    """Each data-i18n attribute and t("…") key of the console, cockpit and hospital pages (and
    each key built from a table, e.g. complaint.chest_pain) exists in the catalogue."""
    keys = used_keys()
    assert {"console.title", "complaint.chest_pain", "hospital.unit", "step.eTimes.05"} <= keys
    missing = sorted(keys - set(catalogue(lang)))
    assert missing == []


def test_the_chinese_catalogue_is_chinese() -> None:
    """The zh-CN messages of the pages' main words are in Chinese, not copies of the English."""
    zh = catalogue("zh-CN")
    for key in ("console.title", "console.calls", "conn.connected", "hospital.inbound_to"):
        assert re.search(r"[\u4e00-\u9fff]", zh[key]), key
