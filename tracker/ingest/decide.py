"""Which events a feed's items become, given what the log already knows: pure functions.

``decide(feed, items, known)`` turns parsed items, classified per policy (dossier), into new
items, revisions, classifications, stories, corroborations and facts. It reads nothing and
writes nothing: the shell (``ingest.run``, ``news.reclassify``) loads ``Known`` through the
store, calls it, drops what the log turns out to hold already (``Plan.without``) and appends
the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from tracker.catalogue import (
    FACT_EXTRACTED,
    ITEM_CLASSIFIED,
    ITEM_RECORDED,
    ITEM_REVISED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_REVISED,
    STORY_SPLIT,
)
from tracker.claims import DEFAULT_TIER
from tracker.dates import date_label, iso
from tracker.events import NewEvent, canonical_json, deterministic_id
from tracker.ingest import extract, identity, parse, relevance
from tracker.ingest.claim_text import ClaimDraft, claims_of
from tracker.ingest.matching import (
    StoryCandidate,
    StoryIndex,
    StoryMatch,
    find_story,
    joining_story,
)

STORY_WINDOW_DAYS = 14
#: What a source's date is when its feed gave none usable.
FIRST_SEEN_NOTE = "first seen: the feed gave no usable date"
#: The events a story's identity (title, links, items) is folded from.
#: Analysts' merges and splits are among them: later ingests respect them.
STORY_IDENTITY_TYPES = frozenset({STORY_CREATED, STORY_CORROBORATED, STORY_REVISED,
                                  STORY_MERGED, STORY_SPLIT})


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item with its identity, its relevance decision per policy (dossier) and, if relevant
    to any, its extracted facts."""

    item: parse.Item
    key: str
    decisions: Mapping[str, relevance.Decision]
    facts: list[extract.Fact]

    @property
    def policies(self) -> tuple[str, ...]:
        """The policies the item is relevant to: its story attaches to each."""
        return tuple(p for p, d in self.decisions.items() if d.relevant)

    @property
    def decision(self) -> relevance.Decision:
        """The one decision to show: the first relevant one (core before context), else the
        best-scoring one."""
        ranked = sorted(self.decisions.values(),
                        key=lambda d: (not d.relevant, d.tier != "core", -d.score))
        return ranked[0] if ranked else relevance.Decision(False, 0, 0, (), "")


def prepare(item: parse.Item, rules: Mapping[str, relevance.Rules]) -> Prepared:
    """Classify ``item`` under each policy's ``rules``; extract its facts if any keeps it."""
    decisions = {policy: relevance.classify(item.title, item.summary, policy_rules)
                 for policy, policy_rules in rules.items()}
    relevant = any(d.relevant for d in decisions.values())
    facts = extract.extract_facts(item.title, item.summary) if relevant else []
    return Prepared(item, identity.item_key(item), decisions, facts)


def item_record_id(feed: str, key: str) -> str:
    return deterministic_id("item", feed, key)


def item_revision_id(feed: str, key: str, content_hash: str) -> str:
    return deterministic_id("item-revision", feed, key, content_hash)


def new_story_id(feed: str, key: str) -> str:
    return "st-" + hashlib.sha256(f"{feed}\x1f{key}".encode()).hexdigest()[:12]


