"""Numbers as news writes them: digits, English words ("Twelve", "a dozen", "forty-two"),
Chinese numerals (十二, 三十, 一百四十五) and units (逾50个, 15.6亿港元, HK$2.3 billion,
百分之三十), and Hong Kong stock codes (2513.HK, 09988, 股份代號2513).

Each helper reads one kind of number and says nothing about what it counts.
"""

from __future__ import annotations

import re

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_LARGE_UNITS = {"萬": 10_000, "万": 10_000, "億": 100_000_000, "亿": 100_000_000}
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_NUMBERS = {**{word: n for n, word in enumerate(_UNITS, 1)},
                 **{word: 10 * n for n, word in enumerate(_TENS, 2)},
                 "hundred": 100, "a hundred": 100, "dozen": 12, "a dozen": 12, "two dozen": 24}
#: A count in English words, for patterns ("forty-two", "a dozen", "Twelve").
WORD_NUMBER = (r"(?:(?:" + "|".join(_TENS) + r")(?:[\s-](?:" + "|".join(_UNITS[:9]) + r"))?|"
               + "|".join(sorted(_UNITS, key=len, reverse=True))
               + r"|a hundred|hundred|two dozen|a dozen|dozen)")
#: A count in Chinese numerals (十二, 三十, 一百四十五, 两).
CN_NUMBER = r"[一二三四五六七八九十百千零〇两兩]+"


def chinese_number(text: str) -> int | None:
    """一 to 九千九百九十九萬 and beyond (十二, 一百四十五, 三萬); None if ``text`` is none."""
    if not text:
        return None
    total = section = digit = 0
    for char in text:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_SMALL_UNITS:
            section += (digit or 1) * _CN_SMALL_UNITS[char]
            digit = 0
        elif char in _CN_LARGE_UNITS:
            total += (section + digit or 1) * _CN_LARGE_UNITS[char]
            section = digit = 0
        else:
            return None
    return total + section + digit


def parse_count(text: str) -> int | None:
    """A count in digits, English words ("a dozen") or Chinese numerals; None if it is none."""
    cleaned = text.replace(",", "").strip().lower()
    if cleaned.isdigit():
        return int(cleaned)
    if cleaned in _WORD_NUMBERS:
        return _WORD_NUMBERS[cleaned]
    tens, _, unit = cleaned.replace(" ", "-").partition("-")
    if tens in _TENS and unit in _UNITS[:9]:
        return _WORD_NUMBERS[tens] + _WORD_NUMBERS[unit]
    return chinese_number(cleaned)


def parse_number(value: str) -> int | float:
    """A decimal number, as an int when it is whole ("145" and "145.0" are both 145)."""
    number = float(value.replace(",", ""))
    return int(number) if number.is_integer() else number


def parse_decimal(text: str) -> int | float | None:
    """A number in digits ("30", "15.6") or Chinese numerals (三十); None if it is none."""
    cleaned = text.replace(",", "").strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return parse_number(cleaned)
    return chinese_number(cleaned)


# -- amounts ----------------------------------------------------------------------------------

_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mln": 1e6, "mn": 1e6, "m": 1e6,
          "billion": 1e9, "bln": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12,
          "萬": 1e4, "万": 1e4, "億": 1e8, "亿": 1e8, "萬億": 1e12, "万亿": 1e12}
_CURRENCY = {"hk$": "HKD", "us$": "USD", "$": "USD", "rmb": "CNY", "yuan": "CNY", "元": "CNY",
             "人民幣": "CNY", "人民币": "CNY", "港元": "HKD", "港幣": "HKD", "港币": "HKD",
             "美元": "USD", "hkd": "HKD", "usd": "USD", "cny": "CNY"}
_AMOUNT = re.compile(
    r"(?i)(?P<cur>HK\$|US\$|\$|RMB\s?|HKD\s?|USD\s?|CNY\s?)(?P<n>\d[\d,]*(?:\.\d+)?)\s*"
    r"(?P<scale>thousand|million|billion|trillion|mln|bln|bn|mn|tn|[kmb](?![a-z]))?"
    r"(?:\s+(?P<cur2>yuan))?"
    r"|(?P<zn>\d+(?:\.\d+)?|" + CN_NUMBER + r")\s*(?P<zscale>萬億|万亿|萬|万|億|亿)?"
    r"(?P<zcur>港元|港幣|港币|美元|人民幣|人民币|元)")


def amounts_in(text: str) -> list[tuple[float, str]]:
    """Every sum of money in ``text`` as (amount, ISO currency): "HK$2.3 bln" and 23亿港元 both
    give (2.3e9, "HKD")."""
    found: list[tuple[float, str]] = []
    for m in _AMOUNT.finditer(text):
        if m.group("zcur"):
            number = parse_decimal(m.group("zn"))
            scale = _SCALE.get(m.group("zscale") or "", 1.0)
            currency = _CURRENCY[m.group("zcur")]
        else:
            number = parse_number(m.group("n"))
            scale = _SCALE.get((m.group("scale") or "").lower(), 1.0)
            cur = (m.group("cur2") or m.group("cur")).strip().lower()
            currency = _CURRENCY.get(cur, "USD")
        if number is not None:
            found.append((round(float(number) * scale, 2), currency))
    return found


# -- stock codes ------------------------------------------------------------------------------

_STOCK_CODE = re.compile(
    r"(?i)\b(?P<hk>\d{4,5})\s?\.\s?HK\b"
    r"|\b(?:HKEX|SEHK|stock code|ticker)\s*[:：]?\s*(?P<code>\d{4,5})\b"
    r"|(?:股份代號|股份代号|股票代號|股票代号|代號|代号)\s*[:：]?\s*(?P<zh>\d{4,5})")


def stock_codes_in(text: str) -> list[str]:
    """Hong Kong stock codes in ``text``, normalised to four digits and ".HK" ("09988",
    "9988.HK" and 股份代號9988 are all "9988.HK")."""
    codes: list[str] = []
    for m in _STOCK_CODE.finditer(text):
        raw = m.group("hk") or m.group("code") or m.group("zh")
        number = int(raw)
        if not 1 <= number <= 99999:
            continue
        code = f"{number:04d}.HK"
        if code not in codes:
            codes.append(code)
    return codes
