"""The words news is written in: places, numbers and company names, in English and Chinese.

Shared by the fact extractors; each helper reads one kind of name or number out of a sentence
and says nothing about what the sentence means.
"""

from __future__ import annotations

import re

# -- places -----------------------------------------------------------------------------------

#: Each place with the names news gives it (its people, capital, leaders, ministries).
PLACES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("US", r"\bU\.S\.(?!\w)|\bUS\b|\bUSA\b|\bUnited States\b|\bAmerican?\b|\bWashington\b"
               r"|\bTrump\b|\bWhite House\b|\bCommerce Department\b"
               r"|美國|美国|華府|华府|特朗普|川普|美方"),
        ("China", r"\bChina\b|\bChinese\b|\bBeijing\b|\bmainland\b|\bPRC\b|\bMOFCOM\b"
                  r"|\bMinistry of Commerce\b|中國|中国|北京|內地|内地|對華|对华|中方"
                  r"|商務部|商务部"),
        ("Hong Kong", r"\bHong Kong\b|\bHK\b|香港"),
        ("EU", r"\bEU\b|\bEuropean Union\b|\bBrussels\b|歐盟|欧盟"),
        ("Canada", r"\bCanad(?:a|ian)\b|加拿大"),
        ("Mexico", r"\bMexic(?:o|an)\b|墨西哥"),
        ("Japan", r"\bJapan(?:ese)?\b|日本"),
        ("Vietnam", r"\bViet ?nam(?:ese)?\b|越南"),
    ))


def places_in(sentence: str) -> list[tuple[int, str]]:
    """Every place named in ``sentence``, as (offset, place), in the order they appear."""
    found: list[tuple[int, str]] = []
    for name, pattern in PLACES:
        found.extend((m.start(), name) for m in pattern.finditer(sentence))
    return sorted(found)


def place_name(text: str) -> str | None:
    """The first place (in ``PLACES`` order) that ``text`` names."""
    for name, pattern in PLACES:
        if pattern.search(text):
            return name
    return None


# -- numbers ----------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_WORD_NUMBERS = {"ten": 10, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                 "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100,
                 "dozen": 12, "a dozen": 12, "two dozen": 24}


def chinese_number(text: str) -> int | None:
    """一 to 九千九百九十九 (enough for counts in headlines)."""
    if not text:
        return None
    total = section = 0
    for char in text:
        if char in _CN_DIGITS:
            section = _CN_DIGITS[char]
        elif char in "十百千":
            unit = {"十": 10, "百": 100, "千": 1000}[char]
            total += (section or 1) * unit
            section = 0
        else:
            return None
    return total + section


def parse_count(text: str) -> int | None:
    """A count in digits, English words ("a dozen") or Chinese numerals; None if it is none."""
    cleaned = text.replace(",", "").strip().lower()
    if cleaned.isdigit():
        return int(cleaned)
    if cleaned in _WORD_NUMBERS:
        return _WORD_NUMBERS[cleaned]
    return chinese_number(cleaned)


def parse_number(value: str) -> int | float:
    """A decimal number, as an int when it is whole ("145" and "145.0" are both 145)."""
    number = float(value)
    return int(number) if number.is_integer() else number


# -- companies --------------------------------------------------------------------------------

KNOWN_COMPANIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("Unitree", r"(?i)\bUnitree\b|宇樹|宇树"),
        ("DeepSeek", r"(?i)\bDeepSeek\b|深度求索"),
        ("Game Science", r"\bGame Science\b|游戏科学|遊戲科學"),
        ("Deep Robotics", r"(?i)\bDeep Robotics\b|雲深處|云深处"),
        ("BrainCo", r"(?i)\bBrainCo\b|強腦|强脑"),
        ("Manycore", r"(?i)\bManycore\b|\bKujiale\b|群核|酷家樂|酷家乐"),
    ))

_EN_COMPANY = re.compile(
    r"(?P<co>(?:[A-Z][\w&.'’-]*\s+){0,3}[A-Z][\w&.'’-]*)\s+(?:has\s+|have\s+|is\s+|was\s+|"
    r"will\s+|formally\s+|officially\s+|quietly\s+)?(?:filed|files|filing|plans|planned|"
    r"planning|seeks|sought|applied|applies|submitted|submits|debuted|debuts|made|set|"
    r"launched|launches|priced|prices|considering|considers|to list|mulls|eyes|passed)\b")
_NOT_COMPANY = frozenset({
    "the", "a", "an", "hong", "kong", "hk", "hkex", "china", "chinese", "zhejiang", "hangzhou",
    "ningbo", "us", "start-up", "startup", "it", "its", "ipo", "shares", "company", "firm",
    "exchange", "stock", "in", "on", "after", "as", "reports", "report", "sources", "meanwhile",
})
_ZH_COMPANY = re.compile(
    r"([\u4e00-\u9fff]{2,10}?(?:科技|集團|集团|公司|機器人|机器人|智能|控股|股份|生物|汽車|汽车))")


def company_in(sentence: str) -> str | None:
    """The company a sentence is about: a known one, else a name before a listing verb."""
    for name, pattern in KNOWN_COMPANIES:
        if pattern.search(sentence):
            return name
    match = _EN_COMPANY.search(sentence)
    if match:
        tokens = match.group("co").split()
        while tokens and tokens[0].lower().strip("'’") in _NOT_COMPANY:
            tokens.pop(0)
        while tokens and tokens[0].lower().endswith(("-based", "'s", "’s")):
            tokens.pop(0)
        name = " ".join(tokens).strip(".,;:'’")
        if name and name.lower() not in _NOT_COMPANY:
            return name
    zh = _ZH_COMPANY.search(sentence)
    if zh:
        name = re.sub(r"^(?:浙江|杭州|寧波|宁波|香港|內地|内地|一家|該|该)+", "", zh.group(1))
        if len(name) >= 2:
            return name
    return None
