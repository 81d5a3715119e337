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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar
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
    "SOURCE_THRESHOLD", "HasTitle", "StoryCandidate", "StoryIndex", "StoryMatch",
    "StoryMember", "find_story", "joining_story", "match_story", "normalise_title",
    "similarity", "strip_publisher",
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
#: A recap (a weekly newsletter, a client alert) comes out within a week of the event it dates.
EVENT_RECAP_WINDOW = timedelta(days=7)
#: A publisher's releases of one announcement in two languages come out together.
SIBLING_WINDOW = timedelta(minutes=15)


_K = TypeVar("_K")
_V = TypeVar("_V")


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
        object.__setattr__(self, "prepared_recap_days", frozenset(
            (started + timedelta(days=d)).strftime("%m-%d") for d in (-1, 0, 1)))

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


class _Evidence(NamedTuple):
    strength: int
    reason: str
    strong: bool


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
                    near_title: bool = False,
                    story_start: datetime | None = None,
                    first_report: bool = True,
                    recap_days: frozenset[str] | None = None) -> _Evidence | None:
    """(strength, reason) when two write-ups tell one event by signature, else None.

    A key number both headlines give is strong evidence (:data:`EVENT_WINDOW`); one found
    only in a lede is weaker (a reaction or a follow-up repeats the figures of the news it
    follows), so it takes two shared numbers, one of them in a headline, or three anywhere,
    within :data:`EVENT_BODY_WINDOW` of the story's
    first report (``story_start``), and only against that report: ``story`` may be a later
    write-up the story carries, and a reaction's lede repeats the figures of every write-up of
    the news it reacts to. Without numbers: see :func:`_wordless_evidence`. ``recap_days``:
    the days around ``story_start`` (:attr:`StoryCandidate.prepared_recap_days`)."""
    apart = abs(item.published - story.published)
    since_start = apart if story_start is None else abs(item.published - story_start)
    found = None
    if apart <= EVENT_WINDOW and not item.conflicts(story):
        found = _close_evidence(item, story, min_entities, same_site, near_title, apart,
                                since_start, first_report)
    if found is None and first_report and story_start is not None:
        return _recap_evidence(item, story, story_start, since_start, recap_days)
    return found


