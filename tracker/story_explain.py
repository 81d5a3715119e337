"""`tracker news --explain`: why a story holds the items it holds.

Read from the log, not the projection, because the evidence lives in the events: how each
item joined (the ``reason`` a corroboration carries, or that it created the story), the
relevance decisions on it, and the analysts' merges and splits that moved items since.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.app import Tracker
from tracker.catalogue import (
    ITEM_CLASSIFIED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_SPLIT,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc
from tracker.story_identity import group_of
from tracker.streams import feed_stream, story_stream

_JOINS = (STORY_CREATED, STORY_CORROBORATED, STORY_MERGED, STORY_SPLIT)


def explain_report(tracker: Tracker, docs: Mapping[str, Doc], story_id: str,
                   asked: str) -> dict[str, Any]:
    """The explanation of ``story_id`` (a kept story; ``asked`` is what the user named)."""
    group = group_of(docs, story_id)
    events = [e for sid in group for e in tracker.store.read(stream_id=story_stream(sid),
                                                              types=_JOINS)]
    origin = docs[story_id].get("split_from")
    if origin:  # the split that created this story is on the old story's stream
        events += [e for e in tracker.store.read(stream_id=story_stream(str(origin)),
                                                 types=[STORY_SPLIT])
                   if e.data.get("new_story_id") == story_id]
    events.sort(key=lambda e: e.position)
    items: dict[tuple[str, str], dict[str, Any]] = {}
    corrections: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if event.type in (STORY_CREATED, STORY_CORROBORATED):
            items[(str(data.get("feed")), str(data["item_key"]))] = _item(event, story_id)
        elif event.type == STORY_MERGED:
            corrections.append(_correction(event, merged_id=data["merged_id"]))
        elif data.get("new_story_id") == story_id:
            items[(str(data.get("feed")), str(data["item_key"]))] = _item(event, story_id)
            corrections.append(_correction(event, item_key=data["item_key"],
                                           new_story_id=story_id))
        else:
            corrections.append(_correction(event, item_key=data["item_key"],
                                           new_story_id=data["new_story_id"]))
            for key, item in items.items():
                if key[1] == data["item_key"]:
                    item["left"] = {"story_id": data["new_story_id"],
                                    "position": event.position}
    _add_decisions(tracker, items)
    doc = docs[story_id]
    return {"id": story_id, "asked": asked, "title": doc.get("title"), "url": doc.get("url"),
            "published": doc.get("published"), "merged": group[1:], "split_from": origin,
            "items": list(items.values()), "corrections": corrections}


def _item(event: RecordedEvent, kept: str) -> dict[str, Any]:
    data = event.data
    if event.type == STORY_CREATED:
        why = "first relevant item: created the story"
        if data["story_id"] != kept:
            why = f"first relevant item of story {data['story_id']}, merged into this one"
    elif event.type == STORY_SPLIT:
        why = f"split out of story {data['story_id']} by {event.meta.get('actor', 'analyst')}"
    else:
        why = str(data.get("reason") or f"title similarity {data.get('similarity')}")
        if data["story_id"] != kept:
            why += f" (joined story {data['story_id']}, merged into this one)"
    return {"item_key": data["item_key"], "feed": data.get("feed"),
            "link": data.get("link") or data.get("url"), "title": data.get("title"),
            "published": iso(event.occurred_at),
            "published_source": data.get("published_source", "feed"),
            "joined": {"how": event.type, "story_id": data.get("new_story_id")
                       or data["story_id"], "reason": why,
                       "similarity": data.get("similarity"), "position": event.position,
                       "recorded_at": iso(event.recorded_at)},
            "relevance": [], "left": None}


def _correction(event: RecordedEvent, **fields: Any) -> dict[str, Any]:
    return {"type": event.type, "story_id": event.data["story_id"], **fields,
            "note": event.data.get("note"), "actor": event.meta.get("actor"),
            "position": event.position, "recorded_at": iso(event.recorded_at)}


def _add_decisions(tracker: Tracker, items: Mapping[tuple[str, str], dict[str, Any]]) -> None:
    """Each item's relevance decisions, oldest first, read from its feed's stream."""
    for feed in sorted({feed for feed, _key in items}):
        for event in tracker.store.read(stream_id=feed_stream(feed), types=[ITEM_CLASSIFIED]):
            item = items.get((feed, str(event.data["item_key"])))
            if item is not None:
                item["relevance"].append(_decision(event))


def _decision(event: RecordedEvent) -> dict[str, Any]:
    data = event.data
    return {"policy_id": data.get("policy_id"),
            "relevant": data.get("relevant"), "score": data.get("score"),
            "threshold": data.get("threshold"), "matched": list(data.get("matched") or []),
            "tier": data.get("tier"), "rules_version": data.get("rules_version"),
            "reclassified": bool(data.get("reclassified")), "position": event.position}
