"""Facts about the mechanism's drivers: tariff rates (who imposes them, on whom) and export
controls. Each reads one sentence; ``frame_fill`` lets a headline's "US tariffs on China" name
the imposer or target a later sentence leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from tracker.ingest.fact import Fact
from tracker.ingest.lexicon import CONTROLLED_ITEMS, place_name, places_in
from tracker.ingest.numbers import parse_decimal, parse_number

# -- tariff_rate ------------------------------------------------------------------------------

_TARIFF_WORD = re.compile(r"(?i)\btariffs?\b|\bdut(?:y|ies)\b|\blev(?:y|ies)\b|關稅|关税|關税|"
                          r"关稅|加徵|加征")
#: "the rate", 稅率: a tariff's own words once a tariff has been named.
_RATE_WORD = re.compile(r"(?i)\brates?\b|稅率|税率")
_PERCENT = re.compile(r"(?i)(\d{1,3}(?:\.\d+)?)\s*(?:%|％|\s?per\s?cent\b|\s?percent\b|pc\b)"
                      r"|百分之([一二三四五六七八九十百零〇两兩\d.]+)")
_MARKET_MOVE = re.compile(
    r"(?i)\b(?:rose|rise|rises|fell|fall|falls|gained|gains|dropped|drops|slumped|jumped|"
    r"climbed|slid|surged|plunged|grew|growth|inflation|GDP|shares|stocks|index|economy|"
    r"exports? (?:fell|rose|grew|dropped)|yields?)\b"
    r"|漲|涨|跌|增長|增长|下降|上升|升幅|跌幅|經濟|经济")
_PLACE_WORDS = (r"U\.S\.|US|United States|American?|China|Chinese|Hong Kong|EU|European|"
                r"Canad\w*|Mexic\w*|Japan\w*|Viet ?nam\w*")
_TARGET = re.compile(
    r"(?i)\b(?:on|against|targeting)\s+(?:all\s+|most\s+|some\s+)?(?:imports?\s+from\s+|"
    r"goods\s+from\s+|products\s+from\s+|exports\s+from\s+)?(?:the\s+)?"
    r"(?P<en>" + _PLACE_WORDS + r")"
    r"|(?<![反相面針针絕绝])(?:對|对|向)(?P<zh>美國|美国|中國|中国|香港|歐盟|欧盟|加拿大|墨西哥|日本|越南|華|华|美)")
#: "US to cut China tariffs": the place an action's tariffs are on.
_VERB_TARGET = re.compile(
    r"(?i)\b(?:cut|slash|rais|hik|lower|reduc|extend|impos|lift|suspend|paus|keep|doubl|"
    r"increas|trim|eas|scrap|restor|reinstat|halv|prolong|renew|delay|postpon|hik)\w*\s+(?:its\s+|the\s+)?(?P<t>"
    + _PLACE_WORDS + r")\s+(?:import\s+)?(?:tariffs?|duties|levies)\b")
_BY = re.compile(r"\b[Bb]y\s+(?:the\s+)?(?P<who>U\.S\.(?!\w)|(?:US|United States|Washington|"
                 r"China|Beijing|EU|Canada|Mexico|Japan)\b)")
#: A bare 美 or 中 as the subject of 對華 / 對美 (美對華關稅, 中方對美).
_ZH_SUBJECT = re.compile(r"(?P<who>美|中|華|华)(?=對|对)")
_UP_TO = re.compile(r"(?i)\bup to\s*$|\bas high as\s*$|高達\s*$|高达\s*$|最高\s*$")
#: Where one rate's clause may end and another's begin.
_SEGMENT = re.compile(r",\s+(?:and|while|whereas|but)\s+|;\s+|，(?:而|但)?|；")
#: Asides whose places are neither imposer nor target ("(including Hong Kong goods)").
_ASIDE = re.compile(r"（[^）]*）|\([^)]*\)|\b(?:including|excluding|except)\b[^,;]*|"
                    r"(?:包括|包含|不包括)[^，。；]*")
_ZH_PLACE = {"美": "US", "中": "China", "華": "China", "华": "China"}


def _clauses(sentence: str) -> list[str]:
    """The sentence cut where one rate's clause ends; a piece without both a tariff word and a
    percentage stays with its neighbour ("..., taking effect on May 14")."""
    cuts = [0] + [p for m in _SEGMENT.finditer(sentence) for p in (m.start(), m.end())] + [
        len(sentence)]
    spans = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)]
    out: list[list[int]] = []
    carry: int | None = None
    for start, end in spans:
        piece = sentence[start:end]
        whole = bool((_TARIFF_WORD.search(piece) or _RATE_WORD.search(piece))
                     and _PERCENT.search(piece))
        if whole:
            out.append([start if carry is None else carry, end])
            carry = None
        elif out:
            out[-1][1] = end
        elif carry is None:
            carry = start
    if carry is not None:
        out.append([carry, len(sentence)])
    return [sentence[a:b] for a, b in out]


def tariff_facts(sentence: str) -> Iterator[Fact]:
    """One fact per clause, so "A raised X%, while B retaliated with Y%" gives both."""
    for clause in _clauses(sentence):
        for value, confidence in _tariff_clause(clause):
            yield Fact("tariff_rate", value, sentence, confidence)


_MARKET_NOUN = re.compile(r"(?i)\b(?:index|shares|stocks|exports?|GDP|economy|prices|"
                          r"inflation|yields?|sales|profits?|revenue)\b|港股|股市|股價|股价|出口|恒指|"
                          r"指數|指数")


def _tariff_moves(sentence: str, at: int) -> bool:
    """Whether the move before a percentage is the tariff's own ("tariffs on Chinese goods
    fall to 30%"), not a market's ("the index fell 3% on tariff fears")."""
    words = list(_TARIFF_WORD.finditer(sentence, 0, at))
    last = words[-1] if words else None
    return last is not None and at - last.end() <= 40 and not _MARKET_NOUN.search(
        sentence, last.end(), at)


