"""Loading what ``decide`` needs from the log, once per pass, then only what is new.

The first feed of a pass reads the stories of its matching window, and :data:`READ_MARGIN`
before it; later feeds read only the events appended since (on the writer's connection, under
the append lock, so two workers cannot create the same story), plus their own items' records by
id. The margin is what keeps that true: each feed's window starts at its own earliest item, and
without it every feed whose items went back a minute further read the whole window again. A
dry run folds in what it planned, so later feeds see it as they would have had it been
recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from tracker.events import NewEvent
from tracker.ingest.decide import STORY_WINDOW_DAYS, Plan, Prepared, item_ids
from tracker.ingest.known import STORY_IDENTITY_TYPES, Known
from tracker.store import EventStore

#: How much further back than its first feed needs a pass reads the stories.
READ_MARGIN = timedelta(days=STORY_WINDOW_DAYS)


class Knowledge:
    """``Known``, carried across the feeds (or reclassified items) of one pass."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.known = Known()
        self.since: datetime | None = None
        self.planned: list[NewEvent] = []

    def refresh(self, conn: sa.Connection, since: datetime) -> Known:
        """Stories seen from ``since`` on, up to the log's head as ``conn`` sees it."""
        head = self.store.head(conn=conn)
        if self.since is None or since < self.since:
            since -= READ_MARGIN
            found = self.store.read(types=STORY_IDENTITY_TYPES, occurred_since=since,
                                    until_position=head, conn=conn)
            self.known = Known().with_events(found, position=head).with_events(self.planned)
            self.since = since
        elif head > self.known.position:
            found = self.store.read(types=STORY_IDENTITY_TYPES, after=self.known.position,
                                    until_position=head, conn=conn)
            self.known = self.known.with_events(found, position=head)
        return self.known

    def for_feed(self, conn: sa.Connection, feed: str, prepared: list[Prepared]) -> Known:
        """What ``decide`` needs for ``prepared`` items of ``feed``."""
        if not prepared:
            return self.known
        earliest = min(p.item.published for p in prepared)
        known = self.refresh(conn, earliest - timedelta(days=STORY_WINDOW_DAYS))
        found = self.store.by_ids(item_ids(feed, prepared), conn=conn)
        return known.with_items({event_id: e.data for event_id, e in found.items()})

    def stored(self, conn: sa.Connection, plan: Plan) -> set[str]:
        """The ids of ``plan`` the log holds (or this dry run planned) already."""
        ids = plan.event_ids
        return set(self.store.by_ids(ids, conn=conn)) | (self.known.stored_ids & set(ids))

    def remember(self, plan: Plan) -> None:
        """Fold a dry run's plan in, as if it had been recorded."""
        planned = [event for _stream, event in plan.events]
        self.planned += planned
        self.known = self.known.with_events(planned)
