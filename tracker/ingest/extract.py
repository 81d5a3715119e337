"""Typed facts from news text, each tied to the sentence it came from.

Rules, not a model: every fact can be traced to a pattern and a sentence, and a reviewer can
see why it was extracted. Confidence rises with how much of the fact the sentence pins down
(a rate with both imposer and target beats a bare percentage). English and Chinese sentences
are handled; anything unclear is left out rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from tracker.ingest.drivers import export_control_facts, frame_fill, tariff_facts
from tracker.ingest.fact import FACT_KINDS, Fact
from tracker.ingest.lexicon import (
    WORD_NUMBER,
    company_in,
    hedge_in,
    names_other_partner,
    parse_count,
    stated_date,
)
from tracker.ingest.numbers import CN_NUMBER, stock_codes_in

__all__ = ["FACT_KINDS", "Fact", "extract_facts", "split_sentences"]


# -- sentences --------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset({
    "u.s", "u.k", "u.n", "e.u", "h.k", "mr", "mrs", "ms", "dr", "prof", "inc", "co", "corp",
    "ltd", "no", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "gov", "sen", "rep", "gen",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "a.m", "p.m", "approx", "est", "dept", "min",
})
_BOUNDARY = re.compile(r"[。！？!?]+[」』”’\"')）]*|\.(?=[\s\"'”’)]|$)|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of mixed English/Chinese text; abbreviations like "U.S." do not end one."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group() == ".":
            words = text[start:match.start()].split()
            token = words[-1].lstrip("(\"'“‘").lower() if words else ""
            if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]|(?:[a-z]\.)+[a-z]", token):
                continue
        sentence = text[start:match.end()].strip()
        if sentence:
            out.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


# -- project_count ----------------------------------------------------------------------------

_EN_COUNT = re.compile(
    r"(?i)(?P<q>more than|over|upwards of|about|around|approximately|roughly|some|nearly|"
    r"almost|at least|a total of|exactly)?\s*(?P<n>\d[\d,]*|" + WORD_NUMBER + r")"
    r"(?P<plus>\+|-plus| plus)?"
    r"\s+(?:(?!of\b)[a-z][\w-]*\s+){0,3}?(?:projects|deals|agreements|contracts|MoUs|memorandums|"
    r"memoranda|partnerships)\b")
_ZH_COUNT = re.compile(
    r"(?P<q>逾|超過|超过|多於|多于|(?<![簽签合條条公契預预節节制])(?:約|约)|近|共|合共|共計|共计|"
    r"至少|大約|大约)?\s*"
    r"(?P<n>\d+|" + CN_NUMBER + r")\s*(?P<more>多|餘|余)?\s*(?:個|个|項|项|宗|份|批)?\s*"
    r"(?:(?<=[個个項项宗份批])[\u4e00-\u9fff、]{0,20}?的)?"
    r"(?:合作|重點|重点|投資|投资|簽約|签约|合同|經貿|经贸)?\s*(?:項目|项目|協議|协议|合同|"
    r"備忘錄|备忘录)(?P<above>以上)?")
_SIGNING = re.compile(
    r"(?i)\bsign(?:s|ed|ing)?\b|\binked\b|\bseal(?:s|ed)?\b|\bclinch(?:ed)?\b|\bstruck\b|"
    r"\bcover(?:s|ed|ing)\b|\bforum\b|\bcooperation\b|\bpartnerships?\b|\bdeals?\b|"
    r"\bagreements?\b|\bMoUs?\b|簽|签|合作|協議|协议|論壇|论坛|達成|达成")
_QUALIFIERS = {
    "more than": "more_than", "over": "more_than", "upwards of": "more_than",
    "逾": "more_than", "超過": "more_than", "超过": "more_than", "多於": "more_than",
    "多于": "more_than",
    "about": "about", "around": "about", "approximately": "about", "roughly": "about",
    "some": "about", "nearly": "about", "almost": "about", "約": "about", "约": "about",
    "近": "about", "大約": "about", "大约": "about",
    "at least": "at_least", "至少": "at_least",
}


def _project_count(sentence: str) -> Iterator[Fact]:
    if not _SIGNING.search(sentence):
        return
    for match in _EN_COUNT.finditer(sentence):
        number = parse_count(match.group("n"))
        if number is None or number <= 0:
            continue
        words = match.group("q") or ""
        qualifier = _QUALIFIERS.get(words.lower(), "exactly")
        if match.group("plus"):
            qualifier = "more_than"
        yield Fact("project_count", {"count": number, "qualifier": qualifier}, sentence,
                   0.8 if re.search(r"(?i)\bprojects\b", match.group()) else 0.65)
        return
    for match in _ZH_COUNT.finditer(sentence):
        number = parse_count(match.group("n"))
        if number is None or number <= 0:
            continue
        qualifier = _QUALIFIERS.get(match.group("q") or "", "exactly")
        if match.group("more") or match.group("above"):
            qualifier = "more_than"
        yield Fact("project_count", {"count": number, "qualifier": qualifier}, sentence,
                   0.8 if re.search("項目|项目", match.group()) else 0.65)
        return


# -- listing ----------------------------------------------------------------------------------

_HK_VENUE = re.compile(r"(?i)\bHong Kong\b|\bHKEX\b|\bHK\b|香港|港交所|港股|在港|赴港|來港|来港")
_LISTING_WORD = re.compile(
    r"(?i)\bIPOs?\b|\blisting\b|\blist(?:s|ed)?\b|\binitial public offering\b|\bfloat(?:ation)?\b|"
    r"\bdebut(?:s|ed)?\b|\bfirst day of trading\b|\btrading debut\b|"
    r"上市|招股|遞表|递表|掛牌|挂牌")
_DELISTING = re.compile(r"(?i)\bdelist|\bprivati[sz]|退市|私有化")
_STAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("listed", re.compile(r"(?i)\bdebut(?:s|ed)?\b|\bbegan trading\b|\bstarted trading\b|"
                          r"\bshares (?:rose|jumped|surged|fell|soared)\b|\blisted\b|"
                          r"\blists\s+(?:in|on)\b|"
                          r"\bfirst day of trading\b|\btrading debut\b|"
                          r"\b(?:welcom|celebrat|mark|ring)\w* (?:the )?(?:bell for (?:the )?)?"
                          r"(?:listing|debut)\b|掛牌|挂牌|"
                          r"上市首日|首日|正式上市|登陸港|登陆港|(?:今日|今天|昨日|昨天)[^，。]{0,12}上市|"
                          r"在[^，。]{0,10}(?:主板|創業板|创业板|交易所|聯交所|联交所|港交所)上市"
                          r"|港股上市(?!申請|申请|計劃|计划|聆訊|聆讯|進程|进程|之路)")),
    ("priced", re.compile(r"(?i)\bpric(?:es|ed|ing)\s+(?:its\s+|the\s+)?(?:[\w-]+\s+){0,3}?"
                          r"(?:IPO|shares|offering|listing)\b|\bpriced at\b|\boffer price\b|"
                          r"定價|定价|(?:發售|发售|招股)(?:價|价)定|(?:發售|发售|招股)(?:價|价)?定(?:為|为)")),
    ("approved", re.compile(r"(?i)\bapprov(?:al|ed)\b|\bpass(?:es|ed)?\s+(?:its\s+|the\s+)?"
                            r"(?:[\w-]+\s+){0,2}?listing hearing\b|"
                            r"\bcleared\b|通過聆訊|通过聆讯|獲批|获批")),
    ("filed", re.compile(r"(?i)\bfil(?:ed|es|ing)\b|\bsubmit(?:s|ted)?\b|\bappl(?:ied|ies|ication)"
                         r"\b|遞表|递表|遞交|递交|提交|申請|申请")),
    ("planned", re.compile(r"(?i)\bplan(?:s|ned|ning)?\b|\bconsider(?:s|ing)?\b|\bmull(?:s|ing)?\b|"
                           r"\bexplor(?:es|ing)\b|\bseeks?\b|\bweigh(?:s|ing)?\b|\beyes?\b|"
                           r"\bpreparing\b|擬|拟|計劃|计划|考慮|考虑|籌備|筹备|準備|准备")),
)


_AHEAD = re.compile(r"(?i)\b(?:will|to be|set to|expected to|plans? to)\b|將|将|擬|拟|預期|预期|"
                    r"預計|预计|計劃|计划|準備|准备")


def _reached(stage: re.Pattern[str], sentence: str) -> bool:
    """A stage the sentence says was reached, not one ahead ("will be listed on 23 June")."""
    return any(not _AHEAD.search(sentence[max(0, m.start() - 20):m.start()])
               for m in stage.finditer(sentence))


def _listing(sentence: str) -> Iterator[Fact]:
    if not (_HK_VENUE.search(sentence) and _LISTING_WORD.search(sentence)):
        return
    if _DELISTING.search(sentence):
        return
    if re.search(r"(?i)\b(?:Shanghai|Shenzhen|STAR Market|Nasdaq|New York|NYSE)\b|科創板|科创板|"
                 r"上交所|深交所|納斯達克|纳斯达克", sentence) and not re.search(
                     r"(?i)\bHong Kong\b|港交所|香港", sentence):
        return
    stage = next((name for name, pattern in _STAGES if _reached(pattern, sentence)), "mentioned")
    company = company_in(sentence)
    if company is None and stage in ("mentioned", "planned"):
        return
    confidence = 0.45 + (0.25 if company else 0.0) + (0.15 if stage != "mentioned" else 0.0)
    value: dict[str, Any] = {"company": company, "venue": "Hong Kong", "stage": stage}
    codes = stock_codes_in(sentence)
    if len(codes) == 1:
        value["code"] = codes[0]
    yield Fact("listing", value, sentence, round(confidence, 2))


# -- mechanism_status -------------------------------------------------------------------------

_MECHANISM = re.compile(
    r"(?i)\bsupply[\s-]chain services?\s+(?:cooperation\s+)?mechanism\b|"
    r"供應鏈服務(?:合作)?機制|供应链服务(?:合作)?机制")
#: Shorter names, the mechanism's only when Zhejiang is named with them, and Hong Kong too
#: unless it is called a mechanism ("Hong Kong-Zhejiang mechanism", "Zhejiang firms tap Hong
#: Kong supply chain scheme", "12 Zhejiang companies served by supply chain mechanism").
_MECHANISM_SHORT = re.compile(
    r"(?i)\bsupply[\s-]chain (?:services?\s+)?(?:mechanism|scheme|platform)\b|"
    r"\b(?:Hong Kong|HK)[\s–—-]+Zhejiang\s+(?:cooperation\s+)?(?:mechanism|scheme)\b|"
    r"\bZhejiang[\s–—-]+(?:Hong Kong|HK)\s+(?:cooperation\s+)?(?:mechanism|scheme)\b|"
    r"(?:港浙|浙港)(?:供應鏈|供应链)?(?:合作)?(?:機制|机制)")
_HK = re.compile(r"(?i)\bHong Kong\b|\bHK\b|\bInvestHK\b|香港|港")
_ZJ = re.compile(r"(?i)\bZhejiang\b|浙")


def _names_mechanism(sentence: str) -> re.Match[str] | None:
    named = _MECHANISM.search(sentence)
    if named:
        return named
    short = _MECHANISM_SHORT.search(sentence)
    if short and _ZJ.search(sentence) and (_HK.search(sentence) or "mechanism" in short.group()):
        return short
    return None


#: The mechanism as a means ("set up its headquarters through the mechanism"): what the
#: sentence's verbs then say is about someone else.
_INSTRUMENT = re.compile(r"(?i)\b(?:through|via|using|used|uses|tapped|taps|under|behind|by way of|"
                         r"with the help of|thanks to|relied on|leveraged)\s+(?:the\s+)?"
                         r"(?:[\w-]+\s+){0,4}$|"
                         r"(?:透過|通過|通过|借助|利用|經由|经由|藉|依託|依托)[^，。]{0,8}$")
_MECHANISM_ANAPHOR = re.compile(
    r"(?i)\bthe (?:new )?mechanism\b|該機制|该机制|這個機制|这个机制|有關機制|有关机制"
    r"|(?:^|[，。；：、])\s*(?:機制|机制)")
_MECHANISM_STATUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("suspended", re.compile(r"(?i)\bsuspend(?:s|ed)?\b|\bhalt(?:s|ed)?\b|\bpaus(?:e|es|ed)\b|"
                             r"\bshelv(?:e|es|ed)\b|\bfrozen\b|暫停|暂停|中止|擱置|搁置")),
    ("ended", re.compile(r"(?i)\bscrap(?:s|ped)?\b|\bterminat(?:e|es|ed)\b|\babolish(?:es|ed)?\b|"
                         r"\bwound up\b|終止|终止|廢除|废除|撤銷|撤销")),
    ("first_firms_served", re.compile(
        r"(?i)\bfirst (?:batch of |group of |wave of )?(?:[\w-]+\s+){0,2}"
        r"(?:firms|companies|enterprises|businesses|clients)\b|首批")),
    ("operational", re.compile(
        r"(?i)\boperational\b|\bup and running\b|\bin operation\b|\b(?:began|begun|begins|"
        r"started|starts|start) (?:operating|operations?)\b|\bcame into (?:operation|force|"
        r"effect)\b|\btook effect\b|\btakes effect\b|\bwent live\b|\bgoes live\b|正式運作|"
        r"正式运作|投入運作|投入运作|開始運作|开始运作|正式運行|正式运行|落地|"
        r"\b(?:operat(?:es|ing)|continues to operate) normally\b|"
        r"運作正常|运作正常|正常運作|正常运作")),
    ("launched", re.compile(
        r"(?i)\blaunch(?:es|ed)?\b|\bunveil(?:s|ed)?\b|\bset up\b|\bestablish(?:es|ed)?\b|"
        r"\binaugurat\w*\b|\brolled out\b|\bkick(?:s|ed)? off\b|"
        r"啟動|啓動|启动|推出|成立|設立|设立|揭牌")),
    ("agreed", re.compile(
        r"(?i)\bagree(?:s|d)?\b|\bagreement\b|\bsign(?:s|ed)?\b|\breached\b|\bstruck\b|"
        r"同意|達成|达成|簽署|签署|簽訂|签订|建立")),
)
_FIRST_FIRMS = dict(_MECHANISM_STATUSES)["first_firms_served"]
_AGREE_TO = re.compile(r"(?i)\bagree(?:s|d)?\b[^.;。]{0,40}?\bto\b|同意|簽署|签署|達成|达成")
_AGREEMENT = re.compile(r"(?i)\bagree\w*|\bsign\w*|\bmemorand\w*|\bMoUs?\b|簽|签|協議|协议|"
                        r"備忘錄|备忘录|同意")
_PLANNED = re.compile(
    r"(?i)\bwill\b|\bto be\b|\bexpected to\b|\bplans? to\b|\baims? to\b|\bset to\b|\bis to\b|"
    r"\bwould\b|(?<!或)將|(?<!或)将|預計|预计|計劃|计划|擬|拟|有望")
_FIRM_COUNT = re.compile(
    r"(?i)(?P<n>\b\d[\d,]*|\b" + WORD_NUMBER + r")\s+(?:(?!of\b)[\w-]+\s+){0,2}?"
    r"(?:firms|companies|enterprises|businesses|clients|exporters|manufacturers)\b"
    r"|(?P<zn>\d+|[一二三四五六七八九十百两兩]+)\s*(?:余|餘|多)?家[\u4e00-\u9fff]{0,4}?"
    r"(?:企業|企业|公司|浙企|商戶|商户|廠商|厂商)"
    r"|(?:企業|企业|公司)\s*(?P<zn2>\d+|[一二三四五六七八九十百两兩]+)\s*家")
_SERVED = re.compile(
    r"(?i)\b(?:served|serving|serves|used|using|uses|tap|taps|tapped|tapping|"
    r"benefit(?:ed|ted)|helped|joined|"
    r"signed up|enrolled|first)\b|服務|服务|受惠|受益|使用|支持|對接|对接|參與|参与|首批")


def _planned_before(sentence: str, at: int) -> bool:
    """Whether a plan word ("will be", 預計) leads up to what the sentence says happens."""
    return bool(_PLANNED.search(sentence[max(0, at - 30):at]))


_DENIED = re.compile(r"(?i)\b(?:den(?:y|ies|ied|ying)|dismiss(?:es|ed)?|rejects?|rebuts?)\b|"
                     r"否認|否认|辟謠|辟谣|澄清")
_NOT = re.compile(r"(?i)\b(?:not|never|no)\b[^.;,]{0,25}$"
                  r"|(?:無|无|沒有|没有|未|並未|并未|不會|不会)[^，。]{0,3}$")


def _denied(sentence: str, match: re.Match[str]) -> bool:
    """Whether a halt is denied rather than reported ("denies it has been suspended")."""
    before = sentence[:match.start()]
    return bool(_DENIED.search(before) or _NOT.search(before[-30:]))


def _status(sentence: str) -> tuple[str, bool] | None:
    """The status the sentence gives the mechanism, and whether it is only planned; "agreed
    to set up" is an agreement, not a launch, and a denied halt is no halt."""
    found = [(name, m) for name, pattern in _MECHANISM_STATUSES if (m := pattern.search(sentence))
             and not (name in ("suspended", "ended") and _denied(sentence, m))]
    if not found:
        return None
    name, match = found[0]
    names = {n for n, _ in found}
    if name == "launched":
        infinitive = re.search(r"(?i)\bto\s+$", sentence[:match.start()])
        if (infinitive or ("agreed" in names and _AGREE_TO.search(sentence))) and \
                _AGREEMENT.search(sentence):
            return "agreed", False
        if infinitive:
            return name, True
    return name, _planned_before(sentence, match.start())


