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
   within 48 hours, or two named parties together within :data:`EVENT_BODY_WINDOW` when no
   headline tells another act, or the same act by three dossier entities within
   :data:`EVENT_BODY_WINDOW`;
6. a recap (a newsletter, a client alert) dated to the day the story broke, within
   :data:`EVENT_RECAP_WINDOW`.

A story is compared through every headline it carries (its members), its first report's lede
too. When an item ties strongly to two stories begun within :data:`EVENT_WINDOW` of each other,
:func:`joining_story` names the second, and ingest joins them (``story.merged``).

Title similarity is rapidfuzz's token-set and token-sort ratios on normalised titles
(characters for Chinese), lowered when the titles disagree on a number ("12 firms" vs
"40 firms": two events of one kind), on what happened ("agree" vs "becomes operational"), or
on a named party ("Unitree" vs "Deep Robotics") — the cases where shared words mislead. Each
story's features are prepared once, when its :class:`StoryCandidate` is built.

The event-signature rules (5 and 6) live in :mod:`tracker.ingest.event_evidence`, and the
index that narrows which stories an item is weighed against in
:mod:`tracker.ingest.story_index`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from rapidfuzz import fuzz

from tracker.ingest.event_evidence import (
    EVENT_MIN_ENTITIES,
    EVENT_WINDOW,
    Evidence,
    days_around,
    event_evidence,
)
from tracker.ingest.identity import guid_key
from tracker.ingest.story_features import (
    ENTITY_CHARS,
    ENTITY_WORDS,
    EventSignature,
    LinkFeatures,
    TitleFeatures,
    event_signature,
    link_features,
    normalise_title,
    strip_publisher,
    title_features,
    url_facts,
)

__all__ = [
    "DEFAULT_WINDOW_DAYS", "SIMILARITY_THRESHOLD", "SOURCE_THRESHOLD", "HasTitle",
    "StoryCandidate", "StoryMatch", "StoryMember", "find_story", "item_keys", "item_signature",
    "joining_story", "match_story", "normalise_title", "similarity", "strip_publisher",
]

#: Titles at or above this similarity (0..1) within the window are one story. Chosen on the
#: cases in tests/ingest/test_matching.py: syndicated rewrites score 0.9+, different events
#: with shared words score under 0.8.
SIMILARITY_THRESHOLD = 0.85
DEFAULT_WINDOW_DAYS = 14
#: An aggregator's item whose source site the story carries needs only this similarity.
SOURCE_THRESHOLD = 0.75


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
class StoryMember:
    """A later write-up a story carries: its headline is evidence too, so an item that tells
    the event as the third outlet did joins the story the first outlet began. Its lede is
    not: a lede repeats the figures of the news it follows, and a story that grew by ledes
    would drift from one event to the reactions to it."""

    title: str
    published: datetime


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A known story to match against: its first title, its links and first publication, and
    the write-ups that joined it since (``members``).

    Its comparable title, link and event evidence are prepared on construction, so matching
    many items against it never repeats that work.
    """

    story_id: str
    title: str
    links: frozenset[str]
    published: datetime
    item_keys: frozenset[str] = field(default=frozenset())
    #: The first item's lede, when known: with the title, the story's event signature.
    summary: str = ""
    members: tuple[StoryMember, ...] = ()
    #: An analyst made this story (a split): no automatic join takes it back.
    pinned: bool = False
    prepared_title: TitleFeatures = field(init=False, repr=False, compare=False)
    prepared_links: LinkFeatures = field(init=False, repr=False, compare=False)
    prepared_signature: EventSignature = field(init=False, repr=False, compare=False)
    #: (title, signature) of the first write-up and of every member.
    prepared_faces: tuple[tuple[TitleFeatures, EventSignature], ...] = field(
        init=False, repr=False, compare=False)
    #: When the earliest write-up came out, and the days ("MM-DD") around it a recap dates.
    prepared_started: datetime = field(init=False, repr=False, compare=False)
    prepared_recap_days: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first = (title_features(self.title),
                 event_signature(self.title, self.summary, self.published))
        object.__setattr__(self, "prepared_title", first[0])
        object.__setattr__(self, "prepared_links", link_features(self.links))
        object.__setattr__(self, "prepared_signature", first[1])
        faces = {first[0].text: first}
        for member in sorted(self.members, key=lambda m: m.published):
            headline = title_features(member.title)
            if headline.text not in faces:  # a copy's headline adds no evidence
                faces[headline.text] = (headline,
                                        event_signature(member.title, "", member.published))
        object.__setattr__(self, "prepared_faces", tuple(faces.values()))
        self._set_started(min([self.published, *(m.published for m in self.members)]))

    def _set_started(self, started: datetime) -> None:
        object.__setattr__(self, "prepared_started", started)
        object.__setattr__(self, "prepared_recap_days", days_around(started))

    @property
    def started(self) -> datetime:
        """When the story's earliest write-up came out (a copy met first may be a later one)."""
        return self.prepared_started

    def joined(self, title: str, published: datetime, link: str | None = None,
               item_key: str | None = None) -> StoryCandidate:
        """This story with one more write-up.

        What is prepared grows by the new write-up alone when it is the latest (the usual
        case); a write-up older than one the story holds reorders the faces, which are then
        prepared again whole."""
        links = self.links | {link} if link and link not in self.links else self.links
        item_keys = self.item_keys | {item_key} if item_key and item_key not in self.item_keys \
            else self.item_keys
        members = self.members + (StoryMember(title, published),)
        if any(m.published > published for m in self.members):
            return replace(self, links=links, item_keys=item_keys, members=members)
        grown: StoryCandidate = object.__new__(StoryCandidate)
        for name in ("story_id", "title", "published", "summary", "pinned",
                     "prepared_title", "prepared_signature"):
            object.__setattr__(grown, name, getattr(self, name))
        object.__setattr__(grown, "links", links)
        object.__setattr__(grown, "item_keys", item_keys)
        object.__setattr__(grown, "members", members)
        object.__setattr__(grown, "prepared_links", self.prepared_links.with_url(link))
        headline = title_features(title)
        faces = self.prepared_faces
        if all(face.text != headline.text for face, _signature in faces):
            faces += ((headline, event_signature(title, "", published)),)
        object.__setattr__(grown, "prepared_faces", faces)
        if published < self.prepared_started:
            grown._set_started(published)
        else:
            object.__setattr__(grown, "prepared_started", self.prepared_started)
            object.__setattr__(grown, "prepared_recap_days", self.prepared_recap_days)
        return grown