def _masked(sentence: str) -> str:
    return _ASIDE.sub(lambda m: " " * len(m.group()), sentence)


def tariff_parties(sentence: str, anchor: int | None = None
                   ) -> tuple[str | None, str | None]:
    """Who imposes the tariff a sentence speaks of, and on whom: "by X", else the place
    nearest before the tariff word that is not the target; asides are skipped."""
    masked = _masked(sentence)
    spans: list[tuple[int, int]] = []
    target: str | None = None
    target_match = _TARGET.search(masked)
    if target_match:
        zh = target_match.group("zh")
        target = _ZH_PLACE.get(zh) if zh in _ZH_PLACE and zh not in ("華", "华") else \
            place_name(target_match.group(0))
        spans.append(target_match.span())
    else:
        verb_target = _VERB_TARGET.search(masked)
        if verb_target:
            target = place_name(verb_target.group("t"))
            spans.append(verb_target.span("t"))
    imposer: str | None = None
    by = _BY.search(masked)
    if by:
        imposer = place_name(by.group("who"))
    if imposer is None:
        words = list(_TARIFF_WORD.finditer(masked))
        at = anchor if anchor is not None else (words[0].start() if words else len(masked))
        if words:
            at = min(words, key=lambda w: abs(w.start() - at)).start()
        for offset, name in reversed(places_in(masked)):
            if any(a <= offset < b for a, b in spans):
                continue
            if offset < at and name != target:
                imposer = name
                break
    if imposer is None:
        subject = _ZH_SUBJECT.search(masked)
        if subject and _ZH_PLACE[subject.group("who")] != target:
            imposer = _ZH_PLACE[subject.group("who")]
    return imposer, target


