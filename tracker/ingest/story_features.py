"""What story matching compares, computed once per title and per story, never per comparison.

A title is made comparable by removing what a re-issue or a re-run changes without changing
the story: wire markers (``UPDATE 1-``, ``(Corrected)``), a trailing publisher tag that
aggregators append, Traditional vs Simplified script (folded with OpenCC), case, punctuation
and spelling variants. A link gives identity evidence: its canonical form, and the article id
a newspaper keeps when it cross-lists one article under several section paths.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import opencc

from tracker.ingest import lexicon
from tracker.ingest.identity import canonical_link

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NON_WORD = re.compile(r"[^\w\s]+")
_SUFFIX = re.compile(r"\s+[-–—|:]\s+([^-–—|:]{1,40})$")
_WIRE_PREFIX = re.compile(
    r"^(?:(?:UPDATE|WRAPUP)\s*\d+|REFILE|CORRECTED|CORRECTING|EXCLUSIVE|RPT|REPEAT|BRIEF|"
    r"BUZZ|INSIGHT|ANALYSIS|FACTBOX|FOCUS|PREVIEW|EXPLAINER|TIMELINE)\s*[-–—:]\s*")
_MARKER = re.compile(
    r"\s*[(\[（【]\s*(?:corrected|correction|corrects|updated?|refiled?|repeat|"
    r"更新|更正|修正|修訂|修订|重發|重发)\s*[)\]）】]\s*", re.IGNORECASE)
_ARTICLE_ID = re.compile(r"^(\d{5,})(?:[-_.].*)?$|^.+[-_](\d{6,})(?:\.s?html?)?$")
_DATE_LIKE = re.compile(r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])?$")
#: Aggregators whose links redirect to the article: the link names the aggregator's
#: wrapper, not the article, so it is never identity evidence.
REDIRECT_HOSTS = frozenset({"news.google.com"})
_SITE_PREFIXES = ("www.", "m.", "amp.", "mobile.")
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "as", "at", "by",
    "from", "its", "their", "is", "are", "be", "after", "amid", "over", "into", "new", "says",
    "said", "report", "reports", "update", "live", "exclusive", "breaking", "video", "watch",
})
_SYNONYMS = (
    (re.compile(r"\bhksar\b|\bhk\b"), "hong kong"),
    (re.compile(r"\bu\.s\.(?!\w)|\busa\b|\bunited states\b"), "us"),
    (re.compile(r"\binitial public offering\b|\bipo\b|\bflotation\b"), "listing"),
    (re.compile(r"\bper ?cent\b|%"), " percent"),
    (re.compile(r"&"), " and "),
    (re.compile(r"\b(?:goes|go|went|gone) live\b"), "launched"),
    (re.compile(r"(?<=\w)[-‐‑–](?=\w)"), " "),
)
_EVENTS: tuple[frozenset[str], ...] = (
    frozenset({"agree", "agrees", "agreed", "達成", "达成", "同意"}),
    #: signing deals is another act than agreeing to set something up (a visit's first day
    #: agrees a mechanism, its second signs 50 projects)
    frozenset({"sign", "signs", "signed", "signing", "ink", "inks", "inked", "agreement",
               "agreements", "pact", "pacts", "deal", "deals", "mou", "簽署", "签署", "簽約",
               "签约", "簽逾", "签逾"}),
    frozenset({"launch", "launches", "launched", "unveil", "unveils", "unveiled", "inaugurate",
               "inaugurated", "opens", "啟動", "启动", "啓動", "推出", "成立", "開張", "开张"}),
    frozenset({"operational", "operating", "operation", "running", "live", "運作", "运作",
               "落地"}),
    frozenset({"suspend", "suspends", "suspended", "halt", "halts", "halted", "pause",
               "paused", "暫停", "暂停"}),
    frozenset({"file", "files", "filed", "filing", "applies", "applied", "遞表", "递表"}),
    frozenset({"debut", "debuts", "debuted", "trading", "listed", "掛牌", "挂牌",
               "上市"}),
    frozenset({"price", "prices", "priced", "pricing", "定價", "定价", "招股價", "招股价"}),
    frozenset({"raise", "raises", "raised", "hike", "hikes", "hiked", "increase", "increases",
               "加徵", "加征", "上調", "上调"}),
    frozenset({"cut", "cuts", "lower", "lowers", "lowered", "reduce", "reduces", "slash",
               "slashes", "pause", "下調", "下调", "降至", "暫緩", "暂缓"}),
    frozenset({"visit", "visits", "visited", "arrives", "arrive", "tour", "tours", "toured",
               "訪問", "访问", "考察"}),
    frozenset({"meet", "meets", "met", "meeting", "talks", "會見", "会见", "會面", "会面",
               "會議", "会议"}),
    frozenset({"conclude", "concludes", "concluded", "wraps", "結束", "结束"}),
    frozenset({"extend", "extends", "extended", "extension", "延長", "延长"}),
    frozenset({"add", "adds", "added", "additions", "blacklist", "blacklists", "blacklisted",
               "列入", "新增"}),
    frozenset({"forum", "speech", "論壇", "论坛", "致辭", "致辞"}),
)

_to_simplified = opencc.OpenCC("hk2s")


def fold_script(text: str) -> str:
    """Simplified Chinese for Traditional (Hong Kong variants included); other text as is.

    The same agency copy runs in both scripts; folding first lets them compare equal.
    """
    return _to_simplified.convert(text) if _CJK.search(text) else text


def strip_reissue_markers(title: str) -> str:
    """Drop wire re-issue markers (``UPDATE 2-``, ``REFILE-``, ``(Corrected)``, ``（更新）``):
    a re-issue is the same story, and its "2" must not read as a number that differs."""
    previous = None
    while previous != title:
        previous = title
        title = _WIRE_PREFIX.sub("", title.strip())
        title = _MARKER.sub(" ", title).strip()
    return title


def strip_publisher(title: str) -> str:
    """Drop a trailing " – SCMP" / " | RTHK" publisher tag (a short last segment)."""
    match = _SUFFIX.search(title)
    if match and len(match.group(1).split()) <= 4 and match.start() >= 5 \
            and len(match.group(1)) < match.start():
        return title[:match.start()]
    return title


def normalise_title(title: str) -> str:
    """Lowercase words without re-issue markers, publisher tags, punctuation, stopwords or
    spelling variants (script is left as written: see :func:`fold_script`)."""
    text = strip_publisher(strip_reissue_markers(title))
    text = unicodedata.normalize("NFKC", text).casefold()
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    text = _NON_WORD.sub(" ", text)
    return " ".join(w for w in text.split() if w not in _STOPWORDS)


def _is_cjk(text: str) -> bool:
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and sum(1 for c in letters if _CJK.match(c)) / len(letters) >= 0.3


def _events(text: str, tokens: frozenset[str]) -> frozenset[int]:
    return frozenset(index for index, words in enumerate(_EVENTS)
                     if tokens & words or any(w in text for w in words if _CJK.search(w)))


def _names(title: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Capitalised words (likely named parties) with their normalised tokens; none for a
    Title Case headline, which capitalises every word and so gives no signal."""
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*",
                                   strip_publisher(strip_reissue_markers(title)))
             if w.casefold() not in _STOPWORDS]
    capitalised = [w for w in words if w[0].isupper()]
    if len(capitalised) == len(words):
        return ()
    return tuple((w.casefold(), frozenset(normalise_title(w).split())) for w in capitalised)


