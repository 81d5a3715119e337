"""Where the record comes from: one document per cited source (a seed document or a story).

Each citing event adds one entry; the source's own details (publication, headline, link) are
read from the latest entry, so a retraction that removes the last citation deletes the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker.catalogue import (
    ACTOR_IDENTIFIED,
    DOSSIER_TYPES,
    RETRACTED,
    STORY_CREATED,
    STORY_TYPES,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projections.shared import (
    History,
    assertion,
    citation_of,
    current,
    retracted_position,
    without_position,
)


def source_key(event: RecordedEvent) -> str | None:
    """A seed source's id, or the story id for news."""
    citation = citation_of(event)
    for name in ("id", "story_id"):
        value = citation.get(name)
        if value:
            return str(value)
    link = citation.get("url") or citation.get("link")
    return str(link) if link else None


def build(key: str, history: History, event: RecordedEvent) -> Doc:
    cites = [entry for _slot, entry in current(history, "cite:")]
    latest: dict[str, Any] = dict(cites[-1]["value"]["citation"]) if cites else {}
    story = next((c["value"] for c in reversed(cites) if c["value"]["type"] == STORY_CREATED),
                 None)
    links: list[str] = []
    for cite in cites:
        for name in ("url", "link"):
            url = cite["value"]["citation"].get(name) or cite["value"].get(name)
            if url and url not in links:
                links.append(str(url))
    by_type: dict[str, int] = {}
    for cite in cites:
        by_type[cite["value"]["type"]] = by_type.get(cite["value"]["type"], 0) + 1
    return {
        "id": key,
        "kind": "story" if "story_id" in latest and "id" not in latest else "document",
        "publication": latest.get("publication") or (story or {}).get("feed"),
        "headline": latest.get("headline") or latest.get("title"),
        "date": latest.get("date") or (story or {}).get("published"),
        "document": latest.get("document"),
        "links": links,
        "citations": [{"position": c["position"], "type": c["value"]["type"],
                       "paragraph": c["value"]["citation"].get("paragraph"),
                       "occurred_at": c["occurred_at"]} for c in cites],
        "by_type": dict(sorted(by_type.items())),
        "position": event.position,
        "updated_at": iso(event.recorded_at),
        "history": history,
    }


class Sources(Projection):
    """One document per source, listing the log positions that cite it."""

    name = "sources"
    version = 1
    types: frozenset[str] = DOSSIER_TYPES | STORY_TYPES | {ACTOR_IDENTIFIED}

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        if event.type not in self.types:
            return []
        key = source_key(event)
        return [key] if key else []

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.type == RETRACTED:
            target = retracted_position(event)
            if doc is None or target is None:
                return doc
            remaining = without_position(doc["history"], target)
            return build(doc["id"], remaining, event) if remaining else None
        key = source_key(event) if event.type in self.types else None
        if key is None:
            return doc
        history: History = dict(doc["history"]) if doc else {}  # entries are never edited
        value = {"type": event.type, "citation": citation_of(event),
                 "feed": event.data.get("feed"), "published": event.data.get("published"),
                 "link": event.data.get("link") or event.data.get("url")}
        history[f"cite:{event.position:012d}"] = [assertion(event, value, [])]
        return build(key, history, event)

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{doc.get('date') or ''}\x1f{key}"
