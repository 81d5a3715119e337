"""Publishers and their tiers: application functions behind `tracker sources ...`."""

from __future__ import annotations

from typing import Any

from tracker.app import Tracker
from tracker.catalogue import PUBLISHER_RATED
from tracker.errors import UsageError
from tracker.events import NewEvent
from tracker.ingest.subscriptions import check_tier
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projector import Projector, load_docs

PROJECTION = "publishers"
#: What a listing shows of each publisher document (the rest is the fold's own bookkeeping).
SHOWN = ("publisher", "tier", "tier_set_by", "tier_given", "note", "feeds", "sources")


def _documents(tracker: Tracker) -> list[Doc]:
    Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up([PROJECTION])
    return [doc for _key, doc in load_docs(tracker.engine, PROJECTION)]


def publishers(tracker: Tracker) -> dict[str, Any]:
    """Every publisher the log knows, strongest tier first."""
    return {"publishers": [{field: doc.get(field) for field in SHOWN}
                           for doc in _documents(tracker)]}


def known_publisher(docs: list[Doc], name: str) -> str:
    """The publisher ``name`` means, as the log spells it (case and spacing aside)."""
    wanted = " ".join(name.split())
    names = [doc["publisher"] for doc in docs]
    if wanted in names:
        return wanted
    matches = [n for n in names if n.casefold() == wanted.casefold()]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"unknown publisher {name!r}: no feed or seed source names it "
                     f"(see `tracker sources`)")


def set_tier(tracker: Tracker, publisher: str, tier: str, note: str | None = None) -> Doc:
    """Record an analyst's rating of a publisher; returns the publisher as it now stands."""
    check_tier(tier)
    name = known_publisher(_documents(tracker), publisher)
    data: dict[str, Any] = {"publisher": name, "tier": tier}
    if note and note.strip():
        data["note"] = note.strip()
    tracker.store.append(f"publisher:{name}", [NewEvent(
        PUBLISHER_RATED, data, tracker.now(), meta={"actor": "cli"})])
    return next(doc for doc in publishers(tracker)["publishers"] if doc["publisher"] == name)
