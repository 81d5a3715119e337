"""Feed subscriptions and their health: application functions behind `tracker feeds ...`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.catalogue import (
    FEED_CHANGED,
    FEED_SUBSCRIBED,
    FEED_UNSUBSCRIBED,
    SUBSCRIPTION_TYPES,
)
from tracker.claims import DEFAULT_TIER
from tracker.dates import iso, read_instant, utc
from tracker.db import write_connection
from tracker.errors import AlreadyError, UsageError
from tracker.events import NewEvent, RecordedEvent
from tracker.ingest import netpolicy
from tracker.ingest.subscriptions import (
    DEFAULT_INTERVAL_S,
    Subscription,
    check_name,
    check_publisher,
    check_tier,
    check_url,
    current,
    evolve,
    parse_interval,
)
from tracker.store.schema import feed_state


def subscriptions(tracker: Tracker) -> dict[str, Subscription]:
    return current(tracker.store.read(types=sorted(SUBSCRIPTION_TYPES)))


def add_feed(tracker: Tracker, name: str, url: str, every: str | None = None,
             tags: tuple[str, ...] = (), allow_local: bool = False,
             publisher: str | None = None, tier: str | None = None,
             allow_private: bool = False, force: bool = False) -> Subscription:
    """Follow a feed, or change an existing subscription (only what was given changes).

    ``allow_private`` lets the feed reach internal network addresses; once given it stays
    (remove and add the feed to take it back). A new subscription, a new URL or a new
    permission starts the feed's fetch state afresh: validators and backoff belong to what
    was fetched before. A URL another feed already follows is refused (``AlreadyError``)
    unless ``force``: the same items would be recorded twice, as two publishers.
    """
    check_name(name)
    check_url(url, allow_local, allow_private=True)
    every_seconds = parse_interval(every) if every else None
    publisher = check_publisher(publisher) if publisher is not None else None
    tier = check_tier(tier) if tier is not None else None
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        subs = current(_feed_events(tracker, conn))
        _subscribe_in(tracker, conn, subs, name, url, every_seconds, tags, allow_local,
                      allow_private, publisher, tier, force)
    return subscriptions(tracker)[name]


def _subscribe_in(tracker: Tracker, conn: sa.Connection, subs: dict[str, Subscription],
                  name: str, url: str, every_seconds: int | None, tags: tuple[str, ...],
                  allow_local: bool, allow_private: bool, publisher: str | None,
                  tier: str | None, force: bool) -> bool:
    """Subscribe ``name`` (or change it) inside the caller's write transaction; ``subs`` (the
    subscriptions as the log has them) is updated. Returns whether anything was recorded."""
    stream = f"feed:{name}"
    publisher = _as_known(publisher, name, subs) if publisher is not None else None
    url = check_url(url, allow_local,
                    allow_private or (name in subs and subs[name].allow_private))
    if not force and (name not in subs or subs[name].url != url):
        other = followed_as(subs, url, name)
        if other is not None:
            raise AlreadyError(f"{netpolicy.redact(url)} is already followed as {other!r}: "
                               "give --force to follow it under a second name too")
    if name in subs:
        old = subs[name]
        changes: dict[str, Any] = {}
        if old.url != url:
            changes["url"] = url
        if allow_private and not old.allow_private:
            changes["allow_private"] = True
        if every_seconds is not None and old.every_seconds != every_seconds:
            changes["every_seconds"] = every_seconds
        if tags and tuple(tags) != old.tags:
            changes["tags"] = list(tags)
        changes |= _rating_changes(old, publisher, tier)
        if not changes:
            return False
        recorded = tracker.store.append_in(conn, stream, [NewEvent(
            FEED_CHANGED, {"name": name, **changes}, tracker.now(), meta={"actor": "cli"})])
        if "url" in changes or "allow_private" in changes:
            _reset_fetch_state(conn, name)
    else:
        recorded = tracker.store.append_in(conn, stream, [NewEvent(
            FEED_SUBSCRIBED, {"name": name, "url": url,
                              "every_seconds": every_seconds or DEFAULT_INTERVAL_S,
                              "tags": list(tags), "allow_local": allow_local,
                              "allow_private": allow_private,
                              "publisher": publisher or name,
                              "tier": tier or DEFAULT_TIER},
            tracker.now(), meta={"actor": "cli"})])
        _reset_fetch_state(conn, name)
    for event in recorded:
        subs.update(evolve(subs, event))
    return True


def _url_key(url: str) -> str:
    """A URL compared as a reader would: scheme and host in any case, no trailing slash."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def followed_as(subs: Mapping[str, Subscription], url: str, name: str | None = None
                ) -> str | None:
    """The name of another feed that already follows ``url`` (None when none does)."""
    key = _url_key(url)
    return next((other for other, sub in sorted(subs.items())
                 if other != name and _url_key(sub.url) == key), None)


# -- OPML -----------------------------------------------------------------------------------------


def export_opml(tracker: Tracker) -> str:
    """The subscriptions as an OPML 2.0 document (``tracker feeds export --format opml``)."""
    from tracker.opml import OpmlFeed, export

    return export(OpmlFeed(sub.name, sub.url, sub.tags, sub.every_seconds, sub.publisher,
                           sub.tier, sub.allow_local, sub.allow_private)
                  for _name, sub in sorted(subscriptions(tracker).items()))


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]

    def line(self) -> str:
        return (f"imported {len(self.added) + len(self.changed) + len(self.unchanged)} "
                f"feed(s): {len(self.added)} new, {len(self.changed)} changed, "
                f"{len(self.unchanged)} already followed")


