"""Group items from many feeds into stories, so one event reported five times is one story.

Evidence is weighed strongest first, and every match says which evidence decided it:

1. the same guid or canonical link (never an aggregator's redirect link), whatever the dates;
2. the same article id on one site, cross-listed under another section path;
3. an aggregator's copy of a publisher's article: the item's ``<source url>`` names a site
   the story already carries, and the title (publisher suffix stripped) agrees
   (:data:`SOURCE_THRESHOLD`);
4. titles similar enough (:data:`SIMILARITY_THRESHOLD`) within a window of each other, after
   re-issue markers, publisher tags and Traditional/Simplified script are set aside;
5. the same event in other words or another language, by event signature: published within
   :data:`EVENT_WINDOW` of the story, naming at least :data:`EVENT_MIN_ENTITIES` of the same
   dossier entities (through the alias table) and a key number with its unit (12 firms = 12家,
   HK$2.3 billion = 23亿港元), or the same stock code; headlines giving different numbers of
   one unit (12 firms, 40 firms) never match this way. Without a key number: one publisher's
   release in the other language within :data:`SIBLING_WINDOW` on the same site, or the same
   act in both headlines (agree, sign, launch, visit, extend...) by the same named party
   within 48 hours, or by three dossier entities within :data:`EVENT_BODY_WINDOW`.

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
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from tracker.ingest.identity import guid_key
from tracker.ingest.story_features import (
    ENTITY_CHARS,
    ENTITY_WORDS,
    EventSignature,
    LinkFeatures,
    TitleFeatures,
    article_id,
    event_signature,
    identity_link,
    link_features,
    normalise_title,
    site_of,
    strip_publisher,
    title_features,
)

__all__ = [
    "DEFAULT_WINDOW_DAYS", "EVENT_MIN_ENTITIES", "EVENT_WINDOW", "SIMILARITY_THRESHOLD",
    "SOURCE_THRESHOLD", "HasTitle", "StoryCandidate", "StoryMatch",
    "find_story", "match_story", "normalise_title", "similarity", "strip_publisher",
]

#: Titles at or above this similarity (0..1) within the window are one story. Chosen on the
#: cases in tests/ingest/test_matching.py: syndicated rewrites score 0.9+, different events
#: with shared words score under 0.8.
SIMILARITY_THRESHOLD = 0.85
DEFAULT_WINDOW_DAYS = 14
#: An aggregator's item whose source site the story carries needs only this similarity.
SOURCE_THRESHOLD = 0.75
#: One event's write-ups come out within two days of each other.
EVENT_WINDOW = timedelta(hours=48)
#: A key number found only in a lede (not in both headlines) must come within one news
#: cycle of the story: a reaction next day repeats the figures of the news it follows.
EVENT_BODY_WINDOW = timedelta(hours=18)
EVENT_MIN_ENTITIES = 2
#: A publisher's releases of one announcement in two languages come out together.
SIBLING_WINDOW = timedelta(minutes=15)


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
    #: The first item's lede, when known: with the title, the story's event signature.
    summary: str = ""
    prepared_title: TitleFeatures = field(init=False, repr=False, compare=False)
    prepared_links: LinkFeatures = field(init=False, repr=False, compare=False)
    prepared_signature: EventSignature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prepared_title", title_features(self.title))
        object.__setattr__(self, "prepared_links", link_features(self.links))
        object.__setattr__(self, "prepared_signature",
                           event_signature(self.title, self.summary, self.published))


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
    if _only_dossier_names_shared(a, b):
        base *= 0.7
    return round(min(max(base / 100.0, 0.0), 1.0), 4)


def _only_dossier_names_shared(a: TitleFeatures, b: TitleFeatures) -> bool:
    """Both titles say something beyond the dossier's names (Hong Kong, Zhejiang, the supply
    chain mechanism) and share none of it: "...mechanism launched" and "...mechanism:
    opportunities for legal services" agree on the topic, not on an event."""
    if a.cjk or b.cjk:
        mine, theirs = a.char_set - ENTITY_CHARS, b.char_set - ENTITY_CHARS
    else:
        mine, theirs = a.tokens - ENTITY_WORDS, b.tokens - ENTITY_WORDS
    return bool(mine) and bool(theirs) and not mine & theirs


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


def _source_host(item: HasTitle) -> str | None:
    """The publisher's site an aggregator names in ``<source url>`` (parse.Item.source_url)."""
    url = getattr(item, "source_url", None)
    link = identity_link(url) if isinstance(url, str) else None
    host = urlsplit(link).hostname if link else None
    return site_of(host) if host else None


