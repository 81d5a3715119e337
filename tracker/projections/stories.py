"""Follow-up news stories: one document per story, with every source that carried it and the
facts extracted from it, each with the log position that set it.

Analysts' corrections: a split item leaves its story's document (its source and facts kept
aside under ``split``) for a document of its own; a merged story's document says which story
it joined (``merged_into``) and the kept one lists it (``merged``). :func:`combined` turns the
documents into the stories an analyst sees: merged ones as one, split items in their story.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.catalogue import (
    FACT_EXTRACTED,
    RETRACTED,
    STORY_CORRECTION_TYPES,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_REVISED,
    STORY_SPLIT,
    STORY_TYPES,
    story_policies,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection


class Stories(Projection):
    """One document per story: every source that carried it, its revisions, its facts."""

    name = "stories"
    version = 4  # 3: policy_ids (a story follows every dossier it matched); 4: its sources
    types: frozenset[str] = STORY_TYPES | STORY_CORRECTION_TYPES

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        story_id = event.data.get("story_id")
        other = event.data.get("merged_id") or event.data.get("new_story_id")
        return [str(k) for k in (story_id, other) if k]

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{doc.get('published') or ''}|{key}"

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        data: dict[str, Any] = dict(event.data)
        if event.type == RETRACTED:
            return _without(doc, int(data["target_position"]))
        if event.type in STORY_CORRECTION_TYPES:
            return _corrected(doc, event)
        if event.type == STORY_CREATED:
            base: Doc = {"story_id": data["story_id"], "title": data.get("title"),
                         "url": data.get("url"), "published": data.get("published"),
                         "published_source": data.get("published_source", "feed"),
                         "summary": data.get("summary", ""),
                         "policy_ids": story_policies(data),
                         "score": data.get("score"), "matched": data.get("matched", []),
                         "created_at": event.position, "revisions": [], "facts": [],
                         "sources": []}
            earlier = doc or {}
            base["sources"] = [_source(data.get("feed"), data.get("url"), data.get("title"),
                                       event, item_key=data.get("item_key"))
                               ] + list(earlier.get("sources", []))
            base["facts"] = list(earlier.get("facts", []))
            base["revisions"] = list(earlier.get("revisions", []))
            return _stamp(base, event)
        current: Doc = dict(doc) if doc else {"story_id": data.get("story_id"), "title": None,
                                              "url": None, "published": None, "sources": [],
                                              "facts": [], "revisions": [], "matched": []}
        if event.type == STORY_CORROBORATED:
            current["policy_ids"] = _union(current.get("policy_ids", []),
                                           data.get("policy_ids", []))
            current["sources"] = [*current.get("sources", []), _source(
                data.get("feed"), data.get("link"), data.get("title"), event,
                similarity=data.get("similarity"), item_key=data.get("item_key"))]
        elif event.type == STORY_REVISED:
            current["revisions"] = [*current.get("revisions", []), {
                "title": data.get("title"), "summary": data.get("summary"),
                "position": event.position, "recorded_at": iso(event.recorded_at)}]
        elif event.type == FACT_EXTRACTED:
            current["facts"] = [*current.get("facts", []), {
                "kind": data.get("kind"), "value": data.get("value"),
                "sentence": data.get("sentence"), "confidence": data.get("confidence"),
                "item_key": data.get("item_key"), "position": event.position}]
        return _stamp(current, event)


def _union(ids: list[str], more: list[str]) -> list[str]:
    """The dossiers a story follows: every one its items matched, first matched first."""
    return list(dict.fromkeys([*ids, *(str(i) for i in more)]))


def _source(feed: Any, link: Any, title: Any, event: RecordedEvent,
            similarity: Any = None, item_key: Any = None) -> dict[str, Any]:
    source = {"feed": feed, "link": link, "title": title, "position": event.position,
              "item_key": item_key}
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


def _corrected(doc: Doc | None, event: RecordedEvent) -> Doc:
    """A merge or split, seen from the document of either story it names."""
    data = event.data
    story_id = str(data["story_id"])
    current: Doc = dict(doc) if doc else {"story_id": None, "title": None, "url": None,
                                          "published": None, "sources": [], "facts": [],
                                          "revisions": [], "matched": []}
    if event.type == STORY_MERGED:
        if current.get("story_id") == story_id:
            current["merged"] = [*current.get("merged", []), str(data["merged_id"])]
        else:
            current["merged_into"] = story_id
    elif event.type == STORY_SPLIT and current.get("story_id") == story_id:
        key = data["item_key"]
        leaving = [s for s in current.get("sources", []) if s.get("item_key") == key]
        current["sources"] = [s for s in current.get("sources", []) if s not in leaving]
        current["split"] = [*current.get("split", []), {
            "item_key": key, "story_id": data["new_story_id"], "position": event.position,
            "facts": [f for f in current.get("facts", []) if f.get("item_key") == key]}]
        current["facts"] = [f for f in current.get("facts", []) if f.get("item_key") != key]
    elif event.type == STORY_SPLIT:
        current.update({
            "story_id": data["new_story_id"], "title": data.get("title"),
            "url": data.get("link"), "published": data.get("published"),
            "split_from": story_id, "created_at": event.position,
            "sources": [_source(data.get("feed"), data.get("link"), data.get("title"), event,
                                item_key=data["item_key"])]})
    return _stamp(current, event)


def combined(docs: Mapping[str, Doc]) -> dict[str, Doc]:
    """The stories as an analyst sees them: a split item's facts in its own story, and each
    merged story's sources, facts and revisions under the story it joined (chains followed),
    the merged story itself left out."""
    out = {key: dict(doc) for key, doc in docs.items()}
    for doc in docs.values():
        for split in doc.get("split", []):
            target = out.get(str(split["story_id"]))
            if target is not None:
                target["facts"] = [*target.get("facts", []), *split["facts"]]

    def kept(key: str) -> str:
        seen = {key}
        while (nxt := out.get(key, {}).get("merged_into")) and nxt not in seen:
            seen.add(nxt)
            key = str(nxt)
        return key

    for key in sorted(out, key=lambda k: out[k].get("position") or 0):
        doc = out[key]
        if not doc.get("merged_into"):
            continue
        target = out.get(kept(key))
        if target is None or target is doc:
            continue
        for field in ("sources", "facts", "revisions"):
            target[field] = [*target.get(field, []), *doc.get(field, [])]
        target["policy_ids"] = _union(target.get("policy_ids", []), doc.get("policy_ids", []))
    return {key: doc for key, doc in out.items() if not doc.get("merged_into")}