@dataclass(frozen=True, slots=True)
class TitleFeatures:
    """A title prepared for comparison: ``text`` is what rapidfuzz compares as is."""

    text: str
    #: The words sorted: rapidfuzz's token-sort ratio is a plain ratio of these.
    sorted_text: str
    tokens: frozenset[str]
    numbers: frozenset[str]
    events: frozenset[int]
    names: tuple[tuple[str, frozenset[str]], ...]
    cjk: bool
    #: CJK titles compare by character: the characters run together, and space-separated.
    chars: str
    spaced_chars: str
    char_set: frozenset[str]
    #: What normalisation removed or changed, for the reason a match gives.
    changes: tuple[str, ...]

    def unmatched_names(self, other: TitleFeatures) -> frozenset[str]:
        return frozenset(name for name, tokens in self.names
                         if tokens and not tokens <= other.tokens)


@lru_cache(maxsize=8192)
def title_features(title: str) -> TitleFeatures:
    """The comparable form of ``title``, cached: every story's title is prepared once."""
    folded = fold_script(title)
    text = normalise_title(folded)
    tokens = frozenset(text.split())
    chars = text.replace(" ", "")
    unmarked = strip_reissue_markers(title)
    changes = tuple(label for label, changed in (
        ("re-issue marker stripped", unmarked != title.strip()),
        ("publisher suffix stripped", strip_publisher(unmarked) != unmarked),
        ("Traditional/Simplified folded", folded != title)) if changed)
    cjk = _is_cjk(text)
    return TitleFeatures(
        text=text, sorted_text=" ".join(sorted(text.split())), tokens=tokens,
        numbers=frozenset(_NUMBER.findall(text)), events=_events(text, tokens),
        names=_names(folded), cjk=cjk, chars=chars, spaced_chars=" ".join(chars),
        char_set=frozenset(chars) if cjk else frozenset(), changes=changes)