def import_opml(tracker: Tracker, data: bytes, source: str, *, allow_local: bool = False,
                allow_private: bool = False, force: bool = False) -> ImportResult:
    """Follow every feed an OPML document lists, all or nothing: each is checked first (as
    ``feeds add`` checks one), then all are recorded in one transaction. A feed already
    followed under its name and URL is left as it is; a name that follows another URL, or a
    URL another name follows, is refused unless ``force`` (the name then takes the file's
    URL; the URL is followed under both names)."""
    from tracker.opml import parse

    feeds = parse(data, source)
    followed = subscriptions(tracker)
    checked = []
    for feed in feeds:
        where = f"{source}: feed {feed.name!r}"
        old = followed.get(feed.name)
        same = old is not None and old.url == feed.url  # its permissions were given before
        local_ok = allow_local or (same and old is not None and old.allow_local)
        private_ok = allow_private or (same and old is not None and old.allow_private)
        try:
            check_name(feed.name)
            if feed.allow_private and not private_ok:
                raise UsageError("it may reach internal network addresses: give "
                                 "--allow-private to import it")
            url = check_url(feed.url, local_ok, private_ok)
            every = parse_interval(f"{feed.every_seconds}s") if feed.every_seconds else None
            publisher = check_publisher(feed.publisher) if feed.publisher else None
            tier = check_tier(feed.tier) if feed.tier else None
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        checked.append((feed, url, every, publisher, tier))
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        subs = current(_feed_events(tracker, conn))
        for feed, url, every, publisher, tier in checked:
            old = subs.get(feed.name)
            if old is not None and old.url != url and not force:
                raise AlreadyError(f"{source}: feed {feed.name!r} already follows "
                                   f"{netpolicy.redact(old.url)}: give --force to change it "
                                   "to the file's URL")
            try:
                recorded = _subscribe_in(tracker, conn, subs, feed.name, url, every,
                                         feed.tags, url.startswith("file:"),
                                         feed.allow_private, publisher, tier, force)
            except AlreadyError as exc:
                raise AlreadyError(f"{source}: feed {feed.name!r}: {exc}") from None
            (unchanged if not recorded else added if old is None else changed).append(
                feed.name)
    return ImportResult(tuple(added), tuple(changed), tuple(unchanged))


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


#: A feed not fetched successfully for this many times its interval is stale.
STALE_AFTER_INTERVALS = 3
#: A feed's state in ``feeds health``: fetched as expected; failing (its last fetch failed);
#: stale (no success within three intervals, e.g. no worker runs); new (not fetched yet, and
#: subscribed less than three intervals ago).
OK, FAILING, STALE, NEW = "ok", "failing", "stale", "new"


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
    state: str = OK

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    @property
    def healthy(self) -> bool:
        return self.state in (OK, NEW)

    def problem(self) -> str:
        """One line saying what is wrong with an unhealthy feed."""
        if self.state == FAILING:
            return (f"feed {self.name} is failing ({self.consecutive_failures} in a row since "
                    f"{self.last_error_at or '?'}): {self.last_error or 'unknown error'}")
        since = f"since {self.last_success}" if self.last_success else "ever"
        return (f"feed {self.name} is stale: not fetched successfully {since} (more than "
                f"{STALE_AFTER_INTERVALS} times its interval)")


def health(tracker: Tracker) -> list[FeedHealth]:
    """Per feed: what the log recorded (items, failures) beside the fetch schedule, and its
    state: failing, stale (see ``STALE_AFTER_INTERVALS``), new or ok."""
    from tracker.projections import PROJECTIONS
    from tracker.projector import Projector, load_docs

    Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up(["feeds"])
    recorded = dict(load_docs(tracker.engine, "feeds", order_by_sort=False))
    subs = subscriptions(tracker)
    with tracker.engine.connect() as conn:
        states = {row.name: row for row in conn.execute(sa.select(feed_state))}
    now = utc(tracker.now())

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
            items_recorded=int(doc.get("items_recorded", 0)),
            state=_state(sub, row, doc, now, failures)))
    return out


def _state(sub: Subscription, row: Any, doc: Mapping[str, Any], now: datetime,
           failures: int) -> str:
    """Failing, stale, new or ok. The interval counted is the feed's, or longer when the
    feed itself asked for that (RSS ttl, Retry-After, Cache-Control max-age)."""
    if failures:
        return FAILING
    interval = float(sub.every_seconds)
    success = utc(row.last_success_at) if row is not None and row.last_success_at else None
    if row is not None and row.ttl_minutes:
        interval = max(interval, row.ttl_minutes * 60.0)
    if success is not None and row.next_due_at is not None:
        interval = max(interval, (utc(row.next_due_at) - success).total_seconds())
    since = success
    if since is None and doc.get("subscribed_at"):
        since = utc(read_instant(str(doc["subscribed_at"])))
    if since is None:
        return NEW
    if (now - since).total_seconds() > STALE_AFTER_INTERVALS * interval:
        return STALE
    return OK if success is not None else NEW