class _Event(Protocol):
    """What folding into ``Known`` needs: a recorded event, or one only planned (dry run)."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Known:
    """What the log knows that decides what a feed's items become.

    ``items``: stored item events (records and revisions) by event id, with their data.
    ``stories``: the stories to match against, with the latest world time each was seen.
    ``stored_ids``: ids known to be in the log (or already planned, in a dry run).
    ``position``: the last log position folded in, so the shell reads only what came after.
    ``merged_into``: stories an analyst merged, to the story they joined. A merged story stays
    in ``stories`` under its own id as a candidate naming the story it joined, so its title,
    links and items match that story.
    ``index``: the candidate index ``decide`` matches through, a cache carried from each
    ``Known`` to those derived from it (so one pass indexes each story once); it never
    changes what ``decide`` decides.
    """

    items: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stories: Mapping[str, StoryCandidate] = field(default_factory=dict)
    latest: Mapping[str, datetime] = field(default_factory=dict)
    stored_ids: frozenset[str] = frozenset()
    position: int = 0
    merged_into: Mapping[str, str] = field(default_factory=dict)
    index: StoryIndex = field(default_factory=StoryIndex, compare=False, repr=False)

    def with_items(self, found: Mapping[str, Mapping[str, Any]]) -> Known:
        return replace(self, items={**self.items, **found},
                       stored_ids=self.stored_ids | set(found))

    def with_events(self, events: Iterable[_Event], position: int | None = None) -> Known:
        """``self`` with ``events`` folded in: recorded ones (and then ``position``), or a dry
        run's planned ones, so later feeds of the pass see them."""
        stories, latest = dict(self.stories), dict(self.latest)
        merged_into = dict(self.merged_into)
        items = dict(self.items)
        ids = set(self.stored_ids)
        for event in events:
            ids.add(event.event_id)
            if event.type in STORY_IDENTITY_TYPES:
                _fold_story(stories, latest, merged_into, event)
            elif event.type in (ITEM_RECORDED, ITEM_REVISED):
                items[event.event_id] = event.data
        return Known(items, stories, latest, frozenset(ids),
                     self.position if position is None else position, merged_into, self.index)

    def candidates(self, since: datetime) -> dict[str, StoryCandidate]:
        """The stories seen in the world from ``since`` on (the matching window)."""
        return {sid: story for sid, story in self.stories.items() if self.latest[sid] >= since}

    def carries(self, item_key: str) -> bool:
        return any(item_key in story.item_keys for story in self.stories.values())


def _fold_story(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], event: _Event) -> None:
    data = event.data
    if event.type == STORY_MERGED:
        _fold_merge(stories, latest, merged_into, str(data["story_id"]), str(data["merged_id"]))
        return
    if event.type == STORY_SPLIT:
        _fold_split(stories, latest, merged_into, event)
        return
    sid = merged_into.get(str(data["story_id"]), str(data["story_id"]))
    link = data.get("url") if event.type == STORY_CREATED else data.get("link")
    old = stories.get(sid) or StoryCandidate(
        story_id=sid, title=str(data.get("title", "")), links=frozenset(),
        published=event.occurred_at, item_keys=frozenset())
    item_key = str(data["item_key"]) if data.get("item_key") else None
    if event.type == STORY_CORROBORATED:
        stories[sid] = old.joined(str(data.get("title") or ""), event.occurred_at,
                                  str(link) if link else None, item_key)
    else:
        stories[sid] = replace(
            old, title=str(data.get("title") or old.title),
            summary=str(data.get("summary") or old.summary),
            links=old.links | ({str(link)} if link else set()),
            item_keys=old.item_keys | ({item_key} if item_key else set()))
    seen = latest.get(sid)
    latest[sid] = event.occurred_at if seen is None else max(seen, event.occurred_at)


def _fold_merge(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], kept: str, merged: str) -> None:
    """Every candidate that matched ``merged`` (its own, and those merged into it before) now
    names ``kept``; they share the later of their matching windows."""
    kept = merged_into.get(kept, kept)
    for source, target in list(merged_into.items()):
        if target == merged:
            merged_into[source] = kept
    merged_into[merged] = kept
    group = [k for k, c in stories.items() if c.story_id in (kept, merged)]
    if not group:
        return
    seen = max(latest[k] for k in group)
    for key in group:
        candidate = stories[key]
        if candidate.story_id == merged:
            stories[key] = replace(candidate, story_id=kept)
        latest[key] = seen
    if kept not in stories:  # the kept story's own events fell outside the window read
        stories[kept] = stories[merged]


def _fold_split(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], event: _Event) -> None:
    """The item leaves every candidate of its old story (it never matches back there) and is
    the only item of its new story."""
    data = event.data
    old = merged_into.get(str(data["story_id"]), str(data["story_id"]))
    item_key, link = str(data["item_key"]), data.get("link")
    for key, candidate in list(stories.items()):
        if candidate.story_id == old and item_key in candidate.item_keys:
            stories[key] = replace(candidate, item_keys=candidate.item_keys - {item_key},
                                   links=candidate.links - {str(link)})
    new = str(data["new_story_id"])
    stories[new] = StoryCandidate(
        story_id=new, title=str(data.get("title") or ""),
        links=frozenset({str(link)} if link else set()), published=event.occurred_at,
        item_keys=frozenset({item_key}), pinned=True)
    latest[new] = event.occurred_at