def site_of(host: str) -> str:
    """A host without its ``www.``/``m.``/``amp.`` prefix: the site."""
    for prefix in _SITE_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix):]
    return host


def article_id(url: str | None) -> str | None:
    """``site/id`` for a link whose path carries a numeric article id (``/article/3309876/…``,
    ``/1803456-20250514.htm``, ``/slug-3309876.html``), so one article cross-listed under
    several section paths of a site is recognised; None when no id stands out. Dates in the
    path (``20250514``, ``202505``) are not ids."""
    link = canonical_link(url)
    if not link:
        return None
    parts = urlsplit(link)
    host = parts.hostname or ""
    if host in REDIRECT_HOSTS:
        return None
    for segment in reversed([s for s in parts.path.split("/") if s]):
        match = _ARTICLE_ID.match(segment)
        found = match and (match.group(1) or match.group(2))
        if found and not _DATE_LIKE.match(found):
            return f"{site_of(host)}/{found}"
    return None


def identity_link(url: str | None) -> str | None:
    """The canonical link, unless it is an aggregator's redirect (never identity)."""
    link = canonical_link(url)
    if link and urlsplit(link).hostname in REDIRECT_HOSTS:
        return None
    return link


@dataclass(frozen=True, slots=True)
class LinkFeatures:
    """A story's links as identity evidence: canonical links and article ids."""

    links: frozenset[str]
    article_ids: frozenset[str]
    #: The sites the links are on (an aggregator's ``<source url>`` names one).
    sites: frozenset[str] = frozenset()

    def with_url(self, url: str | None) -> LinkFeatures:
        """These features with one more link's (a story that one more write-up joined)."""
        link, article, site = url_facts(url)
        if (link is None or link in self.links) and (article is None
                                                     or article in self.article_ids):
            return self
        return LinkFeatures(self.links | {link} if link else self.links,
                            self.article_ids | {article} if article else self.article_ids,
                            self.sites | {site} if site else self.sites)


@lru_cache(maxsize=65536)
def url_facts(url: str | None) -> tuple[str | None, str | None, str | None]:
    """(identity link, article id, site of the identity link) of one URL, cached: a story's
    links are read again each time one more write-up joins it."""
    link = identity_link(url)
    host = urlsplit(link).hostname if link else None
    return link, article_id(url), site_of(host) if host else None


def link_features(urls: Iterable[str | None]) -> LinkFeatures:
    facts = [url_facts(url) for url in urls]
    return LinkFeatures(
        links=frozenset(link for link, _article, _site in facts if link),
        article_ids=frozenset(article for _link, article, _site in facts if article),
        sites=frozenset(site for _link, _article, site in facts if site))


# -- event signature --------------------------------------------------------------------------
#
# One real-world event told by several outlets, or by one government in two languages, shares
# few words but the same parties and the same key numbers. The signature is those: the dossier
# entities an item names (through ALIASES, after script folding) and its key numbers with their
# units, dates of the news itself set aside.

