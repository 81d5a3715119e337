"""Group items from many feeds into stories, so one event reported five times is one story.

Evidence is weighed strongest first, and every match says which evidence decided it:

1. the same guid or canonical link (never an aggregator's redirect link), whatever the dates;
2. the same article id on one site, cross-listed under another section path;
3. titles similar enough (:data:`SIMILARITY_THRESHOLD`) within a window of each other, after
   re-issue markers, publisher tags and Traditional/Simplified script are set aside.

Title similarity is rapidfuzz's token-set and token-sort ratios on normalised titles
(characters for Chinese), lowered when the titles disagree on a number ("12 firms" vs
"40 firms": two events of one kind), on what happened ("agree" vs "becomes operational"), or
on a named party ("Unitree" vs "Deep Robotics") — the cases where shared words mislead. Each
story's features are prepared once, when its :class:`StoryCandidate` is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from rapidfuzz import fuzz

from tracker.ingest.identity import guid_key
from tracker.ingest.story_features import (
    LinkFeatures,
    TitleFeatures,
    article_id,
    identity_link,
    link_features,
    normalise_title,
    strip_publisher,
    title_features,
)

__all__ = [
    "DEFAULT_WINDOW_DAYS", "SIMILARITY_THRESHOLD", "HasTitle", "StoryCandidate", "StoryMatch",
    "find_story", "match_story", "normalise_title", "similarity", "strip_publisher",
]

#: Titles at or above this similarity (0..1) within the window are one story. Chosen on the
#: cases in tests/ingest/test_stories.py: syndicated rewrites score 0.9+, different events
#: with shared words score under 0.8.
SIMILARITY_THRESHOLD = 0.85
DEFAULT_WINDOW_DAYS = 14


class HasTitle(Protocol):
    """What :func:`match_story` needs from an item (parse.Item satisfies it; a ``guid``
    attribute, when present, is identity evidence too)."""

    @property
    def title(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def published(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A known story to match against: its first title, its links and first publication.

    Its comparable title and link evidence are prepared on construction, so matching many
    items against it never repeats that work.
    """

    story_id: str
    title: str
    links: frozenset[str]
    published: datetime
    item_keys: frozenset[str] = field(default=frozenset())
    prepared_title: TitleFeatures = field(init=False, repr=False, compare=False)
    prepared_links: LinkFeatures = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prepared_title", title_features(self.title))
        object.__setattr__(self, "prepared_links", link_features(self.links))


@dataclass(frozen=True, slots=True)
class StoryMatch:
    """The story an item joins (None: a new one), how similar, and the evidence why."""

    story_id: str | None
    similarity: float
    reason: str


def _score(a: TitleFeatures, b: TitleFeatures) -> float:
    if not a.text or not b.text:
        return 0.0
    if a.cjk or b.cjk:
        base = (fuzz.ratio(a.chars, b.chars)
                + fuzz.token_set_ratio(a.spaced_chars, b.spaced_chars, processor=None)) / 2
    else:
        base = (fuzz.token_set_ratio(a.text, b.text, processor=None)
                + fuzz.ratio(a.sorted_text, b.sorted_text)) / 2
    if a.numbers and b.numbers and a.numbers != b.numbers:
        base *= 0.6
    if a.events and b.events and not a.events & b.events:
        base *= 0.8
    if a.unmatched_names(b) and b.unmatched_names(a):
        base *= 0.85
    return round(min(max(base / 100.0, 0.0), 1.0), 4)


def similarity(a: str, b: str) -> float:
    """How alike two titles are, 0..1 (1 = same words once normalised and folded)."""
    return _score(title_features(a), title_features(b))


def _may_share_words(a: TitleFeatures, b: TitleFeatures) -> bool:
    """A cheap block before fuzzy scoring: titles with no word or character in common."""
    return bool(a.tokens & b.tokens or a.char_set & b.char_set)


def _title_reason(score: float, a: TitleFeatures, b: TitleFeatures) -> str:
    changes = list(dict.fromkeys(a.changes + b.changes))
    note = f" ({', '.join(changes)})" if changes else ""
    if a.text == b.text:
        return f"same headline after normalisation{note}"
    return f"title similarity {score:.2f}{note}"


def _item_keys(item: HasTitle) -> frozenset[str]:
    guid = getattr(item, "guid", None)
    return frozenset({guid_key(guid)}) if isinstance(guid, str) and guid.strip() else frozenset()


def find_story(
    item: HasTitle,
    candidates: Iterable[StoryCandidate],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = SIMILARITY_THRESHOLD,
) -> StoryMatch:
    """The story ``item`` belongs to, with the evidence, strongest first: a shared guid or
    canonical link (whatever the dates), then the same article id on one site, then the most
    similar title published within ``window_days`` reaching ``threshold`` (ties go to the
    most recent story). No match reports the best similarity seen."""
    link = identity_link(item.link)
    article = article_id(item.link)
    keys = _item_keys(item)
    features = title_features(item.title)
    window = timedelta(days=window_days)
    by_article: StoryMatch | None = None
    best_id: str | None = None
    best = 0.0
    best_published: datetime | None = None
    best_features: TitleFeatures | None = None
    for candidate in candidates:
        if keys & candidate.item_keys:
            return StoryMatch(candidate.story_id, 1.0, "same guid")
        if link and link in candidate.prepared_links.links:
            return StoryMatch(candidate.story_id, 1.0, "same link")
        if article and by_article is None and article in candidate.prepared_links.article_ids:
            by_article = StoryMatch(candidate.story_id, 1.0, f"same article id {article}")
        if abs(item.published - candidate.published) > window \
                or not _may_share_words(features, candidate.prepared_title):
            continue
        score = _score(features, candidate.prepared_title)
        if score > best or (score == best and best_published is not None
                            and candidate.published > best_published):
            best, best_id, best_published = score, candidate.story_id, candidate.published
            best_features = candidate.prepared_title
    if by_article is not None:
        return by_article
    if best_id is not None and best_features is not None and best >= threshold:
        return StoryMatch(best_id, best, _title_reason(best, features, best_features))
    return StoryMatch(None, best, f"no story within {window_days} days reaches {threshold}")


def match_story(
    item: HasTitle,
    candidates: Iterable[StoryCandidate],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = SIMILARITY_THRESHOLD,
) -> tuple[str | None, float]:
    """(story_id, similarity) of the story ``item`` belongs to, or (None, best similarity):
    :func:`find_story` without its evidence."""
    found = find_story(item, candidates, window_days=window_days, threshold=threshold)
    return found.story_id, found.similarity