@dataclass(frozen=True, slots=True)
class Plan:
    """The events to append, each with its stream, in append order."""

    events: tuple[tuple[str, NewEvent], ...] = ()

    def _count(self, event_type: str) -> int:
        return sum(1 for _stream, event in self.events if event.type == event_type)

    @property
    def items(self) -> int:
        return self._count(ITEM_RECORDED)

    @property
    def stories(self) -> int:
        return self._count(STORY_CREATED)

    @property
    def corroborations(self) -> int:
        return self._count(STORY_CORROBORATED)

    @property
    def revisions(self) -> int:
        return self._count(ITEM_REVISED)

    @property
    def facts(self) -> int:
        return self._count(FACT_EXTRACTED)

    @property
    def event_ids(self) -> list[str]:
        return [event.event_id for _stream, event in self.events]

    def without(self, stored: Iterable[str]) -> Plan:
        """Leave out events whose deterministic id the log holds already (a fact or a source
        that another feed's copy of the story recorded first): the log's unique key decides."""
        drop = set(stored)
        if not drop:
            return self
        return Plan(tuple((s, e) for s, e in self.events if e.event_id not in drop))

    def by_stream(self) -> dict[str, list[NewEvent]]:
        """The events grouped per stream, streams in the order they first appear."""
        out: dict[str, list[NewEvent]] = {}
        for stream, event in self.events:
            out.setdefault(stream, []).append(event)
        return out


def feed_stream(feed: str) -> str:
    return f"feed:{feed}"


def story_stream(story_id: str) -> str:
    return f"story:{story_id}"


def item_ids(feed: str, prepared: Iterable[Prepared]) -> list[str]:
    """The ids of the item events ``decide`` needs to know about (records and revisions)."""
    return [i for p in prepared for i in (item_record_id(feed, p.key),
                                          item_revision_id(feed, p.key, p.item.content_hash))]


def decide(feed: str, prepared: list[Prepared], known: Known, *, fetched_at: datetime,
           actor: str, outlet: Outlet | None = None) -> Plan:
    """The events ``prepared`` items of ``feed`` become, given ``known``.

    ``known`` must hold the item events named by ``item_ids`` that the log has, and the
    stories of the matching window before the earliest item.
    """
    if not prepared:
        return Plan()
    earliest = min(p.item.published for p in prepared)
    candidates = known.index.sync(known.candidates(earliest - timedelta(days=STORY_WINDOW_DAYS)))
    item_story = {key: c.story_id for c in candidates.values() for key in c.item_keys}
    out: list[tuple[str, NewEvent]] = []
    stream = feed_stream(feed)
    for p in prepared:
        record_id = item_record_id(feed, p.key)
        revision_id = item_revision_id(feed, p.key, p.item.content_hash)
        recorded = known.items.get(record_id)
        if recorded is None:
            out.append((stream, _item_recorded(feed, p, record_id, fetched_at, actor)))
        elif recorded.get("content_hash") == p.item.content_hash or revision_id in known.items \
                or _cut_short(p.item, recorded):
            continue
        else:
            out += _revision(feed, p, recorded, revision_id, item_story.get(p.key), actor)
        out += [(stream, _classified(feed, p, policy, actor)) for policy in p.decisions]
        if p.policies and recorded is None:
            out += _attach_story(feed, p, candidates, actor, outlet or Outlet(feed))
    return Plan(tuple(out))


