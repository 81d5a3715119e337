"""Feed health as the log tells it: subscription, failures and recoveries, items recorded."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from tracker.catalogue import (
    FEED_CHANGED,
    FEED_FAILED,
    FEED_RECOVERED,
    FEED_SUBSCRIBED,
    FEED_UNSUBSCRIBED,
    ITEM_RECORDED,
    RETRACTED,
    SUBSCRIPTION_TYPES,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection


@lru_cache(maxsize=1024)
def _iso(dt: datetime) -> str:
    """``iso``, remembered: a batch of items shares one recorded_at."""
    return iso(dt)


class FeedHealth(Projection):
    """One document per feed: its subscription, failures and recoveries, items recorded.

    A feed subscribed again, or moved to another URL, starts with no failures in a row: they
    were the old subscription's.
    """

    name = "feeds"
    version = 2
    types: frozenset[str] = SUBSCRIPTION_TYPES | {FEED_FAILED, FEED_RECOVERED, ITEM_RECORDED}

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        name = event.data.get("feed") if event.type == ITEM_RECORDED else event.data.get("name")
        return [str(name)] if name else []

    def sort_key(self, key: str, doc: Doc) -> str:
        return key

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.type == RETRACTED:
            return doc  # subscriptions and fetch outcomes are records of our own actions
        data = event.data
        out: Doc = dict(doc) if doc else {"name": data.get("name") or data.get("feed"),
                                          "active": False, "items_recorded": 0,
                                          "failures_total": 0, "consecutive_failures": 0}
        when = _iso(event.recorded_at)
        if event.type == FEED_SUBSCRIBED:
            out.update(url=data["url"], every_seconds=data["every_seconds"],
                       tags=data.get("tags", []), active=True, subscribed_at=when,
                       subscribed_position=event.position)
            _fresh_start(out)
        elif event.type == FEED_CHANGED:
            for field in ("url", "every_seconds", "tags"):
                if data.get(field) is not None:
                    out[field] = data[field]
            if data.get("url") is not None or data.get("allow_private"):
                _fresh_start(out)
        elif event.type == FEED_UNSUBSCRIBED:
            out.update(active=False, unsubscribed_at=when)
        elif event.type == FEED_FAILED:
            out.update(last_error=data.get("error"), last_error_at=when,
                       consecutive_failures=data.get("consecutive_failures", 1),
                       failures_total=out.get("failures_total", 0) + 1)
        elif event.type == FEED_RECOVERED:
            out.update(consecutive_failures=0, recovered_at=when)
        elif event.type == ITEM_RECORDED:
            out["items_recorded"] = out.get("items_recorded", 0) + 1
            out["last_item_at"] = when
        out["position"] = event.position
        return out


def _fresh_start(doc: Doc) -> None:
    doc["consecutive_failures"] = 0
    doc.pop("last_error", None)
    doc.pop("last_error_at", None)