def _close_evidence(item: EventSignature, story: EventSignature, min_entities: int,
                    same_site: bool, near_title: bool, apart: timedelta,
                    since_start: timedelta, first_report: bool) -> _Evidence | None:
    entities, numbers = item.shared(story)
    codes = sorted(v for u, v in numbers if u == "code")
    if codes:
        return _Evidence(100, f"same event: stock code {codes[0]} within 48 hours", True)
    if len(entities) < min_entities or not numbers:
        return _wordless_evidence(item, story, entities, apart, since_start, same_site,
                                  near_title)
    in_titles = item.title_numbers & story.title_numbers
    headlined = numbers & (item.title_numbers | story.title_numbers)
    if not in_titles and (since_start > EVENT_BODY_WINDOW or not first_report
                          or len(numbers) < (2 if headlined else 3)):
        return _wordless_evidence(item, story, entities, apart, since_start, same_site,
                                  near_title)
    where = "both headlines" if in_titles else "headline or lede"
    shown = ", ".join(_show(unit, value) for unit, value in sorted(in_titles or numbers))
    hours = 48 if in_titles else int(EVENT_BODY_WINDOW.total_seconds() // 3600)
    return _Evidence(len(entities) + 2 * len(numbers) + 10 * len(in_titles),
                     f"same event: {', '.join(sorted(entities))}; {shown} in {where}; "
                     f"within {hours} hours", bool(in_titles))


def _wordless_evidence(item: EventSignature, story: EventSignature, entities: frozenset[str],
                       apart: timedelta, since_start: timedelta, same_site: bool,
                       near_title: bool) -> _Evidence | None:
    """An event told without key numbers, when headlines share no words (another language):

    - one publisher's releases in two languages: the same site, within
      :data:`SIBLING_WINDOW`, one headline Chinese and one not, two dossier entities shared;
    - headlines telling the same act (agree, sign, launch, file, visit, meet, extend,
      conclude...) and no other, with the same parties: a named party beyond the dossier's
      topic (a company, a person, a body) within :data:`EVENT_WINDOW`, or three entities
      within :data:`EVENT_BODY_WINDOW` of the story's first report (a day's news, not the
      next day's act of one kind).
      Not for a headline in the story's language that nearly matches its title
      (``near_title``): whether that is a copy is for the title thresholds to say.
    """
    if len(entities) < EVENT_MIN_ENTITIES or item.conflicts(story, anywhere=True):
        return None
    names = ", ".join(sorted(entities))
    if same_site and item.cjk != story.cjk and apart <= SIBLING_WINDOW:
        minutes = int(SIBLING_WINDOW.total_seconds() // 60)
        return _Evidence(50 + len(entities),
                         f"same event: one publisher's release in two languages within "
                         f"{minutes} minutes; {names}", True)
    if near_title and item.cjk == story.cjk:
        return None
    distinctive = item.distinctive & story.distinctive
    same_act = bool(item.actions) and item.actions == story.actions
    hours = int(EVENT_BODY_WINDOW.total_seconds() // 3600)
    if same_act and distinctive:
        return _Evidence(20 + len(entities),
                         f"same event: same act and {', '.join(sorted(distinctive))}; "
                         f"{names}; within 48 hours", True)
    if len(distinctive) >= 2 and since_start <= EVENT_BODY_WINDOW \
            and not (item.actions and story.actions and not same_act):
        return _Evidence(15 + len(entities),
                         f"same event: {', '.join(sorted(distinctive))} together; {names}; "
                         f"within {hours} hours", True)
    if same_act and len(entities) >= 3 and since_start <= EVENT_BODY_WINDOW:
        return _Evidence(10 + len(entities),
                         f"same event: same act; {names}; within {hours} hours", False)
    return None


def _recap_evidence(item: EventSignature, story: EventSignature, story_start: datetime,
                    since_start: timedelta,
                    recap_days: frozenset[str] | None = None) -> _Evidence | None:
    """A later recap of the event (a weekly newsletter, a client alert): it dates what it tells
    to the day the story broke, within :data:`EVENT_RECAP_WINDOW` of the story's first report,
    or to a date that report gives ("effective May 14") within :data:`EVENT_WINDOW` (later, that
    date is news of its own: the cut taking effect), and names a party of the story beyond the
    dossier's topic; no number or act of its own disagrees."""
    if since_start > EVENT_RECAP_WINDOW or not item.dates_named:  # no date: nothing recapped
        return None
    distinctive = item.distinctive & story.distinctive
    entities = item.entities & story.entities
    if not distinctive or len(entities) < EVENT_MIN_ENTITIES \
            or item.actions and story.actions and not item.actions & story.actions \
            or item.conflicts(story, anywhere=True):
        return None
    broke = recap_days if recap_days is not None else frozenset(
        (story_start + timedelta(days=d)).strftime("%m-%d") for d in (-1, 0, 1))
    dated = sorted(item.key_dates & broke
                   | (item.dates_named & story.key_dates if since_start <= EVENT_WINDOW
                      else frozenset()))
    if not dated:
        return None
    month, day = dated[0].split("-")
    days = EVENT_RECAP_WINDOW.days
    return _Evidence(5 + len(entities),
                     f"same event, recapped: dated {int(day)}/{int(month)} as the story is; "
                     f"{', '.join(sorted(entities))}; within {days} days", False)


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
    by_event: tuple[int, datetime, StoryCandidate, _Evidence] | None = None
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
            evidence = _event_evidence(signature, story_signature, min_entities,
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


# -- the candidate index ----------------------------------------------------------------------

#: A story's face (its first write-up, or a later headline) as the index holds it.
_Face = tuple[TitleFeatures, EventSignature, bool]
#: Close evidence needs the write-ups within EVENT_WINDOW (two days): faces are indexed by the
#: day they came out, and this many days either side are looked at (a day more for datetimes
#: in other zones).
_NEAR_DAYS = 3


def _add(postings: dict[_K, set[_V]], key: _K, value: _V) -> None:
    found = postings.get(key)
    if found is None:
        postings[key] = {value}
    else:
        found.add(value)


def _drop(postings: dict[_K, set[_V]], key: _K, value: _V) -> None:
    found = postings.get(key)
    if found is not None:
        found.discard(value)
        if not found:
            del postings[key]


def _union(postings: Mapping[_K, set[int]], keys: Iterable[_K]) -> set[int]:
    out: set[int] = set()
    for key in keys:
        found = postings.get(key)
        if found:
            out |= found
    return out


def _without_conflicts(fids: set[int], units: Mapping[str, frozenset[str]],
                       having_unit: Mapping[str, set[int]],
                       having_value: Mapping[tuple[str, str], set[int]]) -> set[int]:
    """``fids`` less the faces whose numbers conflict with ``units`` (:meth:`EventSignature.
    conflicts`: a unit both give, and no value of it in common)."""
    for unit, values in units.items():
        with_unit = having_unit.get(unit)
        if not with_unit or not fids:
            continue
        disagree = fids & with_unit
        if disagree:
            disagree -= _union(having_value, ((unit, value) for value in values))
            fids = fids - disagree
    return fids


class StoryIndex(MutableMapping[str, StoryCandidate]):
    """The candidates of a matching window (a mapping, in insertion order like a dict), with an
    inverted index of what each of their faces could match on, so that :meth:`likely` names
    the few an item may match instead of :func:`find_story` weighing every one.

    What is left out could give :func:`find_story` no evidence (at its default threshold, or
    any from :data:`SOURCE_THRESHOLD` up), by the rules that function applies:

    - identity: a shared guid, canonical link or article id (looked up);
    - title: a score of 0.75 needs a word or character in common and, when both titles give
      numbers, the same numbers (different ones cost 0.6 of the score);
    - event, close: a face within :data:`EVENT_WINDOW` whose headline numbers do not conflict;
    - event, recap: a story's first report sharing a party beyond the dossier's topic, whose
      numbers do not conflict anywhere, for an item that names a date.

    So :func:`find_story` over ``likely(item)`` gives what it gives over all of them, except
    the best similarity it reports when nothing matches. Assigning a story re-indexes it (a
    story grown by one write-up costs that write-up); :meth:`sync` brings the index to another
    mapping of stories, re-indexing only those that changed, so one index serves a whole pass.
    Not for use by two threads at once.
    """

    def __init__(self, stories: Mapping[str, StoryCandidate] | None = None) -> None:
        self._stories: dict[str, StoryCandidate] = {}
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._faces: dict[str, list[int]] = {}
        self._face: dict[int, tuple[str, _Face]] = {}
        self._next_fid = 0
        self._by_item_key: dict[str, set[str]] = {}
        self._by_story_id: dict[str, set[str]] = {}
        self._by_link: dict[str, set[str]] = {}
        self._by_article: dict[str, set[str]] = {}
        self._by_numbers: dict[frozenset[str], set[int]] = {}
        self._numberless_by_word: dict[str, set[int]] = {}
        self._by_word: dict[str, set[int]] = {}
        #: (day, the units its headline gives numbers in) -> faces; and (unit, value) -> faces
        self._by_day_units: dict[int, dict[frozenset[str], set[int]]] = {}
        self._by_title_value: dict[tuple[str, str], set[int]] = {}
        self._first_by_distinctive: dict[str, set[int]] = {}
        self._first_by_unit: dict[str, set[int]] = {}
        self._first_by_value: dict[tuple[str, str], set[int]] = {}
        if stories:
            self.sync(stories)

    # -- the mapping ---------------------------------------------------------------------

    def __getitem__(self, key: str) -> StoryCandidate:
        return self._stories[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stories)

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, key: object) -> bool:
        return key in self._stories

    def __setitem__(self, key: str, story: StoryCandidate) -> None:
        old = self._stories.get(key)
        if old is story:
            return
        if old is None:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self._index_identity(key, old, story)
        self._index_faces(key, old, story)
        self._stories[key] = story
        if old is None or old.story_id != story.story_id:
            if old is not None:
                _drop(self._by_story_id, old.story_id, key)
            _add(self._by_story_id, story.story_id, key)

    def __delitem__(self, key: str) -> None:
        old = self._stories.pop(key)
        self._index_identity(key, old, None)
        _drop(self._by_story_id, old.story_id, key)
        for fid in self._faces.pop(key, []):
            self._unindex_face(fid)
        del self._seq[key]

    def sync(self, stories: Mapping[str, StoryCandidate]) -> StoryIndex:
        """Make this index hold ``stories``, in their order, re-indexing only what changed."""
        for key in [key for key in self._stories if key not in stories]:
            del self[key]
        for key, story in stories.items():
            if self._stories.get(key) is not story:
                self[key] = story
        self._stories = {key: self._stories[key] for key in stories}
        self._seq = {key: n for n, key in enumerate(stories)}
        self._next_seq = len(stories)
        return self

    # -- lookups -------------------------------------------------------------------------

    def likely(self, item: HasTitle) -> list[StoryCandidate]:
        """The stories ``item`` may match, in this mapping's order (see the class)."""
        return [self._stories[key] for key in self.likely_keys(item)]

    def position(self, key: str) -> int:
        """Where ``key`` comes in this mapping's order (larger: later)."""
        return self._seq[key]

    def story_keys(self, story_id: str) -> list[str]:
        """The keys of the candidates of one story (its own, and those merged into it), in
        this mapping's order."""
        return sorted(self._by_story_id.get(story_id, ()), key=self._seq.__getitem__)

    def of_story(self, story_id: str) -> list[StoryCandidate]:
        """The candidates of one story, in this mapping's order."""
        return [self._stories[key] for key in self.story_keys(story_id)]

    def likely_keys(self, item: HasTitle) -> list[str]:
        """The keys of :meth:`likely`."""
        keys: set[str] = set()
        for item_key in _item_keys(item):
            keys |= self._by_item_key.get(item_key, set())
        link = identity_link(item.link)
        if link:
            keys |= self._by_link.get(link, set())
        article = article_id(item.link)
        if article:
            keys |= self._by_article.get(article, set())
        features = title_features(item.title)
        summary = getattr(item, "summary", "")
        signature = event_signature(item.title, summary if isinstance(summary, str) else "",
                                    item.published)
        fids = self._title_faces(features)
        fids |= self._close_faces(signature, item.published.toordinal())
        if signature.dates_named and signature.distinctive:
            firsts = _union(self._first_by_distinctive, signature.distinctive)
            fids |= _without_conflicts(firsts, signature.units, self._first_by_unit,
                                       self._first_by_value)
        face = self._face
        keys.update(face[fid][0] for fid in fids)
        return sorted(keys, key=self._seq.__getitem__)

    def _close_faces(self, signature: EventSignature, day: int) -> set[int]:
        """Faces out within a few days of ``day`` whose headline numbers do not conflict with
        the item's: those whose headlines give no number in a unit the item's does, whole, and
        of the others those sharing a value in each unit both give."""
        units = signature.title_units
        days = range(day - _NEAR_DAYS, day + _NEAR_DAYS + 1)
        found: set[int] = set()
        for near in days:
            groups = self._by_day_units.get(near)
            if groups:
                for given, fids in groups.items():
                    if given.isdisjoint(units):
                        found |= fids
        if units:
            agreeing = _union(self._by_title_value,
                              ((unit, value) for unit, values in units.items()
                               for value in values))
            for fid in agreeing - found:
                other = self._face[fid][1][1]
                if other.published.toordinal() in days and not signature.conflicts(other):
                    found.add(fid)
        return found

    def _title_faces(self, features: TitleFeatures) -> set[int]:
        """Faces whose title may score 0.75 against ``features``."""
        if not features.text:
            return set()
        words = features.tokens | features.char_set
        if not features.numbers:
            return _union(self._by_word, words)
        return self._by_numbers.get(features.numbers, set()) \
            | _union(self._numberless_by_word, words)

    # -- indexing ------------------------------------------------------------------------

    def _index_identity(self, key: str, old: StoryCandidate | None,
                        new: StoryCandidate | None) -> None:
        empty: frozenset[str] = frozenset()
        for postings, before, after in (
                (self._by_item_key, old.item_keys if old else empty,
                 new.item_keys if new else empty),
                (self._by_link, old.prepared_links.links if old else empty,
                 new.prepared_links.links if new else empty),
                (self._by_article, old.prepared_links.article_ids if old else empty,
                 new.prepared_links.article_ids if new else empty)):
            if before is after:
                continue
            for gone in before - after:
                found = postings.get(gone)
                if found is not None:
                    found.discard(key)
                    if not found:
                        del postings[gone]
            for came in after - before:
                postings.setdefault(came, set()).add(key)

    def _index_faces(self, key: str, old: StoryCandidate | None, new: StoryCandidate) -> None:
        fids = self._faces.get(key, [])
        faces = new.prepared_faces
        kept = 0
        if old is not None:
            before = old.prepared_faces
            if len(before) <= len(faces) and all(
                    a[0] is b[0] and a[1] is b[1] for a, b in zip(before, faces, strict=False)):
                kept = len(before)  # grown by a write-up: its earlier faces stay indexed
            else:
                for fid in fids:
                    self._unindex_face(fid)
                fids = []
        for position in range(kept, len(faces)):
            title, signature = faces[position]
            fids.append(self._index_face(key, (title, signature, position == 0)))
        self._faces[key] = fids

    def _face_keys(self, face: _Face) -> Iterator[tuple[dict[Any, set[int]], Any]]:
        title, signature, first = face
        if title.text:
            yield self._by_numbers, title.numbers
            for word in title.tokens | title.char_set:
                yield self._by_word, word
                if not title.numbers:
                    yield self._numberless_by_word, word
        for unit, values in signature.title_units.items():
            for value in values:
                yield self._by_title_value, (unit, value)
        if first:
            for party in signature.distinctive:
                yield self._first_by_distinctive, party
            for unit, values in signature.units.items():
                yield self._first_by_unit, unit
                for value in values:
                    yield self._first_by_value, (unit, value)

    def _index_face(self, key: str, face: _Face) -> int:
        fid = self._next_fid
        self._next_fid += 1
        self._face[fid] = (key, face)
        for postings, posting_key in self._face_keys(face):
            _add(postings, posting_key, fid)
        signature = face[1]
        groups = self._by_day_units.setdefault(signature.published.toordinal(), {})
        _add(groups, frozenset(signature.title_units), fid)
        return fid

    def _unindex_face(self, fid: int) -> None:
        _key, face = self._face.pop(fid)
        for postings, posting_key in self._face_keys(face):
            _drop(postings, posting_key, fid)
        day = face[1].published.toordinal()
        groups = self._by_day_units[day]
        _drop(groups, frozenset(face[1].title_units), fid)
        if not groups:
            del self._by_day_units[day]