@dataclass(frozen=True, slots=True)
class StoryMatch:
    """The story an item joins (None: a new one), how similar, and the evidence why.

    ``strong``: evidence that alone ties two write-ups to one event (identity, a near-copy
    headline, a key number both headlines give, a stock code, one publisher's two languages,
    the same act by the same named party); weak evidence (lede numbers, shared topic
    entities) may place an item but never joins two stories (see :func:`joining_story`)."""

    story_id: str | None
    similarity: float
    reason: str
    strong: bool = True


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


def _best_face(features: TitleFeatures,
               candidate: StoryCandidate) -> tuple[float, TitleFeatures | None]:
    """The most similar headline the story carries (None: none shares a word)."""
    best, face = 0.0, None
    for title, _signature in candidate.prepared_faces:
        if _may_share_words(features, title):
            score = _score(features, title)
            if face is None or score > best:
                best, face = score, title
    return best, face


def _title_reason(score: float, a: TitleFeatures, b: TitleFeatures) -> str:
    changes = list(dict.fromkeys(a.changes + b.changes))
    note = f" ({', '.join(changes)})" if changes else ""
    if a.text == b.text:
        return f"same headline after normalisation{note}"
    return f"title similarity {score:.2f}{note}"


def item_keys(item: HasTitle) -> frozenset[str]:
    guid = getattr(item, "guid", None)
    return frozenset({guid_key(guid)}) if isinstance(guid, str) and guid.strip() else frozenset()


def _source_host(item: HasTitle) -> str | None:
    """The publisher's site an aggregator names in ``<source url>`` (parse.Item.source_url)."""
    url = getattr(item, "source_url", None)
    return url_facts(url)[2] if isinstance(url, str) else None