#: The one alias table: an entity and every name news gives it, English and Chinese (Simplified:
#: text is folded with OpenCC before it is read). Company names in both scripts come from
#: lexicon.KNOWN_COMPANIES as well.
ALIASES: tuple[tuple[str, str], ...] = (
    ("Hong Kong", r"\bHong Kong\b|\bHKSAR\b|\bHK\b|香港|特区政府|港浙|浙港|港甬|甬港|在港|赴港|"
                  r"来港|访港|港股|港交所"),
    ("Zhejiang", r"\bZhejiang\b|浙江|港浙|浙港|浙企|访浙"),
    ("Hangzhou", r"\bHangzhou\b|杭州"),
    ("Ningbo", r"\bNingbo\b|宁波|甬"),
    ("John Lee", r"\bJohn Lee\b|\bChief Executive\b|\bCE\b|\bLee\b|李家超|行政长官"),
    ("supply chain services mechanism",
     r"(?i)\bsupply[- ]chain (?:services?\b(?: (?:mechanism|scheme|desk))?|mechanism|scheme|"
     r"desk)\b|供应链服务机制|"
     r"港浙机制|浙港机制|供应链服务台|供应链服务工作"),
    ("Invest Hong Kong", r"\bInvest ?H(?:ong )?K(?:ong)?\b|投资推广署"),
    ("commerce secretary", r"\bSecretary for Commerce and Economic Development\b|\bSCED\b|"
                           r"商务及经济发展局|商经局"),
    ("working group", r"(?i)\bworking group\b|工作小组|工作组"),
    ("LegCo", r"\bLegCo\b|\bLegislative Council\b|立法会"),
    ("United States", r"\bU\.?S\.?(?!\w)|\bUnited States\b|\bWashington\b|美国|美方|中美|美对华|"
                      r"美将|美延长"),
    ("China", r"\bChina\b|\bChinese\b|中国|对华|中方|中美"),
    ("Trump", r"\bTrump\b|特朗普"),
    ("Geneva", r"\bGeneva\b|日内瓦"),
    ("tariff", r"(?i)\btariffs?\b|\bduties\b|关税"),
    ("truce", r"(?i)\btruce\b|\bsuspension\b|休战|暂停期|暂缓"),
    ("Entity List", r"(?i)\bEntity List\b|\bblacklist|实体清单"),
    ("stock exchange", r"(?i)\bstock exchange\b|\bHKEX\b|\bMain Board\b|港交所|联交所|联合交易所|"
                       r"主板"),
    ("listing", r"(?i)\bIPO\b|\binitial public offering\b|\blisting\b|\bdebut|上市|招股|挂牌|递表"),
    ("Lingxi Robotics", r"(?i)\bLingxi\b|灵犀"),
    ("Nvidia", r"(?i)\bNvidia\b|英伟达"),
    ("H20", r"\bH20\b"),
    ("Unitree", r"(?i)\bUnitree\b|宇树"),
    ("Deep Robotics", r"(?i)\bDeep Robotics\b|云深处"),
    ("DeepSeek", r"(?i)\bDeepSeek\b|深度求索"),
)
_ALIAS_PATTERNS = tuple((name, re.compile(pattern)) for name, pattern in ALIASES)
#: The words of the entities' English names: titles that agree only on these agree on the
#: dossier, not on an event.
ENTITY_WORDS = frozenset({
    "hong", "kong", "zhejiang", "hangzhou", "ningbo", "supply", "chain", "services", "service",
    "mechanism", "scheme", "china", "chinese", "us", "hksar", "province", "city"})
ENTITY_CHARS = frozenset("港浙供应链服务机制香江省杭州宁波中美国")
#: Entities that name the dossier's topic rather than a party to one event: every story of
#: the dossier shares them, so they never single an event out on their own.
TOPIC_ENTITIES = frozenset({"Hong Kong", "Zhejiang", "supply chain services mechanism",
                            "China", "United States", "tariff", "truce", "listing"})

