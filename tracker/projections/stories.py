"""Follow-up news stories: one document per story, with every source that carried it and the
facts extracted from it, each with the log position that set it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker.catalogue import (
    FACT_EXTRACTED,
    RETRACTED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_REVISED,
    STORY_TYPES,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection


class Stories(Projection):
    """One document per story: every source that carried it, its revisions, its facts."""

    name = "stories"
    version = 1
    types: frozenset[str] = STORY_TYPES

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        story_id = event.data.get("story_id")
        return [str(story_id)] if story_id else []

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{doc.get('published') or ''}|{key}"

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        data: dict[str, Any] = dict(event.data)
        if event.type == RETRACTED:
            return _without(doc, int(data["target_position"]))
        if event.type == STORY_CREATED:
            base: Doc = {"story_id": data["story_id"], "title": data.get("title"),
                         "url": data.get("url"), "published": data.get("published"),
                         "summary": data.get("summary", ""), "policy_id": data.get("policy_id"),
                         "score": data.get("score"), "matched": data.get("matched", []),
                         "created_at": event.position, "revisions": [], "facts": [],
                         "sources": []}
            earlier = doc or {}
            base["sources"] = [_source(data.get("feed"), data.get("url"), data.get("title"),
                                       event)] + list(earlier.get("sources", []))
            base["facts"] = list(earlier.get("facts", []))
            base["revisions"] = list(earlier.get("revisions", []))
            return _stamp(base, event)
        current: Doc = dict(doc) if doc else {"story_id": data.get("story_id"), "title": None,
                                              "url": None, "published": None, "sources": [],
                                              "facts": [], "revisions": [], "matched": []}
        if event.type == STORY_CORROBORATED:
            current["sources"] = [*current.get("sources", []), _source(
                data.get("feed"), data.get("link"), data.get("title"), event,
                similarity=data.get("similarity"))]
        elif event.type == STORY_REVISED:
            current["revisions"] = [*current.get("revisions", []), {
                "title": data.get("title"), "summary": data.get("summary"),
                "position": event.position, "recorded_at": iso(event.recorded_at)}]
        elif event.type == FACT_EXTRACTED:
            current["facts"] = [*current.get("facts", []), {
                "kind": data.get("kind"), "value": data.get("value"),
                "sentence": data.get("sentence"), "confidence": data.get("confidence"),
                "position": event.position}]
        return _stamp(current, event)


def _source(feed: Any, link: Any, title: Any, event: RecordedEvent,
            similarity: Any = None) -> dict[str, Any]:
    source = {"feed": feed, "link": link, "title": title, "position": event.position}
    if similarity is not None:
        source["similarity"] = similarity
    return source


def _stamp(doc: Doc, event: RecordedEvent) -> Doc:
    doc["position"] = event.position
    doc["updated_at"] = iso(event.recorded_at)
    return doc


def _without(doc: Doc | None, position: int) -> Doc | None:
    if doc is None:
        return None
    if doc.get("created_at") == position:
        return None
    out = dict(doc)
    for field in ("sources", "facts", "revisions"):
        out[field] = [e for e in doc.get(field, []) if e.get("position") != position]
    return out