def item_signature(item: HasTitle) -> EventSignature:
    """The event signature of an item: its title, and its lede when it has one."""
    summary = getattr(item, "summary", "")
    return event_signature(item.title, summary if isinstance(summary, str) else "",
                           item.published)


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
    link, article, site = url_facts(item.link)
    keys = item_keys(item)
    features = title_features(item.title)
    source = _source_host(item)
    signature = item_signature(item)
    window = timedelta(days=window_days)
    by_article: StoryMatch | None = None
    by_source: StoryMatch | None = None
    by_event: tuple[int, datetime, StoryCandidate, Evidence] | None = None
    best_id: str | None = None
    best = 0.0
    best_published: datetime | None = None
    best_features: TitleFeatures | None = None
    for candidate in candidates:
        if keys and not keys.isdisjoint(candidate.item_keys):
            return StoryMatch(candidate.story_id, 1.0, "same guid")
        links = candidate.prepared_links
        if link and link in links.links:
            return StoryMatch(candidate.story_id, 1.0, "same link")
        if article and by_article is None and article in links.article_ids:
            by_article = StoryMatch(candidate.story_id, 1.0, f"same article id {article}")
        if abs(item.published - candidate.published) > window:
            continue
        score, face = _best_face(features, candidate)
        same_site = site is not None and site in links.sites
        # an aggregator's copy of a site the story carries needs one entity less
        min_entities = EVENT_MIN_ENTITIES - (source in links.sites)
        started = candidate.prepared_started
        for index, (_title, story_signature) in enumerate(candidate.prepared_faces):
            if story_signature.entities.isdisjoint(signature.entities) \
                    and story_signature.numbers.isdisjoint(signature.numbers):
                continue  # block: nothing shared
            if index and (abs(item.published - story_signature.published) > EVENT_WINDOW
                          or signature.conflicts(story_signature)):
                continue  # a later write-up: only close evidence, which these rule out
            evidence = event_evidence(signature, story_signature, min_entities,
                                       same_site=same_site,
                                       near_title=score >= SOURCE_THRESHOLD,
                                       story_start=started,
                                       first_report=index == 0,
                                       recap_days=candidate.prepared_recap_days)
            # ties go to the event's first story, so copies met in any order land together
            if evidence is not None and (by_event is None or evidence[0] > by_event[0] or (
                    evidence[0] == by_event[0] and candidate.published < by_event[1])):
                by_event = (evidence.strength, candidate.published, candidate, evidence)
        if face is None:
            continue
        if source and score >= SOURCE_THRESHOLD and source in candidate.prepared_links.sites \
                and (by_source is None or score > by_source.similarity):
            by_source = StoryMatch(candidate.story_id, score,
                                   f"aggregator copy of {source}'s article, title "
                                   f"similarity {score:.2f}")
        if score > best or (score == best and best_published is not None
                            and candidate.published > best_published):
            best, best_id, best_published = score, candidate.story_id, candidate.published
            best_features = face
    if by_article is not None:
        return by_article
    if best_id is not None and best_features is not None and best >= threshold:
        return StoryMatch(best_id, best, _title_reason(best, features, best_features))
    if by_source is not None:
        return by_source
    if by_event is not None:
        story = by_event[2]
        return StoryMatch(story.story_id, _score(features, story.prepared_title),
                          by_event[3].reason, by_event[3].strong)
    return StoryMatch(None, best, f"no story within {window_days} days reaches {threshold}",
                      False)


def joining_story(item: HasTitle, candidates: Iterable[StoryCandidate], found: StoryMatch,
                  *, window_days: int = DEFAULT_WINDOW_DAYS,
                  likely: Iterable[StoryCandidate] | None = None,
                  of_story: Callable[[str], list[StoryCandidate]] | None = None,
                  ) -> StoryMatch | None:
    """Another story ``item`` ties to as strongly as to the one it ``found``: later evidence
    that two stories begun apart (an English wire and a Chinese paper, each with its own
    copies) tell one event, so they become one. Both ties must be strong, the two stories
    must have begun within :data:`EVENT_WINDOW` of each other and not disagree on a headline
    number, and neither may be an analyst's split. ``likely``: the candidates a
    :class:`StoryIndex` found the item may match (the second story is one of them);
    ``of_story``: the candidates of one story (:meth:`StoryIndex.of_story`), so that
    ``candidates`` is not read through."""
    if found.story_id is None or not found.strong:
        return None
    pool = list(candidates) if of_story is None or likely is None else []

    def story(story_id: str) -> list[StoryCandidate]:
        if of_story is not None:
            return of_story(story_id)
        return [c for c in pool if c.story_id == story_id]

    mine = story(found.story_id)
    if not mine or any(c.pinned for c in mine):
        return None
    first = min(mine, key=lambda c: c.published)
    others = [c for c in (pool if likely is None else likely)
              if c.story_id != found.story_id and not c.pinned
              and abs(c.published - first.published) <= EVENT_WINDOW
              and not c.prepared_signature.conflicts(first.prepared_signature)]
    if not others:
        return None
    second = find_story(item, others, window_days=window_days)
    if second.story_id is None or not second.strong \
            or any(c.pinned for c in story(second.story_id)):
        return None
    return second


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