def decide_story(feed: str, p: Prepared, known: Known, *, actor: str,
                 outlet: Outlet | None = None) -> Plan:
    """The story (new, or one corroborated) and facts of an item that became relevant to
    ``p.policies`` after it was recorded (``tracker reclassify``); when a story carries it
    already, only the facts those policies lack (the shell drops those the log holds)."""
    carrier = next((s.story_id for s in known.stories.values() if p.key in s.item_keys), None)
    if carrier is not None:
        meta = source_meta(actor, feed, p, carrier)
        return Plan(tuple((story_stream(carrier), event) for event in _facts_of(
            feed, p, carrier, meta, outlet or Outlet(feed))))
    candidates = known.index.sync(
        known.candidates(p.item.published - timedelta(days=STORY_WINDOW_DAYS)))
    return Plan(tuple(_attach_story(feed, p, candidates, actor, outlet or Outlet(feed))))


class StoryWorkspace:
    """``known``'s stories while a run of late attachments changes them (``tracker
    reclassify``): :meth:`attach` plans what :func:`decide_story` would plan against
    ``known`` with every earlier attachment of the run recorded and read back, but folds each
    in at once (as ``Known.with_events`` folds them) and matches through one index over every
    story, the window an item asks for being a filter on it rather than a copy. So a run is
    linear in its items, where reading ``Known`` again for each was quadratic.
    """

    def __init__(self, known: Known) -> None:
        self.stories: dict[str, StoryCandidate] = dict(known.stories)
        self.latest: dict[str, datetime] = dict(known.latest)
        self.merged_into: dict[str, str] = dict(known.merged_into)
        self.index = known.index.sync(self.stories)
        self._stored = known.stored_ids
        self._planned: set[str] = set()
        self._holders: dict[str, set[str]] = {}
        self._hold_all()

    def attach(self, feed: str, p: Prepared, *, actor: str,
               outlet: Outlet | None = None) -> Plan:
        """:func:`decide_story` for ``p``, as if everything attached before were recorded."""
        outlet = outlet or Outlet(feed)
        holders = self._holders.get(p.key)
        if holders:  # decide_story's carrier: the first story, in order, that holds the item
            carrier = self.stories[min(holders, key=self.index.position)].story_id
            meta = source_meta(actor, feed, p, carrier)
            return Plan(tuple((story_stream(carrier), event)
                              for event in _facts_of(feed, p, carrier, meta, outlet)))
        window = _Window(self, p.item.published - timedelta(days=STORY_WINDOW_DAYS))
        events = _attach_story(feed, p, window, actor, outlet)
        self._fold([event for _stream, event in events], window.written)
        return Plan(tuple(events))

    def _fold(self, events: list[NewEvent], written: Mapping[str, StoryCandidate]) -> None:
        """Fold the story events of one attachment in; what attaching wrote to the index as
        it decided (its working copy) gives way to what they fold into."""
        folded = [e for e in events if e.type in STORY_IDENTITY_TYPES
                  and e.event_id not in self._stored and e.event_id not in self._planned]
        self._planned.update(e.event_id for e in folded)
        if any(e.type in (STORY_MERGED, STORY_SPLIT) for e in folded):
            for event in folded:
                _fold_story(self.stories, self.latest, self.merged_into, event)
            self.index.sync(self.stories)
            self._hold_all()
            return
        touched = set(written)
        for event in folded:
            sid = str(event.data["story_id"])
            touched.add(self.merged_into.get(sid, sid))
        before = {key: self.stories.get(key) for key in touched}
        for event in folded:
            _fold_story(self.stories, self.latest, self.merged_into, event)
        for key in touched:
            story = self.stories.get(key)
            if story is None:
                if key in self.index:
                    del self.index[key]
                continue
            self.index[key] = story
            self._hold(key, before[key], story)

    def _hold_all(self) -> None:
        self._holders = {}
        for key, story in self.stories.items():
            for item_key in story.item_keys:
                self._holders.setdefault(item_key, set()).add(key)

    def _hold(self, key: str, old: StoryCandidate | None, new: StoryCandidate) -> None:
        before = old.item_keys if old is not None else frozenset()
        for item_key in before - new.item_keys:
            self._holders[item_key].discard(key)
        for item_key in new.item_keys - before:
            self._holders.setdefault(item_key, set()).add(key)


