"""What the log already knows about items and stories, and the matching window over it.

``decide`` is a pure function of the items a feed gave and :class:`Known`: the item events
recorded, and every story's identity (its title, links, items; analysts' merges and
splits) folded from the story events. Folding lives here, apart from deciding, because two
callers keep it up to date in their own ways: the shell reads the log into ``Known``
(``ingest.knowledge``), and ``tracker reclassify`` attaches a run of late items through a
:class:`StoryWorkspace`, which folds each attachment in at once and serves every item's
matching window (:class:`StoryWindow`) from one :class:`~tracker.ingest.story_index.
StoryIndex`. Pure: it reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from tracker.catalogue import (
    ITEM_RECORDED,
    ITEM_REVISED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_REVISED,
    STORY_SPLIT,
)
from tracker.ingest.matching import HasTitle, StoryCandidate
from tracker.ingest.story_index import StoryIndex

#: The events a story's identity (title, links, items) is folded from.
#: Analysts' merges and splits are among them: later ingests respect them.
STORY_IDENTITY_TYPES = frozenset({STORY_CREATED, STORY_CORROBORATED, STORY_REVISED,
                                  STORY_MERGED, STORY_SPLIT})


class _Event(Protocol):
    """What folding into ``Known`` needs: a recorded event, or one only planned (dry run)."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Known:
    """What the log knows that decides what a feed's items become.

    ``items``: stored item events (records and revisions) by event id, with their data.
    ``stories``: the stories to match against, with the latest world time each was seen.
    ``stored_ids``: ids known to be in the log (or already planned, in a dry run).
    ``position``: the last log position folded in, so the shell reads only what came after.
    ``merged_into``: stories an analyst merged, to the story they joined. A merged story stays
    in ``stories`` under its own id as a candidate naming the story it joined, so its title,
    links and items match that story.
    ``index``: the candidate index ``decide`` matches through, a cache carried from each
    ``Known`` to those derived from it (so one pass indexes each story once); it never
    changes what ``decide`` decides.
    """

    items: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stories: Mapping[str, StoryCandidate] = field(default_factory=dict)
    latest: Mapping[str, datetime] = field(default_factory=dict)
    stored_ids: frozenset[str] = frozenset()
    position: int = 0
    merged_into: Mapping[str, str] = field(default_factory=dict)
    index: StoryIndex = field(default_factory=StoryIndex, compare=False, repr=False)

    def with_items(self, found: Mapping[str, Mapping[str, Any]]) -> Known:
        return replace(self, items={**self.items, **found},
                       stored_ids=self.stored_ids | set(found))

    def with_events(self, events: Iterable[_Event], position: int | None = None) -> Known:
        """``self`` with ``events`` folded in: recorded ones (and then ``position``), or a dry
        run's planned ones, so later feeds of the pass see them."""
        stories, latest = dict(self.stories), dict(self.latest)
        merged_into = dict(self.merged_into)
        items = dict(self.items)
        ids = set(self.stored_ids)
        for event in events:
            ids.add(event.event_id)
            if event.type in STORY_IDENTITY_TYPES:
                _fold_story(stories, latest, merged_into, event)
            elif event.type in (ITEM_RECORDED, ITEM_REVISED):
                items[event.event_id] = event.data
        return Known(items, stories, latest, frozenset(ids),
                     self.position if position is None else position, merged_into, self.index)

    def candidates(self, since: datetime) -> dict[str, StoryCandidate]:
        """The stories seen in the world from ``since`` on (the matching window)."""
        return {sid: story for sid, story in self.stories.items() if self.latest[sid] >= since}

    def carrier(self, item_key: str) -> str | None:
        """The story that carries ``item_key``: the first, in order, that holds it, if any."""
        return next((story.story_id for story in self.stories.values()
                     if item_key in story.item_keys), None)