def _tariff_clause(sentence: str) -> Iterator[tuple[dict[str, Any], float]]:
    words = list(_TARIFF_WORD.finditer(sentence))
    if not words:
        return
    anchors = words + list(_RATE_WORD.finditer(sentence))
    candidates: list[tuple[int, re.Match[str]]] = []
    for match in _PERCENT.finditer(sentence):
        if min(abs(match.start() - w.start()) for w in anchors) > 80:
            continue
        distance = min(abs(match.start() - w.start()) for w in words)
        before = sentence[max(0, match.start() - 30):match.start()]
        if _MARKET_MOVE.search(before) and not _TARIFF_WORD.search(before) and \
                not _tariff_moves(sentence, match.start()):
            continue
        candidates.append((distance, match))
    if not candidates:
        return
    chosen = candidates[-1][1]
    from_to = re.search(r"(?i)from\s+(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s?cent|percent)?\s+to\s+"
                        r"(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s?cent|percent)", sentence)
    previous: int | float | None = None
    to_from = re.search(r"(?i)\bto\s+(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s?cent|percent)\s+from\s+"
                        r"(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s?cent|percent)", sentence)
    if to_from and not from_to:
        previous = parse_number(to_from.group(2))
    if from_to:
        previous = parse_number(from_to.group(1))
        chosen = next((m for _, m in candidates if m.start() >= from_to.start(2)), chosen)
    elif len(candidates) > 1:
        to_match = next((m for _, m in candidates
                         if re.search(r"(?i)\bto\s*$|至\s*$|到\s*$|\bat\s*$",
                                      sentence[max(0, m.start() - 6):m.start()])), None)
        chosen = to_match or min(candidates, key=lambda c: c[0])[1]
    number = parse_decimal(chosen.group(1) or chosen.group(2))
    if number is None or number <= 0 or number > 1000:
        return
    imposer, target = tariff_parties(sentence, chosen.start())
    value: dict[str, Any] = {"percent": number, "imposer": imposer, "target": target}
    if _UP_TO.search(sentence[:chosen.start()]):
        value["qualifier"] = "up_to"
    if previous is not None:
        value["previous_percent"] = previous
    confidence = 0.5 + (0.2 if imposer else 0.0) + (0.2 if target else 0.0)
    yield value, round(min(confidence, 0.95), 2)


# -- export_control ---------------------------------------------------------------------------

_CONTROL_WORD = re.compile(
    r"(?i)\bexport[\s-]controls?\b|\bexport bans?\b|\bexport restrictions?\b|\bentity list\b|"
    r"\bblacklist(?:s|ed|ing)?\b|"
    r"\blicen[cs]e requirements?\b|\bexport licen[cs]es?\b|\blicen[cs]es? for (?:\w+\s+){0,3}"
    r"(?:exports?|sales)\b|\brequir\w*\s+(?:an?\s+)?(?:export\s+)?licen[cs]es?\b|"
    r"\blicen[cs]es?\s+(?:is\s+|are\s+|will\s+be\s+)?(?:now\s+)?required\b|"
    r"\bcurbs? on (?:\w+\s+){0,2}exports?\b|"
    r"\bban(?:s|ned)? (?:[\w'’]+\s+){0,4}(?:sales|exports?)\b|"
    r"出口管制|實體清單|实体清单|禁止出口|限制出口|出口限制|出口禁令|出口[^，。]{0,12}(?:許可|许可)")
_UNRELIABLE = re.compile(r"(?i)\bunreliable entit|不可靠實體|不可靠实体")
_CONTROL_ACTION = re.compile(
    r"(?i)\b(?:announc|impos|tighten|expand|add|ban|block|restrict|requir|unveil|issu|introduc|"
    r"extend|bar|halt|order|told|inform|ease|relax|lift|scrap|revok|broaden|widen|put|plac|"
    r"blacklist|grant|resum)\w*\b|"
    r"\bnew\b|\bfresh\b|\blatest\b|宣布|宣佈|實施|实施|收緊|收紧|擴大|扩大|新增|列入|禁止|發布|发布|"
    r"出台|推出|放寬|放宽|解除|加強|加强|要求")
_EASED = re.compile(r"(?i)\b(?:eas|relax|lift|scrap|revok|resum)\w*\b|\b(?:will|would) be "
                    r"granted\b|\bto be granted\b|放寬|放宽|解除|恢復|恢复")
_BACKGROUND = re.compile(r"(?i)\bsince\s+(?:19|20)\d\d\b|\bin place\b|\balready\b|\bexisting\b|"
                         r"自\d{4}年|以來|以来")