class _Window:
    """The stories of a workspace seen from ``since`` on (what ``Known.candidates(since)``
    gives), and the working copy attaching one item writes as it decides (kept apart from the
    workspace's stories, which fold the item's events afterwards)."""

    def __init__(self, space: StoryWorkspace, since: datetime) -> None:
        self.space = space
        self.since = since
        self.written: dict[str, StoryCandidate] = {}

    def _seen(self, key: str) -> bool:
        if key in self.written:
            return True
        latest = self.space.latest.get(key)
        return latest is not None and latest >= self.since

    def __getitem__(self, key: str) -> StoryCandidate:
        if key in self.written:
            return self.written[key]
        if not self._seen(key):
            raise KeyError(key)
        return self.space.stories[key]

    def __setitem__(self, key: str, story: StoryCandidate) -> None:
        self.written[key] = story
        self.space.index[key] = story

    def likely(self, item: parse.Item) -> list[StoryCandidate]:
        return [self[key] for key in self.space.index.likely_keys(item) if self._seen(key)]

    def story_keys(self, story_id: str) -> list[str]:
        return [key for key in self.space.index.story_keys(story_id) if self._seen(key)]

    def of_story(self, story_id: str) -> list[StoryCandidate]:
        return [self[key] for key in self.story_keys(story_id)]


class _Candidates(Protocol):
    """What attaching an item reads and writes: a :class:`StoryIndex`, or a window on one."""

    def __getitem__(self, key: str) -> StoryCandidate: ...
    def __setitem__(self, key: str, story: StoryCandidate) -> None: ...
    def likely(self, item: parse.Item) -> list[StoryCandidate]: ...
    def of_story(self, story_id: str) -> list[StoryCandidate]: ...
    def story_keys(self, story_id: str) -> list[str]: ...


def _attach_story(feed: str, p: Prepared, candidates: _Candidates,
                  actor: str, outlet: Outlet) -> list[tuple[str, NewEvent]]:
    """Attach a relevant item to its story (a new one, or one it corroborates) with its facts;
    ``candidates`` (the caller's working copy) learns it, so later items of the feed match.
    Only the stories the index finds the item may match are weighed (the same outcome)."""
    match = find_story(p.item, candidates.likely(p.item), window_days=STORY_WINDOW_DAYS)
    story_id = match.story_id
    link = {p.item.link} if p.item.link else set()
    meta = source_meta(actor, feed, p, story_id)
    if story_id is None:
        story_id = new_story_id(feed, p.key)
        meta = source_meta(actor, feed, p, story_id)
        first = NewEvent(
            STORY_CREATED,
            {"story_id": story_id, "title": p.item.title, "url": p.item.link,
             "published": iso(p.item.published),
             "published_source": p.item.published_source, "item_key": p.key, "feed": feed,
             "policy_ids": list(p.policies), "summary": p.item.summary,
             "score": p.decision.score, "matched": list(p.decision.matched)},
            p.item.published, meta=meta, event_id=deterministic_id("story", story_id))
        candidates[story_id] = StoryCandidate(
            story_id=story_id, title=p.item.title, links=frozenset(link),
            published=p.item.published, item_keys=frozenset({p.key}), summary=p.item.summary)
    else:
        first = NewEvent(
            STORY_CORROBORATED,
            {"story_id": story_id, "item_key": p.key, "feed": feed, "link": p.item.link,
             "title": p.item.title, "similarity": round(match.similarity, 3),
             "reason": match.reason, "published_source": p.item.published_source,
             "policy_ids": list(p.policies)},
            p.item.published, meta=meta,
            event_id=deterministic_id("story-source", story_id, feed, p.key))
        candidates[story_id] = candidates[story_id].joined(
            p.item.title, p.item.published, p.item.link, p.key)
    stream = story_stream(story_id)
    return [(stream, first)] + _join(p, candidates, match, actor) + [
        (stream, event) for event in _facts_of(feed, p, story_id, meta, outlet)]