def _fold_story(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], event: _Event) -> None:
    data = event.data
    if event.type == STORY_MERGED:
        _fold_merge(stories, latest, merged_into, str(data["story_id"]), str(data["merged_id"]))
        return
    if event.type == STORY_SPLIT:
        _fold_split(stories, latest, merged_into, event)
        return
    sid = merged_into.get(str(data["story_id"]), str(data["story_id"]))
    link = data.get("url") if event.type == STORY_CREATED else data.get("link")
    old = stories.get(sid) or StoryCandidate(
        story_id=sid, title=str(data.get("title", "")), links=frozenset(),
        published=event.occurred_at, item_keys=frozenset())
    item_key = str(data["item_key"]) if data.get("item_key") else None
    if event.type == STORY_CORROBORATED:
        stories[sid] = old.joined(str(data.get("title") or ""), event.occurred_at,
                                  str(link) if link else None, item_key)
    else:
        stories[sid] = replace(
            old, title=str(data.get("title") or old.title),
            summary=str(data.get("summary") or old.summary),
            links=old.links | ({str(link)} if link else set()),
            item_keys=old.item_keys | ({item_key} if item_key else set()))
    seen = latest.get(sid)
    latest[sid] = event.occurred_at if seen is None else max(seen, event.occurred_at)


def _fold_merge(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], kept: str, merged: str) -> None:
    """Every candidate that matched ``merged`` (its own, and those merged into it before) now
    names ``kept``; they share the later of their matching windows."""
    kept = merged_into.get(kept, kept)
    for source, target in list(merged_into.items()):
        if target == merged:
            merged_into[source] = kept
    merged_into[merged] = kept
    group = [k for k, c in stories.items() if c.story_id in (kept, merged)]
    if not group:
        return
    seen = max(latest[k] for k in group)
    for key in group:
        candidate = stories[key]
        if candidate.story_id == merged:
            stories[key] = replace(candidate, story_id=kept)
        latest[key] = seen
    if kept not in stories:  # the kept story's own events fell outside the window read
        stories[kept] = stories[merged]


def _fold_split(stories: dict[str, StoryCandidate], latest: dict[str, datetime],
                merged_into: dict[str, str], event: _Event) -> None:
    """The item leaves every candidate of its old story (it never matches back there) and is
    the only item of its new story."""
    data = event.data
    old = merged_into.get(str(data["story_id"]), str(data["story_id"]))
    item_key, link = str(data["item_key"]), data.get("link")
    for key, candidate in list(stories.items()):
        if candidate.story_id == old and item_key in candidate.item_keys:
            stories[key] = replace(candidate, item_keys=candidate.item_keys - {item_key},
                                   links=candidate.links - {str(link)})
    new = str(data["new_story_id"])
    stories[new] = StoryCandidate(
        story_id=new, title=str(data.get("title") or ""),
        links=frozenset({str(link)} if link else set()), published=event.occurred_at,
        item_keys=frozenset({item_key}), pinned=True)
    latest[new] = event.occurred_at


