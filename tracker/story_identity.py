"""Story identity as analysts correct it: finding a story by id, merging two stories into one
and splitting an item out into a story of its own.

A merge or split is one event on the story's stream; ingest folds it into ``Known`` (see
``tracker.ingest.known``), so later items follow the analyst, and the stories projection shows
it. Bad input writes nothing: the checks run before anything is appended, and a correction's
event id is deterministic, so recording it twice is refused under the append lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.app import Tracker
from tracker.catalogue import STORY_MERGED, STORY_SPLIT
from tracker.dates import iso, utc
from tracker.db import write_connection
from tracker.errors import AlreadyError, UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.lookup import MIN_PREFIX, unique_id
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projector import Projector, load_docs
from tracker.streams import new_story_id, story_stream

STORY_PREFIX = "st-"


def story_docs(tracker: Tracker) -> dict[str, Doc]:
    """Every story document as the log stands (merged and split ones included), by id."""
    Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up(["stories"])
    return dict(load_docs(tracker.engine, "stories"))


def find_story(docs: Mapping[str, Doc], wanted: str) -> str:
    """The id of the one story ``wanted`` names: an id or a unique prefix (``st-`` optional)."""
    return unique_id(docs, wanted, kind="story", listed_by="tracker news",
                     id_prefix=STORY_PREFIX)


def kept_story(docs: Mapping[str, Doc], story_id: str) -> str:
    """The story ``story_id`` is part of now: itself, or the one it was merged into."""
    seen = {story_id}
    while (target := (docs.get(story_id) or {}).get("merged_into")) and target not in seen:
        seen.add(target)
        story_id = str(target)
    return story_id


def group_of(docs: Mapping[str, Doc], story_id: str) -> list[str]:
    """``story_id`` (a kept story) and every story merged into it, the kept one first."""
    return [story_id] + sorted(k for k in docs if k != story_id
                               and kept_story(docs, k) == story_id)


@dataclass(frozen=True, slots=True)
class Correction:
    """What an analyst's merge or split recorded, for the one line the CLI prints."""

    event: RecordedEvent
    story_id: str
    other_id: str


def merge(tracker: Tracker, kept: str, merged: str, note: str | None = None,
          actor: str = "analyst") -> Correction:
    """Merge story ``merged`` into ``kept``: its items join ``kept`` and ingest matches its
    title and links to ``kept`` from now on."""
    docs = story_docs(tracker)
    a, b = find_story(docs, kept), find_story(docs, merged)
    if a == b:
        raise UsageError(f"cannot merge story {a} into itself")
    for sid in (a, b):
        if docs[sid].get("merged_into"):
            raise AlreadyError(f"story {sid} was already merged into "
                               f"{kept_story(docs, sid)}")
    data: dict[str, Any] = {"story_id": a, "merged_id": b}
    if note and note.strip():
        data["note"] = note.strip()
    event = NewEvent(STORY_MERGED, data, _world_time(tracker, docs, a, b),
                     meta={"actor": actor}, event_id=deterministic_id("story-merged", b))
    return Correction(_append_once(tracker, a, event, f"story {b} was already merged"), a, b)


def split(tracker: Tracker, story: str, item: str, note: str | None = None,
          actor: str = "analyst") -> Correction:
    """Take ``item`` (its key, a unique prefix of it, or its link) out of ``story``: it becomes
    a story of its own, and ingest never matches it back."""
    docs = story_docs(tracker)
    sid = find_story(docs, story)
    if docs[sid].get("merged_into"):
        raise UsageError(f"story {sid} was merged into {kept_story(docs, sid)}: "
                         "split from that story")
    holder, source = _find_item(docs, sid, item)
    key = str(source["item_key"])
    if sum(len(docs[k].get("sources", [])) for k in group_of(docs, sid)) < 2:
        raise UsageError(f"item {key} is the only item of story {sid}: nothing to split")
    carried = tracker.store.get(int(source["position"]))
    published = carried.occurred_at if carried is not None else tracker.now()
    new_id = new_story_id(f"split:{holder}", key)
    data: dict[str, Any] = {
        "story_id": holder, "item_key": key, "new_story_id": new_id,
        "feed": source.get("feed"), "link": source.get("link"), "title": source.get("title"),
        "published": iso(published)}
    if note and note.strip():
        data["note"] = note.strip()
    event = NewEvent(STORY_SPLIT, data, published, meta={"actor": actor},
                     event_id=deterministic_id("story-split", holder, key))
    recorded = _append_once(tracker, holder, event, f"item {key} was already split out")
    return Correction(recorded, holder, new_id)


def _append_once(tracker: Tracker, story_id: str, event: NewEvent, refusal: str
                 ) -> RecordedEvent:
    """Append an analyst's correction to the story's stream, unless the log holds it."""
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        if tracker.store.by_ids([event.event_id], conn=conn):
            raise UsageError(refusal)
        [recorded] = tracker.store.append_in(conn, story_stream(story_id), [event])
    return recorded


def _find_item(docs: Mapping[str, Doc], story_id: str, item: str) -> tuple[str, dict[str, Any]]:
    """The story document (``story_id`` or one merged into it) holding ``item``, and its
    source entry."""
    wanted = item.strip()
    held = [(key, source) for key in group_of(docs, story_id)
            for source in docs[key].get("sources", []) if source.get("item_key")]
    found = [(k, s) for k, s in held if wanted in (s["item_key"], s.get("link"))]
    if not found and len(wanted) >= MIN_PREFIX:
        found = [(k, s) for k, s in held if str(s["item_key"]).startswith(wanted)]
    if not found:
        raise UsageError(f"story {story_id} carries no item {item!r} "
                         f"(see `tracker news --explain {story_id}`)")
    if len({s["item_key"] for _k, s in found}) > 1:
        raise UsageError(f"item {item!r} is ambiguous in story {story_id}: give its full key")
    return found[0]


def _world_time(tracker: Tracker, docs: Mapping[str, Doc], *story_ids: str) -> datetime:
    """A merge happens, in world time, when the later story was published: ingest's matching
    window then reads it whenever it reads either story."""
    times = [utc(datetime.fromisoformat(str(docs[s]["published"])))
             for s in story_ids if docs[s].get("published")]
    return max(times) if times else tracker.now()