_CONTROL_TARGET = re.compile(
    r"(?i)\b(?:to|for|against|on|in)\s+(?:the\s+)?(China|Chinese|the US|U\.S\.|US|Hong Kong)\b"
    r"(?!\s+(?:Entity|entity|export|Export|Commerce|government|blacklist|list))"
    r"|(?<![反相面針针絕绝])(?:對|对|向)(華|华|中國|中国|美國|美国|香港)"
    r"|\b(?:Chinese|American|US)\s+(?:[\w-]+\s+){0,2}?(?:companies|firms|entities|"
    r"chipmakers|makers|manufacturers|developers|groups|start-?ups|customers|buyers)\b"
    r"|(?:中國|中国|美國|美国)[\u4e00-\u9fff]{0,4}?(?:企業|企业|公司|實體|实体)"
    r"|出口(?:至|到)?(?:中國|中国|美國|美国|香港)")


def export_control_facts(sentence: str) -> Iterator[Fact]:
    control = _CONTROL_WORD.search(sentence)
    if not control or not _CONTROL_ACTION.search(sentence):
        return
    if _BACKGROUND.search(sentence) and not re.search(r"(?i)\bnew\b|\bfresh\b|新", sentence):
        return
    items = [name for name, pattern in CONTROLLED_ITEMS if pattern.search(sentence)]
    target_match = _CONTROL_TARGET.search(sentence)
    target = place_name(target_match.group(0)) if target_match else None
    imposer = _control_imposer(sentence, control.start(), target_match)
    if imposer is None and re.search(r"(?i)entity list|實體清單|实体清单", sentence) and \
            not _UNRELIABLE.search(sentence):
        imposer = "US"  # the Entity List is the US Commerce Department's
    if target == imposer:
        target = None
    action = "eased" if _EASED.search(sentence) else "tightened"
    value: dict[str, Any] = {"imposer": imposer, "items": items, "target": target,
                             "action": action}
    confidence = 0.5 + (0.2 if imposer else 0.0) + (0.2 if items else 0.0)
    yield Fact("export_control", value, sentence, round(confidence, 2))


_DESTINATION_BEFORE = re.compile(r"(?i)\b(?:to|for|in)\s+(?:the\s+)?$"
                                 r"|(?<![反相面針针絕绝])[對对向]$")


def _control_imposer(sentence: str, at: int, target: re.Match[str] | None) -> str | None:
    """The place nearest before the control word that is not its destination, else the first
    after it."""
    masked = _masked(sentence)
    places = [(offset, name) for offset, name in places_in(masked)
              if not (target and target.start() <= offset < target.end())
              and not _DESTINATION_BEFORE.search(masked[max(0, offset - 8):offset])]
    before = [name for offset, name in places if offset <= at]
    if before:
        return before[-1]
    return places[0][1] if places else None


# -- one item's frame -------------------------------------------------------------------------

_PARTIES = {"tariff_rate", "export_control"}


def frame_fill(facts: Sequence[Fact], title: str) -> list[Fact]:
    """Fill a driver fact's missing imposer or target from the item's other sentences, when
    they agree on one pair: a headline's "US extends China tariff suspension" names who a
    later "the additional rate stays at 30%" is about."""
    out = list(facts)
    for kind in _PARTIES:
        pairs = {(f.value["imposer"], f.value["target"]) for f in facts
                 if f.kind == kind and f.value.get("imposer") and f.value.get("target")}
        if kind == "tariff_rate" and _TARIFF_WORD.search(title):
            imposer, target = tariff_parties(title)
            if imposer and target and imposer != target:
                pairs.add((imposer, target))
        if not pairs:  # "US licence requirement ..." then "... exports to China ..."
            imposers = {f.value["imposer"] for f in facts if f.kind == kind} - {None}
            targets = {f.value["target"] for f in facts if f.kind == kind} - {None}
            if len(imposers) == len(targets) == 1 and imposers != targets:
                pairs = {(next(iter(imposers)), next(iter(targets)))}
        if len(pairs) != 1:
            continue
        [(imposer, target)] = pairs
        for i, fact in enumerate(out):
            value = fact.value
            if fact.kind != kind or (value.get("imposer") and value.get("target")):
                continue
            if value.get("imposer") in (None, imposer) and value.get("target") in (None, target):
                filled = {**value, "imposer": imposer, "target": target}
                out[i] = Fact(kind, filled, fact.sentence, round(fact.confidence + 0.1, 2))
    return out