def _firms(sentence: str) -> tuple[int, int] | None:
    """How many firms the sentence says were served, and where the count is."""
    if not _SERVED.search(sentence):
        return None
    for match in _FIRM_COUNT.finditer(sentence):
        raw = match.group("n") or match.group("zn") or match.group("zn2")
        count = parse_count(raw)
        if count:
            return count, match.start()
    return None


_PRONOUN = re.compile(r"(?i)\b(?:it|which)\b|其|該機制|该机制")


def _status_as_means(sentence: str, after: int) -> tuple[str, bool] | None:
    """Where a sentence uses the mechanism as a means, its verbs are the firms' ("set up
    offices through the mechanism"): only first firms served, or what a pronoun for the
    mechanism then does ("since it began operating"), say where it stands."""
    if _FIRST_FIRMS.search(sentence):
        return "first_firms_served", False
    pronoun = _PRONOUN.search(sentence, after)
    return _status(sentence[pronoun.start():]) if pronoun else None


def _mechanism_status(sentence: str, context_mentions_mechanism: bool) -> Iterator[Fact]:
    named = _names_mechanism(sentence)
    anaphor = _MECHANISM_ANAPHOR.search(sentence)
    if names_other_partner(sentence) or not named and not (context_mentions_mechanism and (
            anaphor or _FIRST_FIRMS.search(sentence))):
        return
    mention = named or anaphor
    status, firms = _status(sentence), _firms(sentence)
    if mention is not None and _INSTRUMENT.search(sentence[:mention.start()]):
        status = _status_as_means(sentence, mention.end())
    if status is None and firms is not None:
        status = ("firms_served", _planned_before(sentence, firms[1]))
    if status is None:
        return
    value: dict[str, Any] = {"status": status[0], "planned": status[1]}
    if firms is not None and (status[0] == "firms_served"
                              or not _planned_before(sentence, firms[1])):
        value["firms"] = firms[0]
    confidence = 0.85 if named else 0.6
    if value["planned"]:
        confidence -= 0.2
    yield Fact("mechanism_status", value, sentence, round(confidence, 2))