def _event_evidence(item: EventSignature, story: EventSignature,
                    min_entities: int = EVENT_MIN_ENTITIES,
                    same_site: bool = False,
                    near_title: bool = False) -> tuple[int, str] | None:
    """(strength, reason) when two write-ups tell one event by signature, else None.

    A key number both headlines give is strong evidence (:data:`EVENT_WINDOW`); one found
    only in a lede is weaker (a reaction or a follow-up repeats the figures of the news it
    follows), so it takes two shared numbers within :data:`EVENT_BODY_WINDOW`. Without
    numbers: see :func:`_wordless_evidence`."""
    apart = abs(item.published - story.published)
    if apart > EVENT_WINDOW or item.conflicts(story):
        return None
    entities, numbers = item.shared(story)
    codes = sorted(v for u, v in numbers if u == "code")
    if codes:
        return 100, f"same event: stock code {codes[0]} within 48 hours"
    if len(entities) < min_entities or not numbers:
        return _wordless_evidence(item, story, entities, apart, same_site, near_title)
    in_titles = item.title_numbers & story.title_numbers
    if not in_titles and (apart > EVENT_BODY_WINDOW or len(numbers) < 2):
        return _wordless_evidence(item, story, entities, apart, same_site, near_title)
    where = "both headlines" if in_titles else "headline or lede"
    shown = ", ".join(_show(unit, value) for unit, value in sorted(in_titles or numbers))
    hours = 48 if in_titles else int(EVENT_BODY_WINDOW.total_seconds() // 3600)
    return (len(entities) + 2 * len(numbers) + 10 * len(in_titles),
            f"same event: {', '.join(sorted(entities))}; {shown} in {where}; "
            f"within {hours} hours")


def _wordless_evidence(item: EventSignature, story: EventSignature, entities: frozenset[str],
                       apart: timedelta, same_site: bool,
                       near_title: bool) -> tuple[int, str] | None:
    """An event told without key numbers, when headlines share no words (another language):

    - one publisher's releases in two languages: the same site, within
      :data:`SIBLING_WINDOW`, one headline Chinese and one not, two dossier entities shared;
    - headlines telling the same act (agree, sign, launch, file, visit, meet, extend,
      conclude...) and no other, with the same parties: a named party beyond the dossier's
      topic (a company, a person, a body) within :data:`EVENT_WINDOW`, or three entities
      within :data:`EVENT_BODY_WINDOW` (a day's news, not the next day's act of one kind).
      Not for a headline in the story's language that nearly matches its title
      (``near_title``): whether that is a copy is for the title thresholds to say.
    """
    if len(entities) < EVENT_MIN_ENTITIES or item.conflicts(story, anywhere=True):
        return None
    names = ", ".join(sorted(entities))
    if same_site and item.cjk != story.cjk and apart <= SIBLING_WINDOW:
        minutes = int(SIBLING_WINDOW.total_seconds() // 60)
        return (50 + len(entities),
                f"same event: one publisher's release in two languages within {minutes} "
                f"minutes; {names}")
    if near_title and item.cjk == story.cjk or not item.actions \
            or item.actions != story.actions:
        return None
    distinctive = item.distinctive & story.distinctive
    if distinctive:
        return (20 + len(entities),
                f"same event: same act and {', '.join(sorted(distinctive))}; {names}; "
                f"within 48 hours")
    if len(entities) >= 3 and apart <= EVENT_BODY_WINDOW:
        hours = int(EVENT_BODY_WINDOW.total_seconds() // 3600)
        return 10 + len(entities), f"same event: same act; {names}; within {hours} hours"
    return None


def _show(unit: str, value: str) -> str:
    if unit in ("HK$", "US$", "RMB"):
        return f"{unit}{value}"
    return value if unit in ("", "date") else f"{value} {unit}"


def find_story(
    item: HasTitle,
    candidates: Iterable[StoryCandidate],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    threshold: float = SIMILARITY_THRESHOLD,
) -> StoryMatch:
    """The story ``item`` belongs to, with the evidence, strongest first: a shared guid or
    canonical link (whatever the dates), then the same article id on one site, then the most
    similar title published within ``window_days`` reaching ``threshold`` (:data:`
    SOURCE_THRESHOLD` for an aggregator's copy of a site the story carries; ties go to the
    most recent story), then the same event by signature (the most shared evidence; ties go
    to the earliest story, the event's first report). No match reports the best similarity
    seen."""
    link = identity_link(item.link)
    article = article_id(item.link)
    keys = _item_keys(item)
    features = title_features(item.title)
    source = _source_host(item)
    summary = getattr(item, "summary", "")
    signature = event_signature(item.title, summary if isinstance(summary, str) else "",
                                item.published)
    window = timedelta(days=window_days)
    item_link_host = urlsplit(link).hostname if link else None
    site = site_of(item_link_host) if item_link_host else None
    by_article: StoryMatch | None = None
    by_source: StoryMatch | None = None
    by_event: tuple[int, datetime, StoryCandidate, str] | None = None
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
        if abs(item.published - candidate.published) > window:
            continue
        shares_words = _may_share_words(features, candidate.prepared_title)
        score = _score(features, candidate.prepared_title) if shares_words else 0.0
        story_signature = candidate.prepared_signature
        if story_signature.entities & signature.entities \
                or story_signature.numbers & signature.numbers:  # block: nothing in common
            # an aggregator's copy of a site the story carries needs one entity less
            evidence = _event_evidence(
                signature, story_signature,
                EVENT_MIN_ENTITIES - (source in candidate.prepared_links.sites),
                same_site=site is not None and site in candidate.prepared_links.sites,
                near_title=score >= SOURCE_THRESHOLD)
            # ties go to the event's first story, so copies met in any order land together
            if evidence is not None and (by_event is None or evidence[0] > by_event[0] or (
                    evidence[0] == by_event[0] and candidate.published < by_event[1])):
                by_event = (evidence[0], candidate.published, candidate, evidence[1])
        if not shares_words:
            continue
        if source and score >= SOURCE_THRESHOLD and source in candidate.prepared_links.sites \
                and (by_source is None or score > by_source.similarity):
            by_source = StoryMatch(candidate.story_id, score,
                                   f"aggregator copy of {source}'s article, title "
                                   f"similarity {score:.2f}")
        if score > best or (score == best and best_published is not None
                            and candidate.published > best_published):
            best, best_id, best_published = score, candidate.story_id, candidate.published
            best_features = candidate.prepared_title
    if by_article is not None:
        return by_article
    if best_id is not None and best_features is not None and best >= threshold:
        return StoryMatch(best_id, best, _title_reason(best, features, best_features))
    if by_source is not None:
        return by_source
    if by_event is not None:
        story = by_event[2]
        return StoryMatch(story.story_id, _score(features, story.prepared_title), by_event[3])
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
