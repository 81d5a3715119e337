"""Which events a feed's items become: new items, revisions, classifications, stories,
corroborations and facts. Reads the log (what is already known) but writes nothing: the caller
appends the planned batches in its own transaction, or just counts them (a dry run)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tracker.events import NewEvent, RecordedEvent, canonical_json, deterministic_id, iso
from tracker.ingest import extract, identity, parse, relevance, stories
from tracker.store.eventstore import EVENT_COLUMNS, row_to_event
from tracker.store.schema import events

STORY_WINDOW_DAYS = 14
DEFAULT_POLICY = "hk-zhejiang-supply-chain"
CANDIDATE_TYPES = ("story.created", "story.corroborated", "story.revised")

Batches = dict[str, list[NewEvent]]


@dataclass
class FeedOutcome:
    name: str
    status: str  # ok | not_modified | failed | busy | dry_run
    items: int = 0
    stories: int = 0
    corroborations: int = 0
    revisions: int = 0
    facts: int = 0
    message: str = ""

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.name}: FAILED {self.message}"
        if self.status == "busy":
            return f"{self.name}: skipped, {self.message}"
        if self.status == "not_modified":
            return f"{self.name}: not modified"
        parts = [f"{self.items} new item(s)", f"{self.stories} new stor(y/ies)",
                 f"{self.corroborations} corroboration(s)", f"{self.revisions} revision(s)",
                 f"{self.facts} fact(s)"]
        prefix = "would record " if self.status == "dry_run" else ""
        warn = f" (warning: {self.message})" if self.message else ""
        return f"{self.name}: {prefix}{', '.join(parts)}{warn}"


@dataclass
class Prepared:
    """An item with its identity, relevance decision and (if relevant) extracted facts."""

    item: parse.Item
    key: str
    decision: relevance.Decision
    facts: list[extract.Fact]


def prepare(item: parse.Item, rules: relevance.Rules) -> Prepared:
    decision = relevance.classify(item.title, item.summary, rules)
    facts = extract.extract_facts(item.title, item.summary) if decision.relevant else []
    return Prepared(item, identity.item_key(item), decision, facts)


@dataclass
class Carried:
    """What earlier feeds of a dry run planned but did not record, so later feeds see it."""

    candidates: dict[str, stories.StoryCandidate] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)


class FeedPlanner:
    def __init__(self, feed: str, worker: str, carried: Carried | None = None) -> None:
        self.feed = feed
        self.worker = worker
        self.carried = carried
        self.stream = f"feed:{feed}"

    def plan(self, conn: sa.Connection, prepared: list[Prepared],
             fetched_at: datetime) -> tuple[FeedOutcome, Batches]:
        """Plan the events for ``prepared`` items against what the log (on ``conn``) knows."""
        outcome = FeedOutcome(self.feed, "ok")
        batches: Batches = {}
        if not prepared:
            return outcome, batches
        record_ids = {p.key: deterministic_id("item", self.feed, p.key) for p in prepared}
        revision_ids = {p.key: deterministic_id("item-revision", self.feed, p.key,
                                                p.item.content_hash) for p in prepared}
        known = events_by_id(conn, [*record_ids.values(), *revision_ids.values()])
        earliest = min(p.item.published for p in prepared)
        candidates = story_candidates(conn, earliest - timedelta(days=STORY_WINDOW_DAYS))
        if self.carried is not None:
            candidates.update(self.carried.candidates)
        item_story = {key: c.story_id for c in candidates.values() for key in c.item_keys}
        feed_events = batches.setdefault(self.stream, [])
        for p in prepared:
            recorded = known.get(record_ids[p.key])
            if recorded is None:
                feed_events.append(self._item_recorded(p, record_ids[p.key], fetched_at))
                outcome.items += 1
            elif recorded.data.get("content_hash") == p.item.content_hash \
                    or revision_ids[p.key] in known:
                continue
            else:
                self._revision(p, recorded, revision_ids[p.key], item_story.get(p.key),
                               batches)
                outcome.revisions += 1
            feed_events.append(self._classified(p))
            if p.decision.relevant and recorded is None:
                self.story(p, candidates, batches, outcome)
        batches = self._drop_known(conn, batches, outcome)
        if self.carried is not None:
            self.carried.candidates.update(candidates)
            self.carried.event_ids.update(e.event_id for b in batches.values() for e in b)
        return outcome, batches

    def story(self, p: Prepared, candidates: dict[str, stories.StoryCandidate],
              batches: Batches, outcome: FeedOutcome) -> str:
        """Attach a relevant item to its story (a new one, or one it corroborates) and plan
        its facts; ``candidates`` is updated so later items of the same pass match it."""
        story_id, similarity = stories.match_story(p.item, candidates.values(),
                                                   window_days=STORY_WINDOW_DAYS)
        link = {p.item.link} if p.item.link else set()
        if story_id is None:
            story_id = "st-" + hashlib.sha256(f"{self.feed}\x1f{p.key}".encode()).hexdigest()[:12]
            story_events = batches.setdefault(f"story:{story_id}", [])
            story_events.append(NewEvent(
                "story.created",
                {"story_id": story_id, "title": p.item.title, "url": p.item.link,
                 "published": iso(p.item.published), "item_key": p.key, "feed": self.feed,
                 "policy_id": DEFAULT_POLICY, "summary": p.item.summary,
                 "score": p.decision.score, "matched": list(p.decision.matched)},
                p.item.published, meta=self.meta(p, story_id),
                event_id=deterministic_id("story", story_id)))
            candidates[story_id] = stories.StoryCandidate(
                story_id=story_id, title=p.item.title, links=frozenset(link),
                published=p.item.published, item_keys=frozenset({p.key}))
            outcome.stories += 1
        else:
            story_events = batches.setdefault(f"story:{story_id}", [])
            story_events.append(NewEvent(
                "story.corroborated",
                {"story_id": story_id, "item_key": p.key, "feed": self.feed,
                 "link": p.item.link, "title": p.item.title, "similarity": round(similarity, 3)},
                p.item.published, meta=self.meta(p, story_id),
                event_id=deterministic_id("story-source", story_id, self.feed, p.key)))
            old = candidates[story_id]
            candidates[story_id] = stories.StoryCandidate(
                story_id=story_id, title=old.title, links=old.links | link,
                published=old.published, item_keys=old.item_keys | {p.key})
            outcome.corroborations += 1
        planned = {e.event_id for e in story_events}
        for fact in p.facts:
            fact_id = deterministic_id("fact", story_id, fact.kind, canonical_json(fact.value))
            if fact_id in planned:
                continue
            planned.add(fact_id)
            story_events.append(NewEvent(
                "fact.extracted",
                {"story_id": story_id, "policy_id": DEFAULT_POLICY, "kind": fact.kind,
                 "value": fact.value, "sentence": fact.sentence,
                 "confidence": round(fact.confidence, 3)},
                p.item.published, meta=self.meta(p, story_id), event_id=fact_id))
            outcome.facts += 1
        return story_id

    def meta(self, p: Prepared | None = None, story_id: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"actor": f"ingest@{self.worker}"}
        if p is not None:
            meta["source"] = {
                "id": story_id or p.key, "story_id": story_id, "publication": self.feed,
                "feed": self.feed, "headline": p.item.title, "title": p.item.title,
                "url": p.item.link, "date": iso(p.item.published), "item_key": p.key}
        return meta

    def _revision(self, p: Prepared, recorded: RecordedEvent, event_id: str,
                  story_id: str | None, batches: Batches) -> None:
        batches.setdefault(self.stream, []).append(NewEvent(
            "item.revised",
            {"feed": self.feed, "item_key": p.key, "title": p.item.title,
             "summary": p.item.summary, "content_hash": p.item.content_hash,
             "previous_hash": recorded.data.get("content_hash"), "story_id": story_id},
            p.item.published, meta=self.meta(p), event_id=event_id))
        if story_id is not None:
            batches.setdefault(f"story:{story_id}", []).append(NewEvent(
                "story.revised", {"story_id": story_id, "item_key": p.key,
                                  "title": p.item.title, "summary": p.item.summary},
                p.item.published, meta=self.meta(p, story_id),
                event_id=deterministic_id("story-revision", story_id, p.key,
                                          p.item.content_hash)))

    def _item_recorded(self, p: Prepared, event_id: str, fetched_at: datetime) -> NewEvent:
        item = p.item
        return NewEvent(
            "item.recorded",
            {"feed": self.feed, "item_key": p.key, "title": item.title, "link": item.link,
             "published": iso(item.published), "published_source": item.published_source,
             "date_flags": list(item.date_flags), "summary": item.summary,
             "author": item.author, "content_hash": item.content_hash,
             "fetched_at": iso(fetched_at)},
            item.published, meta=self.meta(p), event_id=event_id)

    def _classified(self, p: Prepared) -> NewEvent:
        d = p.decision
        return NewEvent(
            "item.classified",
            {"item_key": p.key, "feed": self.feed, "relevant": d.relevant,
             "score": d.score, "threshold": d.threshold, "matched": list(d.matched),
             "rules_version": d.rules_version, "content_hash": p.item.content_hash},
            p.item.published, meta=self.meta(p),
            event_id=deterministic_id("classified", self.feed, p.key, d.rules_version,
                                      p.item.content_hash))

    def _drop_known(self, conn: sa.Connection, batches: Batches,
                    outcome: FeedOutcome) -> Batches:
        """Leave out events whose deterministic id is already in the log (a fact or a source
        that another feed's copy of the story recorded first): the log's unique key decides."""
        ids = [e.event_id for batch in batches.values() for e in batch]
        known = set(events_by_id(conn, ids))
        if self.carried is not None:
            known |= self.carried.event_ids & set(ids)
        if not known:
            return batches
        for batch in batches.values():
            outcome.facts -= sum(1 for e in batch
                                 if e.event_id in known and e.type == "fact.extracted")
        return {stream: kept for stream, batch in batches.items()
                if (kept := [e for e in batch if e.event_id not in known])}


def events_by_id(conn: sa.Connection, ids: Iterable[str]) -> dict[str, RecordedEvent]:
    found: dict[str, RecordedEvent] = {}
    id_list = list(dict.fromkeys(ids))
    for start in range(0, len(id_list), 500):
        chunk = id_list[start:start + 500]
        for row in conn.execute(sa.select(*EVENT_COLUMNS).where(events.c.event_id.in_(chunk))):
            event = row_to_event(row)
            found[event.event_id] = event
    return found


def story_candidates(conn: sa.Connection, since: datetime) -> dict[str, stories.StoryCandidate]:
    """Recent stories, read from the log itself (inside the writer's lock when recording, so
    two workers cannot both create the same story)."""
    rows = conn.execute(sa.select(*EVENT_COLUMNS).where(
        events.c.type.in_(CANDIDATE_TYPES), events.c.occurred_at >= since)
        .order_by(events.c.position))
    found: dict[str, stories.StoryCandidate] = {}
    for row in rows:
        event = row_to_event(row)
        data: Mapping[str, Any] = event.data
        sid = str(data["story_id"])
        link = data.get("url") if event.type == "story.created" else data.get("link")
        old = found.get(sid) or stories.StoryCandidate(
            story_id=sid, title=str(data.get("title", "")), links=frozenset(),
            published=event.occurred_at, item_keys=frozenset())
        title = old.title if event.type == "story.corroborated" \
            else str(data.get("title") or old.title)
        found[sid] = stories.StoryCandidate(
            story_id=sid, title=title, links=old.links | ({str(link)} if link else set()),
            published=old.published,
            item_keys=old.item_keys | ({str(data["item_key"])} if data.get("item_key") else set()))
    return found