def _join(p: Prepared, candidates: _Candidates, match: StoryMatch,
          actor: str) -> list[tuple[str, NewEvent]]:
    """A ``story.merged`` when the item ties its story to another begun apart (see
    :func:`matching.joining_story`): the earlier story is kept, the evidence is the note."""
    if match.story_id is None or not match.strong:
        return []
    other = joining_story(p.item, (), match, window_days=STORY_WINDOW_DAYS,
                          likely=candidates.likely(p.item), of_story=candidates.of_story)
    if other is None or other.story_id is None or match.story_id is None:
        return []
    started = {sid: min(c.published for c in candidates.of_story(sid))
               for sid in (match.story_id, other.story_id)}
    kept, merged = sorted(started, key=lambda sid: (started[sid], sid))
    note = f"joined by {p.item.title[:120]!r}: {match.reason}; and {other.reason}"
    event = NewEvent(STORY_MERGED, {"story_id": kept, "merged_id": merged, "note": note},
                     p.item.published, meta={"actor": actor, "automatic": True},
                     event_id=deterministic_id("story-merged", merged))
    for key in candidates.story_keys(merged):
        candidates[key] = replace(candidates[key], story_id=kept)
    return [(story_stream(kept), event)]


def _facts_of(feed: str, p: Prepared, story_id: str, meta: dict[str, Any],
              outlet: Outlet) -> list[NewEvent]:
    """The item's fact events for each policy it is relevant to (claims are per policy),
    each planned once."""
    planned: dict[str, NewEvent] = {}
    drafted = [(fact, claims_of(fact, published=p.item.published)) for fact in p.facts]
    dated = {(d.slot, canonical_json(d.value)) for _fact, drafts in drafted
             for d in drafts if d.as_of_stated}
    for policy in p.policies:
        for fact, drafts in drafted:
            for event in fact_events(feed, p, story_id, fact, meta, outlet, dated, policy,
                                     drafts):
                planned.setdefault(event.event_id, event)
    return list(planned.values())


@dataclass(frozen=True, slots=True)
class Outlet:
    """Who publishes a feed, and how far its word goes (see tracker.claims.TIERS)."""

    publisher: str
    tier: str = DEFAULT_TIER


def claim_id_of(policy_id: str, draft: ClaimDraft) -> str:
    """A claim is one value for one slot; a date only the text states sets it apart (two
    outlets reporting a figure on two days make the same claim, from two sources)."""
    stated = date_label(draft.as_of, draft.precision) if draft.as_of_stated else ""
    return deterministic_id("claim", policy_id, draft.slot, canonical_json(draft.value), stated)


def fact_events(feed: str, p: Prepared, story_id: str, fact: extract.Fact,
                meta: dict[str, Any], outlet: Outlet,
                dated: set[tuple[str, str]] | None = None,
                policy_id: str | None = None,
                drafts: Sequence[ClaimDraft] | None = None) -> list[NewEvent]:
    """One ``fact.extracted`` per claim the fact states for ``policy_id`` (default: the
    first policy the item is relevant to), for this source (or one, without a claim, when no
    slot takes it); each dated to the world date its claim holds for. A claim this item also
    states with a date of its own (``dated``) is not repeated undated. ``drafts``: the fact's
    claims when the caller has them already."""
    policy_id = policy_id or p.policies[0]
    base = {"story_id": story_id, "policy_id": policy_id, "kind": fact.kind,
            "value": fact.value, "sentence": fact.sentence,
            "confidence": round(fact.confidence, 3), "feed": feed, "item_key": p.key,
            "link": p.item.link, "publisher": outlet.publisher, "tier": outlet.tier}
    # a driver's story never sets the mechanism's
    context_only = p.decisions[policy_id].tier == "context"
    if drafts is None:
        drafts = claims_of(fact, published=p.item.published)
    drafts = [d for d in drafts
              if (d.as_of_stated or (d.slot, canonical_json(d.value)) not in (dated or set()))
              and (d.context or not context_only)]
    if not drafts:
        return [NewEvent(FACT_EXTRACTED, {**base, "claim_id": None}, p.item.published,
                         meta=meta, event_id=deterministic_id(
                             "fact", story_id, policy_id, fact.kind,
                             canonical_json(fact.value), feed, p.key), schema_version=2)]
    out = []
    for draft in drafts:
        claim_id = claim_id_of(policy_id, draft)
        out.append(NewEvent(
            FACT_EXTRACTED,
            {**base, "claim_id": claim_id, "slot": draft.slot, "claim_value": draft.value,
             "as_of_stated": draft.as_of_stated, "hedged": draft.hedge is not None,
             "hedge": draft.hedge, "context": draft.context},
            draft.as_of, draft.precision,
            meta=_without_note(meta) if draft.as_of_stated else meta,
            event_id=deterministic_id("fact", story_id, claim_id, feed, p.key),
            schema_version=2))
    return out


