"""Feed subscriptions and their health: application functions behind `tracker feeds ...`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.catalogue import (
    FEED_CHANGED,
    FEED_SUBSCRIBED,
    FEED_UNSUBSCRIBED,
    SUBSCRIPTION_TYPES,
)
from tracker.claims import DEFAULT_TIER
from tracker.dates import iso, utc
from tracker.db import write_connection
from tracker.errors import UsageError
from tracker.events import NewEvent, RecordedEvent
from tracker.ingest.subscriptions import (
    DEFAULT_INTERVAL_S,
    Subscription,
    check_name,
    check_publisher,
    check_tier,
    check_url,
    current,
    parse_interval,
)
from tracker.store.schema import feed_state


def subscriptions(tracker: Tracker) -> dict[str, Subscription]:
    return current(tracker.store.read(types=sorted(SUBSCRIPTION_TYPES)))


def add_feed(tracker: Tracker, name: str, url: str, every: str | None = None,
             tags: tuple[str, ...] = (), allow_local: bool = False,
             publisher: str | None = None, tier: str | None = None,
             allow_private: bool = False) -> Subscription:
    """Follow a feed, or change an existing subscription (only what was given changes).

    ``allow_private`` lets the feed reach internal network addresses; once given it stays
    (remove and add the feed to take it back). A new subscription, a new URL or a new
    permission starts the feed's fetch state afresh: validators and backoff belong to what
    was fetched before.
    """
    check_name(name)
    check_url(url, allow_local, allow_private=True)
    every_seconds = parse_interval(every) if every else DEFAULT_INTERVAL_S
    publisher = check_publisher(publisher) if publisher is not None else None
    tier = check_tier(tier) if tier is not None else None
    stream = f"feed:{name}"
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        subs = current(_feed_events(tracker, conn))
        publisher = _as_known(publisher, name, subs) if publisher is not None else None
        url = check_url(url, allow_local,
                        allow_private or (name in subs and subs[name].allow_private))
        if name in subs:
            old = subs[name]
            changes: dict[str, Any] = {}
            if old.url != url:
                changes["url"] = url
            if allow_private and not old.allow_private:
                changes["allow_private"] = True
            if old.every_seconds != every_seconds and every:
                changes["every_seconds"] = every_seconds
            if tags and tuple(tags) != old.tags:
                changes["tags"] = list(tags)
            changes |= _rating_changes(old, publisher, tier)
            if not changes:
                return old
            tracker.store.append_in(conn, stream, [NewEvent(
                FEED_CHANGED, {"name": name, **changes}, tracker.now(),
                meta={"actor": "cli"})])
            if "url" in changes or "allow_private" in changes:
                _reset_fetch_state(conn, name)
        else:
            tracker.store.append_in(conn, stream, [NewEvent(
                FEED_SUBSCRIBED, {"name": name, "url": url, "every_seconds": every_seconds,
                                  "tags": list(tags), "allow_local": allow_local,
                                  "allow_private": allow_private,
                                  "publisher": publisher or name,
                                  "tier": tier or DEFAULT_TIER},
                tracker.now(), meta={"actor": "cli"})])
            _reset_fetch_state(conn, name)
    return subscriptions(tracker)[name]


def _reset_fetch_state(conn: sa.Connection, name: str) -> None:
    """Forget validators, TTL and backoff: a stale ETag must not answer for a new URL, and a
    feed added again is polled now. Items counted and the lease are left alone."""
    conn.execute(feed_state.update().where(feed_state.c.name == name).values(
        etag=None, last_modified=None, ttl_minutes=None, next_due_at=None,
        consecutive_failures=0, last_error=None, last_error_at=None))


def _as_known(publisher: str, feed: str, subs: dict[str, Subscription]) -> str:
    """A publisher another feed already names, spelt as that feed spells it ("xinhua" is
    "Xinhua"), so one publisher is not split in two by case."""
    return next((s.publisher for s in subs.values()
                 if s.name != feed and s.publisher.casefold() == publisher.casefold()),
                publisher)


def _rating_changes(old: Subscription, publisher: str | None,
                    tier: str | None) -> dict[str, Any]:
    """A changed publisher or tier is written with both (the publishers fold keys on the
    publisher), and a move names the publisher the feed leaves."""
    new_publisher, new_tier = publisher or old.publisher, tier or old.tier
    if (new_publisher, new_tier) == (old.publisher, old.tier):
        return {}
    changes: dict[str, Any] = {"publisher": new_publisher, "tier": new_tier}
    if new_publisher != old.publisher:
        changes["previous_publisher"] = old.publisher
    return changes


def remove_feed(tracker: Tracker, name: str) -> None:
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        subs = current(_feed_events(tracker, conn))
        if name not in subs:
            raise UsageError(f"no feed named {name!r} (see `tracker feeds list`)")
        tracker.store.append_in(conn, f"feed:{name}", [NewEvent(
            FEED_UNSUBSCRIBED, {"name": name, "publisher": subs[name].publisher},
            tracker.now(), meta={"actor": "cli"})])


def _feed_events(tracker: Tracker, conn: sa.Connection) -> list[RecordedEvent]:
    return list(tracker.store.read(types=SUBSCRIPTION_TYPES, conn=conn))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    name: str
    url: str
    every_seconds: int
    tags: tuple[str, ...]
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    consecutive_failures: int
    next_attempt: str | None
    items_recorded: int

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def health(tracker: Tracker) -> list[FeedHealth]:
    """Per feed: what the log recorded (items, failures) beside the fetch schedule."""
    from tracker.projections import PROJECTIONS
    from tracker.projector import Projector, load_docs

    Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up(["feeds"])
    recorded = dict(load_docs(tracker.engine, "feeds", order_by_sort=False))
    subs = subscriptions(tracker)
    with tracker.engine.connect() as conn:
        states = {row.name: row for row in conn.execute(sa.select(feed_state))}

    def when(value: datetime | None) -> str | None:
        return iso(utc(value))[:19] + "Z" if value is not None else None

    out = []
    for name, sub in sorted(subs.items()):
        row = states.get(name)
        doc = recorded.get(name, {})
        failures = int(row.consecutive_failures) if row else 0
        out.append(FeedHealth(
            name=name, url=sub.url, every_seconds=sub.every_seconds, tags=sub.tags,
            last_success=when(row.last_success_at) if row else None,
            last_error=(row.last_error if row and failures else None),
            last_error_at=when(row.last_error_at) if row and failures else None,
            consecutive_failures=failures,
            next_attempt=when(row.next_due_at) if row and row.next_due_at else "now",
            items_recorded=int(doc.get("items_recorded", 0))))
    return out