# -- entry point ------------------------------------------------------------------------------

_EXTRACTORS: tuple[Callable[[str], Iterator[Fact]], ...] = (
    tariff_facts, _project_count, _listing, export_control_facts)


_ANY_DAY = datetime(2000, 6, 15, tzinfo=UTC)


def _preference(fact: Fact) -> tuple[bool, bool, float]:
    """Of one fact told in several sentences, keep the hedged telling (a hedge anywhere makes
    the item's claim unconfirmed), then the dated one (it says when), then the most confident."""
    return (hedge_in(fact.sentence) is not None,
            stated_date(fact.sentence, _ANY_DAY) is not None, fact.confidence)


def extract_facts(title: str, summary: str) -> list[Fact]:
    """Facts in ``title`` and ``summary``, one per kind and value (see ``_preference``)."""
    sentences = split_sentences(title) + split_sentences(summary)
    mentions_mechanism = any(_names_mechanism(s) and not names_other_partner(s)
                             for s in sentences)
    found: list[Fact] = []
    for sentence in sentences:
        for extractor in _EXTRACTORS:
            found.extend(extractor(sentence))
        found.extend(_mechanism_status(sentence, mentions_mechanism))
    best: dict[tuple[str, str], Fact] = {}
    for fact in frame_fill(found, title):
        key = (fact.kind, repr(sorted(fact.value.items())))
        if key not in best or _preference(fact) > _preference(best[key]):
            best[key] = fact
    return sorted(best.values(), key=lambda f: (FACT_KINDS.index(f.kind), -f.confidence))
