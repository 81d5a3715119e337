"""Group items from many feeds into stories, so one event reported five times is one story.

Two items are the same story when they share a canonical link, or when their titles are
similar enough (:data:`SIMILARITY_THRESHOLD`) and they were published within a window of
each other. Title similarity is rapidfuzz's token-set and token-sort ratios on normalised
titles (characters for Chinese), lowered when the titles disagree on a number ("145%" vs
"125%"), on what happened ("agree" vs "becomes operational"), or on a named party
("Unitree" vs "Deep Robotics") — the cases where shared words mislead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from rapidfuzz import fuzz

from tracker.ingest.identity import canonical_link

#: Titles at or above this similarity (0..1) within the window are one story. Chosen on the
#: cases in tests/ingest/test_stories.py: syndicated rewrites score 0.9+, different events
#: with shared words score under 0.8.
SIMILARITY_THRESHOLD = 0.85
DEFAULT_WINDOW_DAYS = 14

_SUFFIX = re.compile(r"\s+[-–—|:]\s+([^-–—|:]{1,40})$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NON_WORD = re.compile(r"[^\w\s]+")
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


class HasTitle(Protocol):
    """What :func:`match_story` needs from an item (parse.Item satisfies it)."""

    @property
    def title(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def published(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A known story to match against: its first title, its links and first publication."""

    story_id: str
    title: str
    links: frozenset[str]
    published: datetime
    item_keys: frozenset[str] = field(default=frozenset())


def strip_publisher(title: str) -> str:
    """Drop a trailing " – SCMP" / " | RTHK" publisher tag (a short last segment)."""
    match = _SUFFIX.search(title)
    if match and len(match.group(1).split()) <= 4 and match.start() >= 5 \
            and len(match.group(1)) < match.start():
        return title[:match.start()]
    return title


def normalise_title(title: str) -> str:
    """Lowercase words without punctuation, publisher tags, stopwords or spelling variants."""
    text = unicodedata.normalize("NFKC", strip_publisher(title)).casefold()
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    text = _NON_WORD.sub(" ", text)
    words = [w for w in text.split() if w not in _STOPWORDS]
    return " ".join(words)


def _is_cjk(text: str) -> bool:
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and sum(1 for c in letters if _CJK.match(c)) / len(letters) >= 0.3


def _events(text: str, tokens: set[str]) -> set[int]:
    found = set()
    for index, words in enumerate(_EVENTS):
        if tokens & words or any(w in text for w in words if _CJK.search(w)):
            found.add(index)
    return found


def _unmatched_names(title: str, other_tokens: set[str]) -> set[str]:
    """Capitalised words of ``title`` missing from the other title: likely named parties.

    A headline in Title Case capitalises every word, so it gives no signal: nothing returned.
    """
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", strip_publisher(title))
             if w.casefold() not in _STOPWORDS]
    capitalised = [w for w in words if w[0].isupper()]
    if len(capitalised) == len(words):
        return set()
    out = set()
    for word in capitalised:
        tokens = set(normalise_title(word).split())
        if tokens and not tokens <= other_tokens:
            out.add(word.casefold())
    return out


def similarity(a: str, b: str) -> float:
    """How alike two titles are, 0..1 (1 = same words)."""
    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return 0.0
    if _is_cjk(na) or _is_cjk(nb):
        ca, cb = na.replace(" ", ""), nb.replace(" ", "")
        base = (fuzz.ratio(ca, cb) + fuzz.token_set_ratio(" ".join(ca), " ".join(cb))) / 2
    else:
        base = (fuzz.token_set_ratio(na, nb) + fuzz.token_sort_ratio(na, nb)) / 2
    ta, tb = set(na.split()), set(nb.split())
    numbers_a, numbers_b = set(_NUMBER.findall(na)), set(_NUMBER.findall(nb))
    if numbers_a and numbers_b and numbers_a != numbers_b:
        base *= 0.6
    events_a, events_b = _events(na, ta), _events(nb, tb)
    if events_a and events_b and not events_a & events_b:
        base *= 0.8
    if _unmatched_names(a, tb) and _unmatched_names(b, ta):
        base *= 0.85
    return round(min(max(base / 100.0, 0.0), 1.0), 4)


def _links(values: Iterable[str]) -> set[str]:
    return {link for link in (canonical_link(v) for v in values) if link}


def match_story(
    item: HasTitle,
    candidates: Iterable[StoryCandidate],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = SIMILARITY_THRESHOLD,
) -> tuple[str | None, float]:
    """(story_id, similarity) of the story ``item`` belongs to, or (None, best similarity).

    A shared canonical link wins outright (similarity 1.0, whatever the dates); otherwise the
    most similar title published within ``window_days`` of the item, if it reaches
    ``threshold`` (ties go to the most recent story).
    """
    link = canonical_link(item.link)
    window = timedelta(days=window_days)
    best_id: str | None = None
    best = 0.0
    best_published: datetime | None = None
    for candidate in candidates:
        if link and link in _links(candidate.links):
            return candidate.story_id, 1.0
        if abs(item.published - candidate.published) > window:
            continue
        score = similarity(item.title, candidate.title)
        if score > best or (score == best and best_published is not None
                            and candidate.published > best_published):
            best, best_id, best_published = score, candidate.story_id, candidate.published
    if best_id is not None and best >= threshold:
        return best_id, best
    return None, best
