"""Which events a feed's items become, given what the log already knows: pure functions.

``decide(feed, items, known)`` turns parsed items, classified per policy (dossier), into new
items, revisions, classifications, stories, corroborations and facts. It reads nothing and
writes nothing: the shell (``ingest.run``, ``reclassify``) loads ``Known`` through the
store, calls it, drops what the log turns out to hold already (``Plan.without``) and appends
the rest. What ``Known`` holds, and how story events fold into it, is
:mod:`tracker.ingest.known`; how an item is matched to a story, :mod:`tracker.ingest.matching`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tracker.catalogue import (
    FACT_EXTRACTED,
    ITEM_CLASSIFIED,
    ITEM_RECORDED,
    ITEM_REVISED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_REVISED,
)
from tracker.claims import DEFAULT_TIER
from tracker.dates import date_label, iso
from tracker.events import NewEvent, canonical_json, deterministic_id
from tracker.ingest import extract, identity, parse, relevance
from tracker.ingest.claim_text import ClaimDraft, claims_of
from tracker.ingest.known import Candidates, Known, StoryWorkspace
from tracker.ingest.matching import StoryCandidate, StoryMatch, find_story, joining_story
from tracker.streams import feed_stream, new_story_id, story_stream

STORY_WINDOW_DAYS = 14
#: What a source's date is when its feed gave none usable.
FIRST_SEEN_NOTE = "first seen: the feed gave no usable date"


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
    carrier = known.carrier(p.key)
    if carrier is not None:
        meta = source_meta(actor, feed, p, carrier)
        return Plan(tuple((story_stream(carrier), event) for event in _facts_of(
            feed, p, carrier, meta, outlet or Outlet(feed))))
    candidates = known.index.sync(
        known.candidates(p.item.published - timedelta(days=STORY_WINDOW_DAYS)))
    return Plan(tuple(_attach_story(feed, p, candidates, actor, outlet or Outlet(feed))))


def decide_story_in(space: StoryWorkspace, feed: str, p: Prepared, *, actor: str,
                    outlet: Outlet | None = None) -> Plan:
    """:func:`decide_story` for ``p`` against ``space``, as if everything attached through
    it before were recorded; the plan's story events are folded into ``space`` at once."""
    outlet = outlet or Outlet(feed)
    carrier = space.carrier(p.key)
    if carrier is not None:
        meta = source_meta(actor, feed, p, carrier)
        return Plan(tuple((story_stream(carrier), event)
                          for event in _facts_of(feed, p, carrier, meta, outlet)))
    window = space.window(p.item.published - timedelta(days=STORY_WINDOW_DAYS))
    events = _attach_story(feed, p, window, actor, outlet)
    space.fold([event for _stream, event in events], window.written)
    return Plan(tuple(events))


def _attach_story(feed: str, p: Prepared, candidates: Candidates,
                  actor: str, outlet: Outlet) -> list[tuple[str, NewEvent]]:
    """Attach a relevant item to its story (a new one, or one it corroborates) with its facts;
    ``candidates`` (the caller's working copy) learns it, so later items of the feed match.
    Only the stories the index finds the item may match are weighed (the same outcome)."""
    likely = candidates.likely(p.item)
    match = find_story(p.item, likely, window_days=STORY_WINDOW_DAYS)
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
    return [(stream, first)] + _join(p, candidates, likely, match, actor) + [
        (stream, event) for event in _facts_of(feed, p, story_id, meta, outlet)]


def _join(p: Prepared, candidates: Candidates, likely: list[StoryCandidate],
          match: StoryMatch, actor: str) -> list[tuple[str, NewEvent]]:
    """A ``story.merged`` when the item ties its story to another begun apart (see
    :func:`matching.joining_story`): the earlier story is kept, the evidence is the note.
    ``likely``: the stories the item was matched against (attaching it to its own story
    changes none of the others, so they are not looked up again)."""
    if match.story_id is None or not match.strong:
        return []
    other = joining_story(p.item, (), match, window_days=STORY_WINDOW_DAYS,
                          likely=likely, of_story=candidates.of_story)
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