def actor_meta(actor: str) -> dict[str, Any]:
    return {"actor": actor}


def source_meta(actor: str, feed: str, p: Prepared, story_id: str | None = None
                ) -> dict[str, Any]:
    """Where an item's events came from: the feed, the item, its story. When its feed gave
    no usable date, its date is when it was first seen, and a note says so wherever the
    events are dated or cited."""
    source = {
        "id": story_id or p.key, "story_id": story_id, "publication": feed, "feed": feed,
        "headline": p.item.title, "title": p.item.title, "url": p.item.link,
        "date": iso(p.item.published), "item_key": p.key}
    if p.item.published_date is not None:
        return {"actor": actor, "source": source}
    source["date_note"] = FIRST_SEEN_NOTE
    return {"actor": actor, "source": source, "occurred_note": FIRST_SEEN_NOTE}


def _without_note(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` for an event the text itself dates: the first-seen note is not about it."""
    return {k: v for k, v in meta.items() if k != "occurred_note"}


def _cut_short(item: parse.Item, recorded: Mapping[str, Any]) -> bool:
    """A truncated copy of a recorded item that only gives the start of its text: never a
    revision, so a fuller body is not replaced by a cut-off one."""
    return item.truncated and item.title == recorded.get("title") \
        and parse.is_cut_of(item.summary, str(recorded.get("summary") or ""))


def _revision(feed: str, p: Prepared, recorded: Mapping[str, Any], event_id: str,
              story_id: str | None, actor: str) -> list[tuple[str, NewEvent]]:
    out = [(feed_stream(feed), NewEvent(
        ITEM_REVISED,
        {"feed": feed, "item_key": p.key, "title": p.item.title, "summary": p.item.summary,
         "content_hash": p.item.content_hash, "previous_hash": recorded.get("content_hash"),
         "story_id": story_id, "truncated": p.item.truncated},
        p.item.published, meta=source_meta(actor, feed, p), event_id=event_id))]
    if story_id is not None:
        out.append((story_stream(story_id), NewEvent(
            STORY_REVISED, {"story_id": story_id, "item_key": p.key, "title": p.item.title,
                            "summary": p.item.summary},
            p.item.published, meta=source_meta(actor, feed, p, story_id),
            event_id=deterministic_id("story-revision", story_id, p.key,
                                      p.item.content_hash))))
    return out


def _item_recorded(feed: str, p: Prepared, event_id: str, fetched_at: datetime,
                   actor: str) -> NewEvent:
    item = p.item
    return NewEvent(
        ITEM_RECORDED,
        {"feed": feed, "item_key": p.key, "title": item.title, "link": item.link,
         "published": iso(item.published_date) if item.published_date else None,
         "published_source": item.published_source,
         "date_flags": list(item.date_flags), "summary": item.summary,
         "truncated": item.truncated,
         "author": item.author, "content_hash": item.content_hash,
         "fetched_at": iso(fetched_at)},
        item.published, meta=source_meta(actor, feed, p), event_id=event_id)


def _classified(feed: str, p: Prepared, policy_id: str, actor: str) -> NewEvent:
    """The item's relevance decision for one policy."""
    d = p.decisions[policy_id]
    return NewEvent(
        ITEM_CLASSIFIED,
        {"item_key": p.key, "feed": feed, "policy_id": policy_id, "relevant": d.relevant,
         "score": d.score, "threshold": d.threshold, "matched": list(d.matched),
         "rules_version": d.rules_version, "content_hash": p.item.content_hash,
         "tier": d.tier},
        p.item.published, meta=source_meta(actor, feed, p),
        event_id=deterministic_id("classified", feed, p.key, policy_id, d.rules_version,
                                  p.item.content_hash))
