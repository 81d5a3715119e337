"""Re-classification: every recorded item under a dossier's rules as they stand now, with
the stories and facts ingest would have given an item that becomes relevant, and the facts of
one that no longer is withdrawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from tracker.app import Tracker
from tracker.catalogue import (
    FACT_EXTRACTED,
    ITEM_CLASSIFIED,
    ITEM_RECORDED,
    ITEM_TYPES,
    SUBSCRIPTION_TYPES,
)
from tracker.dates import utc
from tracker.db import write_connection
from tracker.dossier import CORRECTIONS_STREAM, withdrawal
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.ingest import extract, relevance
from tracker.ingest.decide import Outlet, Plan, Prepared, decide_story_in, feed_stream
from tracker.ingest.knowledge import Knowledge
from tracker.ingest.known import StoryWorkspace
from tracker.ingest.parse import Item
from tracker.ingest.subscriptions import current
from tracker.rules_log import rules_by_policy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReclassifyResult:
    items: int
    changed: int
    newly_relevant: int
    no_longer_relevant: int
    rules_version: str


#: Changed decisions recorded per transaction.
RECLASSIFY_BATCH = 500


@dataclass(frozen=True, slots=True)
class _Change:
    """One item's decision under one dossier's rules that differs from the one recorded."""

    feed: str
    item_key: str
    original: RecordedEvent
    data: Mapping[str, Any]
    policy_id: str
    decision: relevance.Decision
    was_relevant: bool

    @property
    def up(self) -> bool:
        return self.decision.relevant and not self.was_relevant

    @property
    def down(self) -> bool:
        return self.was_relevant and not self.decision.relevant


def reclassify(tracker: Tracker, rules: Mapping[str, relevance.Rules] | None = None,
               progress: Callable[[int], None] | None = None) -> ReclassifyResult:
    """Re-run each dossier's relevance rules (``rules``: per policy, default the active ones
    of every tracked dossier) over every recorded item; record only changed decisions.

    An item that becomes relevant to a dossier gets its story (and that dossier's facts) now,
    as ingest would have done. Every decision is made first; the changed ones are then
    recorded :data:`RECLASSIFY_BATCH` to a transaction, in order, each seeing the stories
    those before it made. The stories are read from the log once, at the first item that
    becomes relevant, and then only what each transaction finds appended since. A decision
    recorded before many dossiers (no ``policy_id``) stands for every dossier.
    """
    rules = rules or rules_by_policy(tracker)  # re-applies the active rules
    recorded: dict[tuple[str, str], RecordedEvent] = {}
    content: dict[tuple[str, str], Mapping[str, Any]] = {}
    decisions: dict[tuple[str, str, str | None], RecordedEvent] = {}
    for event in tracker.store.read(types=ITEM_TYPES):
        key = (str(event.data.get("feed")), str(event.data["item_key"]))
        if event.type == ITEM_CLASSIFIED:
            decisions[(*key, event.data.get("policy_id"))] = event
        elif event.type == ITEM_RECORDED:
            recorded[key] = event
            content[key] = event.data
        elif key in content:
            content[key] = {**content[key], **event.data}
    changes: list[_Change] = []
    for (feed, item_key), original in recorded.items():
        if progress is not None:
            progress(1)
        data = content[(feed, item_key)]
        for policy_id, policy_rules in rules.items():
            decision = relevance.classify(str(data.get("title", "")),
                                          str(data.get("summary", "")), policy_rules)
            before = decisions.get((feed, item_key, policy_id),
                                   decisions.get((feed, item_key, None)))
            if before is not None and bool(before.data["relevant"]) == decision.relevant \
                    and before.data.get("score") == decision.score \
                    and before.data.get("tier", decision.tier) == decision.tier:
                continue
            was_relevant = bool(before.data["relevant"]) if before is not None else False
            changes.append(_Change(feed, item_key, original, data, policy_id, decision,
                                   was_relevant))
    if changes:
        recording = _Recording(tracker)
        for start in range(0, len(changes), RECLASSIFY_BATCH):
            recording.record(changes[start:start + RECLASSIFY_BATCH])
    versions = ", ".join(dict.fromkeys(r.version for r in rules.values()))
    return ReclassifyResult(len(recorded), len(changes), sum(c.up for c in changes),
                            sum(c.down for c in changes), versions)


class _Recording:
    """What recording changed decisions needs across its transactions: the stories (read
    once, then only what was appended since), subscriptions, and facts by item."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.knowledge = Knowledge(tracker.store)
        self.subs = current(tracker.store.read(types=SUBSCRIPTION_TYPES))
        self.facts_by_item: dict[tuple[str, str, str], list[RecordedEvent]] = {}
        for fact in tracker.store.read(types=[FACT_EXTRACTED]):
            source = fact.meta.get("source") or {}
            self.facts_by_item.setdefault(
                (str(source.get("feed")), str(source.get("item_key")),
                 str(fact.data.get("policy_id"))), []).append(fact)

    def record(self, batch: list[_Change]) -> None:
        """One transaction: each change's events, in order, as if each had been recorded on
        its own (a story one change makes is there for the next), less what the log holds."""
        tracker = self.tracker
        with write_connection(tracker.engine) as conn, conn.begin():
            tracker.store.lock(conn)
            space: StoryWorkspace | None = None
            events: list[tuple[str, NewEvent]] = []
            for change in batch:
                mine: list[tuple[str, NewEvent]] = [(feed_stream(change.feed),
                                                     _classified(change))]
                if change.up:
                    if space is None:
                        space = StoryWorkspace(self.knowledge.refresh(conn, EPOCH))
                    sub = self.subs.get(change.feed)
                    outlet = Outlet(sub.publisher, sub.tier) if sub is not None \
                        else Outlet(change.feed)
                    story = decide_story_in(
                        space, change.feed, _prepared(change.item_key, change.original, change.data,
                                               {change.policy_id: change.decision}),
                        actor="ingest@reclassify", outlet=outlet)
                    mine += story.events
                elif change.down:
                    mine += [(CORRECTIONS_STREAM, withdrawal(
                        fact, f"no longer relevant under rules {change.decision.rules_version}",
                        "reclassify", tracker.now()))
                        for fact in self.facts_by_item.get(
                            (change.feed, change.item_key, change.policy_id), ())]
                events += [(stream_id, event) for stream_id, stream_events
                           in Plan(tuple(mine)).by_stream().items() for event in stream_events]
            seen = self.knowledge.stored(conn, Plan(tuple(events)))
            fresh = []
            for stream_id, event in events:  # the first of an id; none the log holds
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    fresh.append((stream_id, event))
            for stream_id, run in groupby(fresh, key=itemgetter(0)):
                tracker.store.append_in(conn, stream_id, [event for _s, event in run])


def _classified(change: _Change) -> NewEvent:
    decision, content_hash = change.decision, str(change.data.get("content_hash", ""))
    return NewEvent(
        ITEM_CLASSIFIED,
        {"item_key": change.item_key, "feed": change.feed, "policy_id": change.policy_id,
         "relevant": decision.relevant,
         "score": decision.score, "threshold": decision.threshold,
         "matched": list(decision.matched), "rules_version": decision.rules_version,
         "content_hash": content_hash, "reclassified": True, "tier": decision.tier},
        change.original.occurred_at, meta={"actor": "reclassify",
                                           "causation_id": change.original.event_id},
        event_id=deterministic_id("reclassified", change.feed, change.item_key,
                                  change.policy_id, decision.rules_version, content_hash,
                                  str(decision.score), str(decision.tier)))


def _prepared(item_key: str, original: RecordedEvent, data: Mapping[str, Any],
              decisions: Mapping[str, relevance.Decision]) -> Prepared:
    """A recorded item (with its revisions applied) as ingest would have prepared it."""
    item = Item(guid=None, title=str(data.get("title", "")), link=original.data.get("link"),
                published=utc(original.occurred_at),
                published_source="feed" if original.data.get("published_source", "feed")
                == "feed" else "first_seen", date_flags=(),
                summary=str(data.get("summary", "")), author=None,
                content_hash=str(data.get("content_hash", "")))
    return Prepared(item, item_key, decisions, extract.extract_facts(item.title, item.summary))
