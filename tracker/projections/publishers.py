"""Who publishes what we read, and how far to trust them: one document per publisher.

A publisher's tier is given by its feed subscriptions and by the seed sources that name it (the
latest of these wins), unless an analyst rated it (``publisher.rated``): the latest rating
stands over what feeds and seeds give. Feed events are records of our own actions, so, as in the
subscription fold, a retraction does not undo them; a retracted rating or seed event is dropped
and what it had superseded comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.catalogue import (
    ACTOR_IDENTIFIED,
    DOSSIER_TYPES,
    FEED_CHANGED,
    FEED_SUBSCRIBED,
    FEED_UNSUBSCRIBED,
    PUBLISHER_RATED,
    RETRACTED,
    SUBSCRIPTION_TYPES,
)
from tracker.claims import DEFAULT_TIER, TIERS, tier_rank
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projections.shared import (
    History,
    assertion,
    citation_of,
    push,
    retracted_position,
    without_position,
)

#: Seed events cite a source in meta.source; those naming a publisher make it known.
SEED_TYPES: frozenset[str] = DOSSIER_TYPES | {ACTOR_IDENTIFIED}

#: Given entries are keyed by where the tier came from: ``feed:NAME`` or ``seed:SOURCE_ID``.
Given = dict[str, dict[str, Any]]


def seed_source(event: RecordedEvent) -> Mapping[str, Any] | None:
    """The seed source an event cites, when that source names its publisher."""
    source = event.citation
    return source if source is not None and source.get("publisher") else None


def publishers_named(event: RecordedEvent) -> list[str]:
    """The publishers an event touches: a feed's (and, on a move, the one it leaves), a rated
    one, or a cited seed source's."""
    data = event.data
    if event.type in (FEED_SUBSCRIBED, FEED_UNSUBSCRIBED):
        return [str(data.get("publisher") or data.get("name"))]
    if event.type == FEED_CHANGED:
        if not data.get("publisher"):
            return []  # URL, interval or tags only
        previous = data.get("previous_publisher")
        named = [str(data["publisher"])]
        return named + [str(previous)] if previous and previous != data["publisher"] else named
    if event.type == PUBLISHER_RATED:
        return [str(data["publisher"])]
    if event.type in SEED_TYPES:
        source = seed_source(event)
        return [str(source["publisher"])] if source is not None else []
    return []


def _given_by_feed(given: Given, event: RecordedEvent, publisher: str) -> Given:
    data = event.data
    feed = str(data.get("name"))
    key = f"feed:{feed}"
    out = dict(given)
    if event.type == FEED_UNSUBSCRIBED:
        if key in out:
            out[key] = {**out[key], "active": False}
        return out
    if event.type == FEED_CHANGED and data.get("publisher") != publisher:
        out.pop(key, None)  # the feed moved to another publisher
        return out
    out[key] = {"feed": feed, "tier": str(data.get("tier") or DEFAULT_TIER), "active": True,
                "position": event.position, "citation": citation_of(event)}
    return out


def _given_by_seed(given: Given, event: RecordedEvent, source: Mapping[str, Any]) -> Given:
    key = f"seed:{source.get('id')}"
    positions = [*given.get(key, {}).get("positions", ()), event.position]
    out = dict(given)
    out[key] = {"source": source.get("id"), "tier": str(source.get("tier") or DEFAULT_TIER),
                "positions": positions, "position": max(positions),
                "citation": dict(source)}
    return out


def _without_seed_position(given: Given, position: int) -> Given:
    out: Given = {}
    for key, entry in given.items():
        if key.startswith("seed:") and position in entry["positions"]:
            positions = [p for p in entry["positions"] if p != position]
            if not positions:
                continue
            entry = {**entry, "positions": positions, "position": max(positions)}
        out[key] = entry
    return out


def build(publisher: str, given: Given, history: History, event: RecordedEvent) -> Doc | None:
    """The visible document: the tier in force, who set it and on what positions."""
    if not given and not history.get("rated"):
        return None
    latest = max(given.values(), key=lambda g: g["position"]) if given else None
    tier_given = latest["tier"] if latest is not None else None
    ratings = history.get("rated") or []
    if ratings:
        rating = ratings[-1]
        tier, set_by = rating["value"]["tier"], "analyst"
        note, sources = rating["value"].get("note"), rating["sources"]
    else:
        assert latest is not None
        tier, set_by, note = latest["tier"], "feed" if "feed" in latest else "seed", None
        sources = [{"position": latest["position"], "citation": latest["citation"]}]
    return {
        "publisher": publisher,
        "tier": tier,
        "tier_set_by": set_by,
        "tier_given": tier_given,
        "note": note,
        "feeds": sorted(g["feed"] for g in given.values() if g.get("active")),
        "sources": sources,
        "position": event.position,
        "updated_at": iso(event.recorded_at),
        "given": given,
        "history": history,
    }


def _withdrawn(doc: Doc | None, retraction: RecordedEvent) -> Doc | None:
    """``doc`` without what the retracted rating or seed event set."""
    target = retracted_position(retraction)
    if doc is None or target is None:
        return doc
    given = _without_seed_position(doc["given"], target)
    history = without_position(doc["history"], target)
    if given == doc["given"] and history == doc["history"]:
        return doc  # a feed event: not undone (see the module docstring)
    return build(doc["publisher"], given, history, retraction)


class Publishers(Projection):
    """One document per publisher: its tier in force, who set it, and its feeds."""

    name = "publishers"
    version = 1
    types: frozenset[str] = SUBSCRIPTION_TYPES | {PUBLISHER_RATED} | SEED_TYPES

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        return publishers_named(event) if event.type in self.types else []

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.type == RETRACTED:
            return _withdrawn(doc, event)
        named = publishers_named(event) if event.type in self.types else []
        if not named:
            return doc
        publisher = doc["publisher"] if doc else named[0]
        given: Given = doc["given"] if doc else {}
        history: History = dict(doc["history"]) if doc else {}
        if event.type in SUBSCRIPTION_TYPES:
            given = _given_by_feed(given, event, publisher)
        elif event.type == PUBLISHER_RATED:
            push(history, "rated", assertion(event, {
                "tier": event.data["tier"], "note": event.data.get("note")}))
        else:
            source = seed_source(event)
            assert source is not None
            given = _given_by_seed(given, event, source)
        return build(publisher, given, history, event)

    def sort_key(self, key: str, doc: Doc) -> str:
        strength = len(TIERS) - tier_rank(doc.get("tier"))
        return f"{strength}\x1f{(doc.get('publisher') or key).casefold()}\x1f{key}"