_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), 1) for m in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATES = re.compile(
    r"(?i)\b(?P<mon>" + _MONTH + r")\.?\s+(?P<d1>\d{1,2})\b(?:,?\s+\d{4})?"
    r"|\b(?P<d2>\d{1,2})\s+(?P<mon2>" + _MONTH + r")\b" +
    r"(?:\s+\d{4})?|(?:(?P<m3>\d{1,2})月)?(?P<d3>\d{1,2})[日号]|\b(?:19|20)\d{2}年?|\d{1,2}:\d{2}")
_SCALE = {"billion": 1e9, "bln": 1e9, "bn": 1e9, "million": 1e6, "mln": 1e6, "m": 1e6,
          "亿": 1e8, "万": 1e4, "": 1.0}
_CN_NUMERAL = "零〇一二两三四五六七八九十百千"
_KEY_NUMBERS = re.compile(
    r"(?i)(?P<cur>HK\$|US\$|\$|RMB\s?)\s?(?P<money>\d+(?:\.\d+)?)\s*"
    r"(?P<scale>billion|bln|bn|million|mln|m)?\b"
    r"|(?P<cnmoney>\d+(?:\.\d+)?)(?P<cnscale>亿|万)?(?P<cncur>港元|港币|美元|元)"
    r"|(?P<pct>\d+(?:\.\d+)?)\s*(?:%|per ?cent\b|percent\b)|百分之(?P<cnpct>[" + _CN_NUMERAL +
    r"]+)"
    r"|(?P<days>\d+)(?:[- ]days?\b|天)|(?P<cndays>[" + _CN_NUMERAL + r"]+)天"
    r"|(?P<code>\d{4,5})\.HK\b|(?:stock code|股份代号)\s*(?P<code2>\d{4,5})"
    r"|(?P<cncount>[" + _CN_NUMERAL + r"]{1,4})(?=[家个份项名])"
    r"|\b(?P<word>" + lexicon.WORD_NUMBER + r")\b(?![- ](?:day|stop|way))"
    r"|(?P<count>\d[\d,]*(?:\.\d+)?)")
_CURRENCY = {"hk$": "HK$", "港元": "HK$", "港币": "HK$", "us$": "US$", "$": "US$", "美元": "US$",
             "rmb": "RMB", "元": "RMB"}


def _value(number: float) -> str:
    return f"{lexicon.parse_number(f'{number:.6f}')}"


def _key_number(m: re.Match[str]) -> tuple[str, str] | None:
    """(unit, value) of one key number: money in its currency and full amount, a percentage,
    a number of days, a stock code, or a count (words and Chinese numerals read)."""
    if m.group("money"):
        cur = _CURRENCY[m.group("cur").strip().lower()]
        scale = _SCALE[(m.group("scale") or "").lower()]
        return cur, _value(float(m.group("money")) * scale)
    if m.group("cnmoney"):
        scale = _SCALE[m.group("cnscale") or ""]
        return _CURRENCY[m.group("cncur")], _value(float(m.group("cnmoney")) * scale)
    if m.group("pct") or m.group("cnpct"):
        pct = m.group("pct")
        value = float(pct) if pct else lexicon.chinese_number(m.group("cnpct"))
        return ("%", _value(value)) if value is not None else None
    if m.group("days") or m.group("cndays"):
        days = m.group("days")
        count = int(days) if days else lexicon.chinese_number(m.group("cndays"))
        return ("days", str(count)) if count is not None else None
    if m.group("code") or m.group("code2"):
        return "code", str(int(m.group("code") or m.group("code2")))
    if m.group("cncount") or m.group("word"):
        count = lexicon.parse_count(m.group("cncount") or m.group("word"))
        return ("", str(count)) if count is not None and count > 10 else None
    count_text = m.group("count").replace(",", "")
    return ("", _value(float(count_text))) if count_text else None


