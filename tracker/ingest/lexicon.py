"""The words news is written in: places, numbers, company names, hedges and dates, in English
and Chinese.

Shared by the fact extractors and the claim builder; each helper reads one kind of word out of
a sentence and says nothing about what the sentence means.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta
from dateutil.relativedelta import weekdays as WEEKDAYS

from tracker.ingest.numbers import WORD_NUMBER, chinese_number, parse_count, parse_number

__all__ = ["CONTROLLED_ITEMS", "KNOWN_COMPANIES", "PLACES", "WORD_NUMBER", "chinese_number",
           "company_in", "hedge_in", "names_other_partner", "parse_count", "parse_number",
           "place_name", "places_in", "publication_day", "stated_date"]

# -- places -----------------------------------------------------------------------------------

#: Each place with the names news gives it (its people, capital, leaders, ministries).
PLACES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("US", r"\bU\.S\.(?!\w)|\bUS\b|\bUSA\b|\bUnited States\b|\bAmerican?\b|\bWashington\b"
               r"|\bTrump\b|\bWhite House\b|\bCommerce Department\b"
               r"|\bBureau of Industry and Security\b"
               r"|美國|美国|華府|华府|特朗普|川普|美方"),
        ("China", r"\bChina\b|\bChinese\b|\bBeijing\b|\bmainland\b|\bPRC\b|\bMOFCOM\b"
                  r"|(?<!US )(?<!U\.S\. )\bMinistry of Commerce\b|中國|中国|北京|內地|内地"
                  r"|對華|对华|中方|(?<!美國)(?<!美国)(?:商務部|商务部)"),
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


_ZHEJIANG = re.compile(r"(?i)\bZhejiang\b|\bHangzhou\b|\bNingbo\b|浙|杭州|寧波|宁波")
_OTHER_PARTNERS = re.compile(
    r"(?i)\b(?:Guangdong|Guangzhou|Shenzhen|Greater Bay Area|Jiangsu|Fujian|Shanghai|Hainan|"
    r"Sichuan|Chongqing|Macau|Macao|Anhui|Shandong|Hubei|Hunan|Jiangxi|Guangxi|Yunnan|Tianjin)\b"
    r"|廣東|广东|粵|粤|深圳|廣州|广州|大灣區|大湾区|江蘇|江苏|港蘇|港苏|福建|閩|闽|上海|滬|沪|海南|"
    r"四川|重慶|重庆|澳門|澳门|安徽|山東|山东|湖北|湖南|江西|廣西|广西|雲南|云南|天津")


def names_other_partner(sentence: str) -> bool:
    """Whether a sentence is about Hong Kong's ties with another mainland region, not Zhejiang
    (Guangdong and Jiangsu have supply-chain mechanisms of their own)."""
    return bool(_OTHER_PARTNERS.search(sentence)) and not _ZHEJIANG.search(sentence)


# -- companies --------------------------------------------------------------------------------

KNOWN_COMPANIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("Unitree", r"(?i)\bUnitree\b|宇樹|宇树"),
        ("DeepSeek", r"(?i)\bDeepSeek\b|深度求索"),
        ("Game Science", r"\bGame Science\b|游戏科学|遊戲科學"),
        ("Deep Robotics", r"(?i)\bDeep Robotics\b|雲深處|云深处"),
        ("BrainCo", r"(?i)\bBrainCo\b|強腦|强脑"),
        ("Manycore", r"(?i)\bManycore\b|\bKujiale\b|群核|酷家樂|酷家乐"),
        ("Sanhua", r"(?i)\bSanhua\b|三花智控"),
        ("Joyson", r"(?i)\bJoyson\b|均勝電子|均胜电子"),
        ("CATL", r"\bCATL\b|\bContemporary Amperex\b|寧德時代|宁德时代"),
    ))

_LISTING_VERBS = (r"filed|files|filing|plans|planned|planning|seeks|sought|applied|applies|"
                  r"submitted|submits|debuted|debuts|made|set|launched|launches|priced|prices|"
                  r"considering|considers|to list|mulls|eyes|passed|listed|lists|raised|raises|"
                  r"jumped|jumps|surged|surges|soared|soars|rose|rises|fell|falls|slumped|"
                  r"slumps|gained|gains|opened|opens|closed|closes|began|begins|started|"
                  r"starts|won|wins|completed|completes")
_NAME = r"(?P<co>(?:[A-Z][\w&.'’-]*\s+){0,3}[A-Z][\w&.'’-]*)"
_EN_COMPANY = re.compile(
    _NAME + r"\s+(?:has\s+|have\s+|is\s+|was\s+|will\s+|formally\s+|officially\s+|quietly\s+|"
    r"finally\s+)?(?:" + _LISTING_VERBS + r")\b")
#: A name before a word companies are named with ("Lingxi Robotics", "Acme Holdings").
_EN_CORPORATE = re.compile(
    r"(?P<co>(?:[A-Z][\w&.'’-]*\s+){0,3}(?:Robotics|Robot|Technolog(?:y|ies)|Tech|Holdings|"
    r"Group|Biotech|Pharma(?:ceuticals?)?|Therapeutics|Motors?|Auto(?:motive)?|Electronics|"
    r"Semiconductors?|Intelligence|AI|Dynamics|Systems|Labs?|Networks|Logistics|Energy|"
    r"Materials|Medical|Bio|Capital|Industries|Inc|Ltd|Limited|Co\.?|Corp(?:oration)?)\b)")
#: A name a listing phrase introduces ("shares of X", "the listing of X", "X's IPO").
_EN_OF_COMPANY = re.compile(
    r"(?i:\b(?:shares|stock|listing|IPO|debut|flotation|float|offering|prospectus) of\s+)"
    r"(?:(?:the\s+)?[A-Z][\w-]*(?:'s|’s)\s+)?" + _NAME
    + r"|" + _NAME.replace("co>", "co2>")
    + r"(?:'s|’s)\s+(?i:(?:Hong Kong\s+)?(?:IPO|listing|debut|shares|flotation|offering|"
    r"prospectus|filing))\b")
_NOT_COMPANY = frozenset({
    "the", "a", "an", "hong", "kong", "hk", "hkex", "china", "chinese", "zhejiang", "hangzhou",
    "ningbo", "us", "start-up", "startup", "it", "its", "ipo", "shares", "company", "firm",
    "exchange", "stock", "in", "on", "after", "as", "reports", "report", "sources", "meanwhile",
    "they", "he", "she", "we", "this", "that", "these", "those", "analysts", "investors",
    "officials", "bankers", "index", "hang", "seng", "nasdaq", "while", "when", "but", "and",
    "update", "market", "markets", "stocks", "trading", "government", "their",
})
#: Words Chinese company names end in (靈犀機器人, 群核科技, 均勝電子).
_ZH_SUFFIX = re.compile(r"機器人|机器人|機械人|机械人|科技|集團|集团|控股|股份|生物|汽車|汽车|"
                        r"智能|電子|电子|智造|醫藥|医药|新能源|半導體|半导体|航空|航天|醫療|医疗|"
                        r"材料|能源|信息|資訊|资讯|軟件|软件|網絡|网络|數據|数据|芯|微電子|微电子")
#: Words that end whatever comes before a Chinese company name.
_ZH_BEFORE_NAME = re.compile(
    r".*(?:[，。、；：「」『』“”《》（）()\s]|歡迎|欢迎|宣布|宣佈|表示|指出|透過|通过|通過|"
    r"在|向|由|將|将|與|与|和|及|的|為|为|於|于|據|据|是|對|对|今日|昨日|今天|昨天|日|"
    r"企業|企业|公司|家|廠商|厂商|巨頭|巨头|龍頭|龙头|独角兽|獨角獸|初創|初创)")
_ZH_PLACE_PREFIX = re.compile(r"^(?:浙江省?|杭州市?|寧波市?|宁波市?|溫州|温州|紹興|绍兴|嘉興|"
                              r"嘉兴|湖州|金華|金华|台州|香港|內地|内地|中國|中国|一家|該|该|這家|"
                              r"这家)+")
_ZH_DESCRIPTOR_AFTER = re.compile(r"(?:企業|企业|公司|廠商|厂商|製造商|制造商|初創|初创|"
                                  r"龍頭|龙头|獨角獸|独角兽|板塊|板块|概念|行業|行业|領域|领域)")


def _english_company(sentence: str) -> str | None:
    for pattern in (_EN_COMPANY, _EN_OF_COMPANY, _EN_CORPORATE):
        for match in pattern.finditer(sentence):
            raw = match.group("co") if "co" in match.groupdict() and match.group("co") else \
                match.groupdict().get("co2")
            if not raw:
                continue
            tokens = raw.split()
            while tokens and tokens[0].lower().strip("'’") in _NOT_COMPANY:
                tokens.pop(0)
            while tokens and tokens[0].lower().endswith(("-based", "'s", "’s")):
                tokens.pop(0)
            name = " ".join(tokens).strip(".,;:'’")
            if name and name.lower() not in _NOT_COMPANY and not re.fullmatch(
                    r"(?:Robotics|Robot|Technology|Tech|Holdings|Group|AI|Co\.?|Ltd|Inc)", name):
                return name
    return None


def _chinese_company(sentence: str) -> str | None:
    """A brand of two to four characters before an industry word, its place prefix dropped
    (杭州靈犀機器人股份有限公司 -> 靈犀機器人); a description (四足機械人企業) is no name."""
    for match in _ZH_SUFFIX.finditer(sentence):
        if _ZH_DESCRIPTOR_AFTER.match(sentence, match.end()):
            continue
        before = sentence[max(0, match.start() - 8):match.start()]
        cut = _ZH_BEFORE_NAME.match(before)
        brand = before[cut.end():] if cut else before
        brand = _ZH_PLACE_PREFIX.sub("", brand)
        if not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", brand):
            continue
        return brand + match.group()
    return None


def company_in(sentence: str) -> str | None:
    """The company a sentence is about: a known one, else a name before a listing verb, a
    name a listing phrase introduces, a name ending in a corporate word, or a Chinese name."""
    for name, pattern in KNOWN_COMPANIES:
        if pattern.search(sentence):
            return name
    return _english_company(sentence) or _chinese_company(sentence)


# -- controlled goods -------------------------------------------------------------------------

#: Goods export controls name, each with the names news gives them.
CONTROLLED_ITEMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("Nvidia", r"(?i)\bNvidia\b|英偉達|英伟达"),
        ("H20", r"\bH20\b"),
        ("H800", r"\bH800\b"),
        ("H100", r"\bH100\b"),
        ("A100", r"\bA100\b"),
        ("AMD MI308", r"\bMI308\b"),
        ("chips", r"(?i)\bchips?\b|\bsemiconductors?\b|\bGPUs?\b|芯片|晶片|半導體|半导体"),
        ("chipmaking equipment", r"(?i)\bchip[\s-]?making (?:equipment|tools)\b|"
                                 r"\blithography\b|光刻機|光刻机"),
        ("AI models", r"(?i)\bAI model weights\b|\bmodel weights\b"),
        ("rare earths", r"(?i)\brare[\s-]earths?\b|稀土"),
        ("gallium", r"(?i)\bgallium\b|鎵|镓"),
        ("germanium", r"(?i)\bgermanium\b|鍺|锗"),
        ("antimony", r"(?i)\bantimony\b|銻|锑"),
        ("graphite", r"(?i)\bgraphite\b|石墨"),
    ))


# -- hedges -----------------------------------------------------------------------------------

#: Cues that attribute a statement to someone unnamed or unverified: they always hedge.
_ATTRIBUTED = re.compile(
    r"(?i:\binsiders?\s+(?:\w+\s+)?(?:claim|claims|claimed|say|says|said|told|suggest\w*)\b"
    r"|\baccording to (?:[\w-]+\s+){0,3}?(?:insiders?|sources?|people)\b"
    r"|\bsources?\s+(?:say|says|said|claim\w*|told|close|familiar|suggest\w*)\b"
    r"|\bpeople\s+(?:familiar|close|briefed)\b|\bperson\s+(?:familiar|close|briefed)\b"
    r"|\breportedly\b|\ballegedly\b|\bpurportedly\b|\bsupposedly\b"
    r"|\b(?:is|are|was|were|being)\s+said\s+to\b|\brumou?r(?:s|ed)?\b|\bunconfirmed\b"
    r"|\bunverified\b|\bspeculat\w*|\banonymity\b|\banonymous\b|\bunnamed\b"
    r"|\b(?:weigh(?:s|ing)?|consider(?:s|ing)?|mull(?:s|ing)?)\s+(?:an?\s+|the\s+|whether\b|"
    r"new\b|possible\b|outright\b|further\b|fresh\b))"
    r"|據悉|据悉|消息人士|消息指|消息稱|消息称|據報|据报|據稱|据称|知情人士|傳聞|传闻|網傳|网传|市傳|"
    r"市传|據了解|据了解|據傳|据传|傳出|传出|傳言|传言|坊間|坊间|未經證實|未经证实|考慮|考虑"
    r"|(?:自媒體|自媒体|網民|网民|網友|网友|博主)[^，。,]{0,4}?(?:稱|称|指|爆料)")
#: Modal cues: they hedge the sentence unless they sit in a side remark ("a move that could").
_MODAL = re.compile(
    r"(?i:\bcould\b|\bmight\b|\b(?:is|are)\s+likely\s+to\b|\b(?:(?:is|are)\s+)?expected\s+to\b)"
    r"|\bmay\b(?!\s+\d)|\bMay\s+(?i:be|have|not|soon|still|also)\b"
    r"|或將|或将|或會|或会|可能|有望|預計|预计|料將|料将")
_SIDE_REMARK = re.compile(r"(?i)(?:,|—|–)\s*(?:which|a\s+(?:[\w-]+\s+){0,2}?(?:that|which))\s+"
                          r"(?:[\w-]+\s+){0,3}$")
_QUESTION = re.compile(r"[?？][\s」』”’\"')）]*$")


def hedge_in(sentence: str) -> str | None:
    """The cue that makes what ``sentence`` says unconfirmed ("insiders claim", "据悉", "could",
    a headline's question mark), lower-cased; None when it is stated outright."""
    cues = list(_ATTRIBUTED.finditer(sentence))
    cues += [m for m in _MODAL.finditer(sentence)
             if not _SIDE_REMARK.search(sentence[:m.start()])]
    if cues:
        return " ".join(min(cues, key=lambda m: m.start()).group().lower().split())
    return "?" if _QUESTION.search(sentence) else None


# -- dates ------------------------------------------------------------------------------------

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?(?![a-z])")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?![\d%])"
_YEAR = r"(?:19|20)\d\d(?!\d)"
_ZH_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_DATE = re.compile(
    rf"(?P<iso>\b{_YEAR}-[01]\d-[0-3]\d\b)"
    rf"|\b(?P<day>{_DAY}\s+{_MONTH}|{_MONTH}\s+{_DAY})(?:,?\s+(?P<dy>{_YEAR}))?"
    rf"|\b(?:(?:end|early|mid|late)[- ]|the end of\s+)?(?P<month>{_MONTH})(?:,?\s+(?P<my>{_YEAR}))?"
    rf"|\b(?P<year>{_YEAR})\b"
    r"|(?i:\b(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)"
    r"|(?i:\b(?P<rel>yesterday|last month|this month|next month)\b)"
    rf"|(?:(?P<zy>\d{{4}})年)?(?P<zm>{_ZH_NUM})月(?:(?P<zd>{_ZH_NUM})[日號号]|(?P<zend>底|末|份)?)"
    r"|(?:周|週|星期|禮拜|礼拜)(?P<zweekday>[一二三四五六日天])"
    r"|(?P<zrel>昨日|昨天|上月|上個月|上个月|本月|下月|下個月|下个月)")
_AS_AT = re.compile(r"(?i)\bas (?:at|of)\s+(?:the\s+)?$|(?:截至|截止)\s*$")
_EFFECT_BEFORE = re.compile(
    r"(?i)(?:\beffective(?:\s+(?:from|on|as of))?|\bwith effect from|\bta(?:ke|kes|king|ken|ok) "
    r"effect\s+(?:on|from)|\bc(?:ome|omes|ame) into (?:force|effect)\s+on|\bfrom|"
    r"\bstarting(?:\s+(?:on|from))?|\bbeginning(?:\s+on)?|\bsince)\s+(?:on\s+)?$|(?:自|從|从|由)\s*$")
_EFFECT_AFTER = re.compile(r"^\s*(?:起|開始|开始|生效|實施|实施)")
_ON = re.compile(r"(?i)\b(?:on|dated|last|this|next)\s+(?:the\s+)?$")
_IN = re.compile(r"(?i)\b(?:in|during)\s+$")
_PAST_TENSE = re.compile(r"(?i)\b(?:took|came|went|since|began|started|last)\b")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CN_WEEKDAY = "一二三四五六日"
_RELATIVE_MONTHS = {"last month": -1, "this month": 0, "next month": 1, "上月": -1,
                    "上個月": -1, "上个月": -1, "本月": 0, "下月": 1, "下個月": 1, "下个月": 1}


def publication_day(published: datetime) -> datetime:
    """Midnight (UTC) of the day an item was published."""
    when = published if published.tzinfo else published.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _nearest_year(month: int, day: int | None, published: datetime) -> datetime | None:
    """The month (and day) in whichever year puts it nearest the publication, so "as at
    December 31" read on 2 January is last December, and "from January 1" read in November is
    next January."""
    pub = publication_day(published)
    best: tuple[timedelta, datetime] | None = None
    for year in (pub.year - 1, pub.year, pub.year + 1):
        try:
            start = datetime(year, month, day or 1, tzinfo=UTC)
        except ValueError:
            return None
        end = start + (timedelta(days=1) if day else relativedelta(months=1))
        gap = max(start - pub, pub - end, timedelta(0))
        if best is None or gap < best[0]:
            best = (gap, start)
    return best[1] if best else None


def _weekday(index: int, prospective: bool, published: datetime) -> datetime:
    pub = publication_day(published)
    return pub + relativedelta(weekday=WEEKDAYS[index](+1 if prospective else -1))


def _resolve(m: re.Match[str], prospective: bool, published: datetime
             ) -> tuple[datetime, str] | None:
    """The start of the period a date phrase names, and its precision."""
    g = m.groupdict()
    if g["iso"]:
        return datetime.fromisoformat(g["iso"]).replace(tzinfo=UTC), "day"
    if g["day"] or g["month"]:
        try:
            parsed = date_parser.parse(g["day"] or g["month"], default=datetime(2000, 1, 1))
        except (ValueError, OverflowError):
            return None
        day = parsed.day if g["day"] else None
        year = g["dy"] or g["my"]
        start = (datetime(int(year), parsed.month, day or 1, tzinfo=UTC) if year
                 else _nearest_year(parsed.month, day, published))
        return (start, "day" if day else "month") if start else None
    if g["year"]:
        return datetime(int(g["year"]), 1, 1, tzinfo=UTC), "year"
    if g["weekday"] or g["zweekday"]:
        index = (_CN_WEEKDAY.index(g["zweekday"].replace("天", "日")) if g["zweekday"]
                 else _WEEKDAY_NAMES.index(g["weekday"].lower()))
        return _weekday(index, prospective, published), "day"
    rel = (g["rel"] or g["zrel"] or "").lower()
    if rel == "yesterday" or rel in ("昨日", "昨天"):
        return publication_day(published) - timedelta(days=1), "day"
    if rel:
        month = publication_day(published).replace(day=1)
        return month + relativedelta(months=_RELATIVE_MONTHS[rel]), "month"
    month_number, day_number = (parse_count(g["zm"]), parse_count(g["zd"] or ""))
    if not month_number or not 1 <= month_number <= 12:
        return None
    if g["zy"]:
        try:
            start = datetime(int(g["zy"]), month_number, day_number or 1, tzinfo=UTC)
        except ValueError:
            return None
    else:
        start = _nearest_year(month_number, day_number, published)
    return (start, "day" if day_number else "month") if start else None


def _rank(m: re.Match[str], sentence: str) -> tuple[int, bool] | None:
    """How strongly a date phrase's cue ties it to what the sentence states (lower is
    stronger: as-at, then effective-from, then on, then in), and whether it looks ahead; None
    for a date with no cue ("Unitree's May 14 filing" dates nothing)."""
    before = sentence[max(0, m.start() - 40):m.start()]
    after = sentence[m.end():m.end() + 6]
    chinese = m.group("zm") or m.group("zweekday") or m.group("zrel")
    if _AS_AT.search(before):
        return 0, False
    if _EFFECT_BEFORE.search(before) or (chinese and _EFFECT_AFTER.search(after)):
        return 1, not _PAST_TENSE.search(before)
    if m.group("month") or m.group("year") or (chinese and not (m.group("zd") or
                                                                  m.group("zweekday"))):
        return (3, False) if chinese or _IN.search(before) else None
    if chinese or m.group("rel") or _ON.search(before):
        return 2, bool(re.search(r"(?i)\bnext\s+$", before))
    return None


def stated_date(sentence: str, published: datetime) -> tuple[datetime, str] | None:
    """The world date a sentence gives for what it states ("as at 30 June", "effective May 14",
    "on Monday", "in June", 截至6月30日, 5月14日起, 6月底), as (start of the period, precision),
    the year taken from the publication when omitted; None when the sentence gives none."""
    found = []
    for m in _DATE.finditer(sentence):
        rank = _rank(m, sentence)
        if rank is not None:
            found.append((rank[0], m.start(), m, rank[1]))
    for _, _, m, prospective in sorted(found, key=lambda f: (f[0], f[1])):
        resolved = _resolve(m, prospective, published)
        if resolved is not None:
            return resolved
    return None
