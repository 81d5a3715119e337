"""Follow-up news: the stories report and re-classification under new rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.db import write_connection
from tracker.events import NewEvent, RecordedEvent, deterministic_id, utc
from tracker.ingest import extract, relevance
from tracker.ingest.parse import Item
from tracker.ingest.plan import (
    STORY_WINDOW_DAYS,
    FeedOutcome,
    FeedPlanner,
    Prepared,
    events_by_id,
    story_candidates,
)
from tracker.projections import PROJECTIONS
from tracker.projector import Projector, load_docs
from tracker.store.schema import projection_rows
from tracker.when import When

ITEM_TYPES = ("item.recorded", "item.revised", "item.classified")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def news(tracker: Tracker, *, since: When | None = None) -> dict[str, Any]:
    """Stories, newest first, each with every source that carried it and its facts."""
    Projector(tracker.engine, PROJECTIONS, tracker.clock).catch_up(["stories"])
    where = None
    if since is not None:
        where = projection_rows.c.sort_key >= since.start.strftime("%Y-%m-%dT%H:%M:%S")
    docs = [doc for _key, doc in load_docs(tracker.engine, "stories", where=where)]
    docs.reverse()
    stories = [{
        "id": d.get("story_id"), "title": d.get("title"), "url": d.get("url"),
        "published": d.get("published"), "score": d.get("score"),
        "matched": d.get("matched", []),
        "sources": [{"feed": s.get("feed"), "link": s.get("link"), "title": s.get("title"),
                     "position": s.get("position")} for s in d.get("sources", [])],
        "facts": d.get("facts", []), "revisions": len(d.get("revisions", [])),
        "position": d.get("position"),
    } for d in docs]
    return {"since": since.text if since else None, "count": len(stories), "stories": stories}


@dataclass(frozen=True, slots=True)
class ReclassifyResult:
    items: int
    changed: int
    newly_relevant: int
    no_longer_relevant: int
    rules_version: str


def reclassify(tracker: Tracker, rules: relevance.Rules | None = None,
               progress: Callable[[int], None] | None = None) -> ReclassifyResult:
    """Re-run the relevance rules over every recorded item; record only changed decisions.

    An item that becomes relevant gets its story (and facts) now, as ingest would have done.
    """
    rules = rules or relevance.load_rules()
    recorded: dict[tuple[str, str], RecordedEvent] = {}
    content: dict[tuple[str, str], Mapping[str, Any]] = {}
    decisions: dict[tuple[str, str], RecordedEvent] = {}
    for event in tracker.store.read(types=ITEM_TYPES):
        key = (str(event.data.get("feed")), str(event.data["item_key"]))
        if event.type == "item.classified":
            decisions[key] = event
        elif event.type == "item.recorded":
            recorded[key] = event
            content[key] = event.data
        elif key in content:
            content[key] = {**content[key], **event.data}
    changed = up = down = 0
    for (feed, item_key), original in recorded.items():
        if progress is not None:
            progress(1)
        data = content[(feed, item_key)]
        decision = relevance.classify(str(data.get("title", "")), str(data.get("summary", "")),
                                      rules)
        before = decisions.get((feed, item_key))
        if before is not None and bool(before.data["relevant"]) == decision.relevant \
                and before.data.get("score") == decision.score:
            continue
        changed += 1
        was_relevant = bool(before.data["relevant"]) if before is not None else False
        content_hash = str(data.get("content_hash", ""))
        classified = NewEvent(
            "item.classified",
            {"item_key": item_key, "feed": feed, "relevant": decision.relevant,
             "score": decision.score, "threshold": decision.threshold,
             "matched": list(decision.matched), "rules_version": decision.rules_version,
             "content_hash": content_hash, "reclassified": True},
            original.occurred_at, meta={"actor": "reclassify",
                                        "causation_id": original.event_id},
            event_id=deterministic_id("reclassified", feed, item_key, decision.rules_version,
                                      content_hash, str(decision.score)))
        with write_connection(tracker.engine) as conn, conn.begin():
            tracker.store.lock(conn)
            batches: dict[str, list[NewEvent]] = {f"feed:{feed}": [classified]}
            if decision.relevant and not was_relevant:
                up += 1
                _attach_story(conn, feed, item_key, original, data, decision, batches)
            elif was_relevant and not decision.relevant:
                down += 1
            for stream_id, new_events in batches.items():
                tracker.store.append_in(conn, stream_id, new_events)
    return ReclassifyResult(len(recorded), changed, up, down, rules.version)


def _attach_story(conn: sa.Connection, feed: str, item_key: str, original: RecordedEvent,
                  data: Mapping[str, Any], decision: relevance.Decision,
                  batches: dict[str, list[NewEvent]]) -> None:
    """Give a newly relevant item its story and facts, as ingest would have, unless a story
    already carries it."""
    item = Item(guid=None, title=str(data.get("title", "")), link=original.data.get("link"),
                published=utc(original.occurred_at), published_source="feed", date_flags=(),
                summary=str(data.get("summary", "")), author=None,
                content_hash=str(data.get("content_hash", "")))
    known_stories = story_candidates(conn, EPOCH)
    if any(item_key in c.item_keys for c in known_stories.values()):
        return
    since = item.published - timedelta(days=STORY_WINDOW_DAYS)
    candidates = {sid: c for sid, c in known_stories.items() if utc(c.published) >= since}
    prepared = Prepared(item, item_key, decision, extract.extract_facts(item.title, item.summary))
    FeedPlanner(feed, "reclassify").story(prepared, candidates, batches, FeedOutcome(feed, "ok"))
    known = set(events_by_id(conn, [e.event_id for b in batches.values() for e in b]))
    for stream, planned in list(batches.items()):
        batches[stream] = [e for e in planned if e.event_id not in known]
