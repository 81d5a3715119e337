"""Feed subscriptions and their health: application functions behind `tracker feeds ...`."""

from __future__ import annotations

import json
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
from tracker.dates import iso, utc
from tracker.db import write_connection
from tracker.errors import UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.ingest.subscriptions import (
    DEFAULT_INTERVAL_S,
    Subscription,
    check_name,
    check_url,
    current,
    parse_interval,
)
from tracker.resources import seeds_dir
from tracker.store.schema import feed_state


def subscriptions(tracker: Tracker) -> dict[str, Subscription]:
    return current(tracker.store.read(types=sorted(SUBSCRIPTION_TYPES)))


def add_feed(tracker: Tracker, name: str, url: str, every: str | None = None,
             tags: tuple[str, ...] = (), allow_local: bool = False) -> Subscription:
    check_name(name)
    url = check_url(url, allow_local)
    every_seconds = parse_interval(every) if every else DEFAULT_INTERVAL_S
    stream = f"feed:{name}"
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        subs = current(_feed_events(tracker, conn))
        if name in subs:
            old = subs[name]
            changes: dict[str, Any] = {}
            if old.url != url:
                changes["url"] = url
            if old.every_seconds != every_seconds and every:
                changes["every_seconds"] = every_seconds
            if tags and tuple(tags) != old.tags:
                changes["tags"] = list(tags)
            if not changes:
                return old
            tracker.store.append_in(conn, stream, [NewEvent(
                FEED_CHANGED, {"name": name, **changes}, tracker.now(),
                meta={"actor": "cli"})])
        else:
            tracker.store.append_in(conn, stream, [NewEvent(
                FEED_SUBSCRIBED, {"name": name, "url": url, "every_seconds": every_seconds,
                                    "tags": list(tags), "allow_local": allow_local},
                tracker.now(), meta={"actor": "cli"})])
    return subscriptions(tracker)[name]


def remove_feed(tracker: Tracker, name: str) -> None:
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        if name not in current(_feed_events(tracker, conn)):
            raise UsageError(f"no feed named {name!r} (see `tracker feeds list`)")
        tracker.store.append_in(conn, f"feed:{name}", [NewEvent(
            FEED_UNSUBSCRIBED, {"name": name}, tracker.now(), meta={"actor": "cli"})])


def _feed_events(tracker: Tracker, conn: sa.Connection) -> list[RecordedEvent]:
    return list(tracker.store.read(types=SUBSCRIPTION_TYPES, conn=conn))


def default_subscription_events() -> list[tuple[str, NewEvent]]:
    """The shipped subscription list (seeds/feeds.json) as deterministic events: loading it
    again adds nothing, and a default feed the user removed stays removed."""
    path = seeds_dir() / "feeds.json"
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(entries, dict):
        entries = entries.get("feeds", [])
    out: list[tuple[str, NewEvent]] = []
    epoch = datetime(2025, 5, 1)
    for entry in entries:
        name = check_name(str(entry["name"]))
        url = check_url(str(entry["url"]), allow_local=False)
        every = parse_interval(str(entry.get("every", "30m")))
        out.append((f"feed:{name}", NewEvent(
            FEED_SUBSCRIBED, {"name": name, "url": url, "every_seconds": every,
                                "tags": list(entry.get("tags", [])), "allow_local": False},
            epoch, "day", meta={"actor": "seed", "source": {"id": "seeds/feeds.json"}},
            event_id=deterministic_id("seed-feed", name))))
    return out


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
