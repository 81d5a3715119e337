"""Follow-up news: the stories report and re-classification under new rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
from tracker.events import NewEvent, RecordedEvent, canonical_json, deterministic_id
from tracker.ingest import extract, relevance
from tracker.ingest.decide import Outlet, Plan, Prepared, decide_story, feed_stream
from tracker.ingest.knowledge import Knowledge
from tracker.ingest.parse import Item
from tracker.ingest.subscriptions import current
from tracker.projections.stories import Stories, combined
from tracker.rules_log import rules_by_policy
from tracker.story_explain import explain_report
from tracker.story_identity import find_story, kept_story, story_docs
from tracker.when import When

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STORIES = Stories()


def news(tracker: Tracker, *, since: When | None = None) -> dict[str, Any]:
    """Stories, newest first, each with every source that carried it and its facts."""
    shown = combined(story_docs(tracker))  # analysts' merges and splits applied
    cutoff = since.start.strftime("%Y-%m-%dT%H:%M:%S") if since is not None else ""
    ordered = sorted((STORIES.sort_key(key, doc), doc) for key, doc in shown.items())
    docs = [doc for sort_key, doc in reversed(ordered) if sort_key >= cutoff]
    stories = [{
        "id": d.get("story_id"), "title": d.get("title"), "url": d.get("url"),
        "published": d.get("published"),
        "published_source": d.get("published_source") or "feed", "score": d.get("score"),
        "policies": d.get("policy_ids") or ([d["policy_id"]] if d.get("policy_id") else []),
        "matched": d.get("matched", []),
        "sources": [{"feed": s.get("feed"), "link": s.get("link"), "title": s.get("title"),
                     "position": s.get("position")} for s in d.get("sources", [])],
        "facts": _distinct_facts(d.get("facts", [])), "revisions": len(d.get("revisions", [])),
        "position": d.get("position"),
    } for d in docs]
    return {"since": since.text if since else None, "count": len(stories), "stories": stories}


def _distinct_facts(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A story's facts once each: every source that carried the story states its own copy
    (so claims can count their sources), the story lists what was said."""
    seen: set[str] = set()
    out = []
    for fact in facts:
        key = canonical_json([fact.get("kind"), fact.get("value")])
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


@dataclass(frozen=True, slots=True)
class ReclassifyResult:
    items: int
    changed: int
    newly_relevant: int
    no_longer_relevant: int
    rules_version: str


def reclassify(tracker: Tracker, rules: Mapping[str, relevance.Rules] | None = None,
               progress: Callable[[int], None] | None = None) -> ReclassifyResult:
    """Re-run each dossier's relevance rules (``rules``: per policy, default the active ones
    of every tracked dossier) over every recorded item; record only changed decisions.

    An item that becomes relevant to a dossier gets its story (and that dossier's facts) now,
    as ingest would have done. Each changed decision is one transaction; the stories are read
    from the log once and then only what each transaction finds appended since. A decision
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
    knowledge = Knowledge(tracker.store)
    subs = current(tracker.store.read(types=SUBSCRIPTION_TYPES))
    facts_by_item: dict[tuple[str, str, str], list[RecordedEvent]] = {}
    for fact in tracker.store.read(types=[FACT_EXTRACTED]):
        source = fact.meta.get("source") or {}
        facts_by_item.setdefault((str(source.get("feed")), str(source.get("item_key")),
                                  str(fact.data.get("policy_id"))), []).append(fact)
    changed = up = down = 0
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
            changed += 1
            was_relevant = bool(before.data["relevant"]) if before is not None else False
            content_hash = str(data.get("content_hash", ""))
            classified = NewEvent(
                ITEM_CLASSIFIED,
                {"item_key": item_key, "feed": feed, "policy_id": policy_id,
                 "relevant": decision.relevant,
                 "score": decision.score, "threshold": decision.threshold,
                 "matched": list(decision.matched), "rules_version": decision.rules_version,
                 "content_hash": content_hash, "reclassified": True, "tier": decision.tier},
                original.occurred_at, meta={"actor": "reclassify",
                                            "causation_id": original.event_id},
                event_id=deterministic_id("reclassified", feed, item_key, policy_id,
                                          decision.rules_version, content_hash,
                                          str(decision.score), str(decision.tier)))
            with write_connection(tracker.engine) as conn, conn.begin():
                tracker.store.lock(conn)
                plan = Plan(((feed_stream(feed), classified),))
                if decision.relevant and not was_relevant:
                    up += 1
                    known = knowledge.refresh(conn, EPOCH)
                    sub = subs.get(feed)
                    outlet = Outlet(sub.publisher, sub.tier) if sub is not None \
                        else Outlet(feed)
                    story = decide_story(
                        feed, _prepared(item_key, original, data, {policy_id: decision}),
                        known, actor="ingest@reclassify", outlet=outlet)
                    plan = Plan(plan.events + story.events)
                elif was_relevant and not decision.relevant:
                    down += 1
                    plan = Plan(plan.events + tuple(
                        (CORRECTIONS_STREAM, withdrawal(
                            fact, f"no longer relevant under rules {decision.rules_version}",
                            "reclassify", tracker.now()))
                        for fact in facts_by_item.get((feed, item_key, policy_id), ())))
                plan = plan.without(knowledge.stored(conn, plan))
                for stream_id, new_events in plan.by_stream().items():
                    tracker.store.append_in(conn, stream_id, new_events)
    versions = ", ".join(dict.fromkeys(r.version for r in rules.values()))
    return ReclassifyResult(len(recorded), changed, up, down, versions)


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


def explain(tracker: Tracker, story: str) -> dict[str, Any]:
    """Why one story (id or unique prefix) holds what it holds: every item that carried it,
    with how it joined and its relevance decisions, and the analysts' merges and splits."""
    docs = story_docs(tracker)
    asked = find_story(docs, story)
    return explain_report(tracker, docs, kept_story(docs, asked), asked)