def _news_dates(text: str,
                published: datetime) -> tuple[str, frozenset[str], frozenset[str]]:
    """``text`` without its dates and times, the dates that are key facts ("until Nov. 10",
    "as at June 30"): not the days around publication, which are a dateline's, not the news's;
    and every date it names."""
    keyed: set[str] = set()
    named: set[str] = set()
    near = {(published + timedelta(days=d)).strftime("%m-%d") for d in (-1, 0, 1)}

    def drop(m: re.Match[str]) -> str:
        month_name = m.group("mon") or m.group("mon2") or ""
        day = m.group("d1") or m.group("d2") or m.group("d3")
        month = _MONTHS.get(month_name.lower().rstrip(".")) or (
            int(m.group("m3")) if m.group("m3") else None)
        if month and day and 1 <= int(day) <= 31:
            label = f"{month:02d}-{int(day):02d}"
            named.add(label)
            if label not in near:
                keyed.add(label)
        return " "

    return _DATES.sub(drop, text), frozenset(keyed), frozenset(named)


@dataclass(frozen=True, slots=True)
class EventSignature:
    """What one write-up of an event shares with another in any language: the entities it
    names, its key numbers as (unit, value), key dates, and when it was published."""

    entities: frozenset[str]
    numbers: frozenset[tuple[str, str]]
    title_numbers: frozenset[tuple[str, str]]
    published: datetime
    #: What the headline says happened (indexes of the action classes: agree, sign, launch,
    #: file, list, visit...), and whether it is written in Chinese.
    actions: frozenset[int] = frozenset()
    cjk: bool = False
    #: Every date the text names, the dateline's too ("MM-DD").
    dates_named: frozenset[str] = frozenset()
    #: The named parties, people, bodies and places beyond the dossier's own topic.
    distinctive: frozenset[str] = field(init=False, compare=False, repr=False)
    #: The key dates among ``numbers`` ("MM-DD").
    key_dates: frozenset[str] = field(init=False, compare=False, repr=False)
    #: The headline's numbers and all numbers by unit, dates left out: what
    #: :meth:`conflicts` compares, prepared once.
    title_units: dict[str, frozenset[str]] = field(init=False, compare=False, repr=False)
    units: dict[str, frozenset[str]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "distinctive", self.entities - TOPIC_ENTITIES)
        object.__setattr__(self, "key_dates",
                           frozenset(v for u, v in self.numbers if u == "date"))
        object.__setattr__(self, "title_units", _by_unit(self.title_numbers))
        object.__setattr__(self, "units", _by_unit(self.numbers))

    def shared(self, other: EventSignature) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        return self.entities & other.entities, self.numbers & other.numbers

    def conflicts(self, other: EventSignature, *, anywhere: bool = False) -> bool:
        """Both headlines give a number of one unit and none agree: "12 firms" and "40 firms"
        are two events of one kind. ``anywhere``: headline or lede (for evidence that has no
        number of its own to go on, a lede's "30 firms" against a headline's "20" is enough
        doubt)."""
        mine = self.units if anywhere else self.title_units
        theirs = other.units if anywhere else other.title_units
        for unit, values in mine.items():
            found = theirs.get(unit)
            if found is not None and values.isdisjoint(found):
                return True
        return False


def _by_unit(numbers: frozenset[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """``numbers`` as unit -> values, dates left out (two dates never conflict)."""
    units: dict[str, set[str]] = {}
    for unit, value in numbers:
        if unit != "date":
            units.setdefault(unit, set()).add(value)
    return {unit: frozenset(values) for unit, values in units.items()}


def _numbers(text: str, published: datetime) -> frozenset[tuple[str, str]]:
    rest, dates, _named = _news_dates(text, published)
    found = {key for m in _KEY_NUMBERS.finditer(rest) if (key := _key_number(m))}
    return frozenset(found | {("date", d) for d in dates})


@lru_cache(maxsize=8192)
def event_signature(title: str, summary: str, published: datetime) -> EventSignature:
    """The signature of one write-up (title and lede), cached: a story's is prepared once."""
    title_text = fold_script(strip_publisher(strip_reissue_markers(title)))
    text = f"{title_text}\n{fold_script(summary[:600])}"
    entities = {name for name, pattern in _ALIAS_PATTERNS if pattern.search(text)}
    entities |= {name for name, pattern in lexicon.KNOWN_COMPANIES if pattern.search(text)}
    headline = title_features(title)
    return EventSignature(frozenset(entities), _numbers(text, published),
                          _numbers(title_text, published), published,
                          actions=headline.events, cjk=headline.cjk,
                          dates_named=_news_dates(text, published)[2])
