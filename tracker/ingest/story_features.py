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
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import opencc

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
    (re.compile(r"(?<=\w)[-‐‑–](?=\w)"), " "),
)
_EVENTS: tuple[frozenset[str], ...] = (
    frozenset({"agree", "agrees", "agreed", "agreement", "sign", "signs", "signed", "pact",
               "deal", "mou", "簽署", "签署", "達成", "达成", "同意"}),
    frozenset({"launch", "launches", "launched", "unveil", "unveils", "unveiled", "inaugurate",
               "inaugurated", "啟動", "启动", "推出", "成立"}),
    frozenset({"operational", "operating", "operation", "running", "live", "運作", "运作",
               "落地"}),
    frozenset({"suspend", "suspends", "suspended", "halt", "halts", "halted", "pause",
               "paused", "暫停", "暂停"}),
    frozenset({"file", "files", "filed", "filing", "applies", "applied", "遞表", "递表"}),
    frozenset({"debut", "debuts", "debuted", "trading", "listed", "掛牌", "挂牌"}),
    frozenset({"raise", "raises", "raised", "hike", "hikes", "hiked", "increase", "increases",
               "加徵", "加征", "上調", "上调"}),
    frozenset({"cut", "cuts", "lower", "lowers", "lowered", "reduce", "reduces", "slash",
               "slashes", "pause", "下調", "下调", "暫緩", "暂缓"}),
    frozenset({"visit", "visits", "arrives", "arrive", "tour", "訪問", "访问", "考察"}),
    frozenset({"meet", "meets", "met", "talks", "會見", "会见", "會面", "会面"}),
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


def _site(host: str) -> str:
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
            return f"{_site(host)}/{found}"
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


def link_features(urls: Iterable[str | None]) -> LinkFeatures:
    urls = list(urls)
    return LinkFeatures(
        links=frozenset(link for link in map(identity_link, urls) if link),
        article_ids=frozenset(found for found in map(article_id, urls) if found))