class StoryWorkspace:
    """``known``'s stories while a run of late attachments changes them (``tracker
    reclassify``): :func:`~tracker.ingest.decide.decide_story_in` plans what
    :func:`~tracker.ingest.decide.decide_story` would plan against
    ``known`` with every earlier attachment of the run recorded and read back, but folds each
    in at once (as ``Known.with_events`` folds them) and matches through one index over every
    story, the window an item asks for being a filter on it rather than a copy. So a run is
    linear in its items, where reading ``Known`` again for each was quadratic.
    """

    def __init__(self, known: Known) -> None:
        self.stories: dict[str, StoryCandidate] = dict(known.stories)
        self.latest: dict[str, datetime] = dict(known.latest)
        self.merged_into: dict[str, str] = dict(known.merged_into)
        self.index = known.index.sync(self.stories)
        self._stored = known.stored_ids
        self._planned: set[str] = set()
        self._holders: dict[str, set[str]] = {}
        self._hold_all()

    def carrier(self, item_key: str) -> str | None:
        """The story that carries ``item_key``, as :meth:`Known.carrier` finds it (the first
        story, in order, that holds the item), if any."""
        holders = self._holders.get(item_key)
        if not holders:
            return None
        return self.stories[min(holders, key=self.index.position)].story_id

    def window(self, since: datetime) -> StoryWindow:
        """The stories seen from ``since`` on, for one attachment to read and write."""
        return StoryWindow(self, since)

    def fold(self, events: Iterable[_Event], written: Mapping[str, StoryCandidate]) -> None:
        """Fold the story events of one attachment in; what attaching wrote to the index as
        it decided (its working copy) gives way to what they fold into."""
        folded = [e for e in events if e.type in STORY_IDENTITY_TYPES
                  and e.event_id not in self._stored and e.event_id not in self._planned]
        self._planned.update(e.event_id for e in folded)
        if any(e.type in (STORY_MERGED, STORY_SPLIT) for e in folded):
            for event in folded:
                _fold_story(self.stories, self.latest, self.merged_into, event)
            self.index.sync(self.stories)
            self._hold_all()
            return
        touched = set(written)
        for event in folded:
            sid = str(event.data["story_id"])
            touched.add(self.merged_into.get(sid, sid))
        before = {key: self.stories.get(key) for key in touched}
        for event in folded:
            _fold_story(self.stories, self.latest, self.merged_into, event)
        for key in touched:
            story = self.stories.get(key)
            if story is None:
                if key in self.index:
                    del self.index[key]
                continue
            self.index[key] = story
            self._hold(key, before[key], story)

    def _hold_all(self) -> None:
        self._holders = {}
        for key, story in self.stories.items():
            for item_key in story.item_keys:
                self._holders.setdefault(item_key, set()).add(key)

    def _hold(self, key: str, old: StoryCandidate | None, new: StoryCandidate) -> None:
        before = old.item_keys if old is not None else frozenset()
        for item_key in before - new.item_keys:
            self._holders[item_key].discard(key)
        for item_key in new.item_keys - before:
            self._holders.setdefault(item_key, set()).add(key)


class StoryWindow:
    """The stories of a workspace seen from ``since`` on (what ``Known.candidates(since)``
    gives), and the working copy attaching one item writes as it decides (kept apart from the
    workspace's stories, which fold the item's events afterwards)."""

    def __init__(self, space: StoryWorkspace, since: datetime) -> None:
        self.space = space
        self.since = since
        self.written: dict[str, StoryCandidate] = {}

    def _seen(self, key: str) -> bool:
        if key in self.written:
            return True
        latest = self.space.latest.get(key)
        return latest is not None and latest >= self.since

    def __getitem__(self, key: str) -> StoryCandidate:
        if key in self.written:
            return self.written[key]
        if not self._seen(key):
            raise KeyError(key)
        return self.space.stories[key]

    def __setitem__(self, key: str, story: StoryCandidate) -> None:
        self.written[key] = story
        self.space.index[key] = story

    def likely(self, item: HasTitle) -> list[StoryCandidate]:
        return [self[key] for key in self.space.index.likely_keys(item) if self._seen(key)]

    def story_keys(self, story_id: str) -> list[str]:
        return [key for key in self.space.index.story_keys(story_id) if self._seen(key)]

    def of_story(self, story_id: str) -> list[StoryCandidate]:
        return [self[key] for key in self.story_keys(story_id)]


class Candidates(Protocol):
    """What attaching an item reads and writes: a :class:`StoryIndex`, or a window on one."""

    def __getitem__(self, key: str) -> StoryCandidate: ...
    def __setitem__(self, key: str, story: StoryCandidate) -> None: ...
    def likely(self, item: HasTitle) -> list[StoryCandidate]: ...
    def of_story(self, story_id: str) -> list[StoryCandidate]: ...
    def story_keys(self, story_id: str) -> list[str]: ...
